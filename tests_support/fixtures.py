"""pytest fixtures for tests that sign in through the Okta emulator.

- `okta_settings`: points the portal's Okta settings (OIDC endpoints, Management API org URL
  and token) at the test session's emulator, reset to the demo org for this test.
- `sign_in`: a function `sign_in(login, client=None, next_url=None, password=...)` that signs
  a demo user in for real on the test client and returns the callback's response.
"""

from __future__ import annotations

import pytest

from portal import okta_api
from tests_support import oidc


def point_settings_at(settings, emulator) -> None:
    issuer = emulator.issuer
    settings.OKTA_ORG_URL = emulator.url
    settings.OKTA_ISSUER = issuer
    settings.OKTA_API_TOKEN = emulator.api_token
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{issuer}/v1/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{issuer}/v1/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{issuer}/v1/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{issuer}/v1/keys"


@pytest.fixture
def okta_settings(okta_org, settings):
    """Return the emulator (reset for this test) after pointing the portal's settings at it."""
    point_settings_at(settings, okta_org)
    # The facade updates the rate budget from a worker thread with its own database
    # connection. With the default database cache on SQLite that thread would wait for the
    # write lock held by the test's transaction, so these tests keep the budget in memory.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The facade client is cached per process and bound to the org URL it was built with.
    okta_api.get_client.cache_clear()
    yield okta_org
    okta_api.get_client.cache_clear()


@pytest.fixture
def sign_in(okta_settings, client, db):
    def sign_in(login, *, client=client, next_url=None, password=oidc.DEMO_PASSWORD, browser=None):
        return oidc.sign_in(
            client,
            okta_settings.issuer,
            login,
            password=password,
            next_url=next_url,
            browser=browser,
        )

    return sign_in
