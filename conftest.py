"""Project-wide pytest configuration.

Django settings run in test mode under pytest (PORTAL_ENV defaults to "test" when pytest is
imported; see portal/settings.py).
"""

import os

import pytest

# The Okta emulator's pytest plugin (fixture `okta_emulator`) and the shared sign-in fixtures
# (`okta_settings`, `sign_in`, and the browser's `portal_live_url` and `browser_page`) are
# registered here:
pytest_plugins = ["okta_emulator.testing", "tests_support.fixtures", "tests_support.browser"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Give SQLite test runs a database file instead of Django's in-memory default.

    Tests that provision run a real Celery worker process, which must see the test database.
    The file name carries the process id, so two test runs in one checkout do not share it.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        test_name = str(settings.VAR_DIR / f"test-{os.getpid()}.sqlite3")
        database.setdefault("TEST", {})["NAME"] = test_name
