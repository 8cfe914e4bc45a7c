"""Project-wide pytest configuration.

Django settings run in test mode under pytest (PORTAL_ENV defaults to "test" when pytest is
imported; see portal/settings.py).
"""

# The Okta emulator's pytest plugin (fixture `okta_emulator`) and the shared sign-in fixtures
# (`okta_settings`, `sign_in`) are registered here:
pytest_plugins = ["okta_emulator.testing", "tests_support.fixtures"]
