"""Playwright fixtures for browser tests against the live portal and the Okta emulator.

- `portal_live_url`: the URL of pytest-django's live server, with its callback and
  post-logout URIs registered for the portal's client in the emulator (reset per test).
- `browser_page`: a fresh page in headless Chromium (the system's /usr/bin/chromium).

Playwright's sync API runs an event loop in the test's thread. Django's ORM takes that for
async code and refuses to run, so `browser_page` allows synchronous ORM calls in its tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from okta_emulator.oidc.testing import PORTAL_CLIENT_ID

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def portal_live_url(live_server, okta_settings) -> str:
    url = live_server.url
    response = okta_settings.request(
        "POST",
        f"/_emulator/oidc/clients/{PORTAL_CLIENT_ID}/redirect-uris",
        {"redirectUris": [f"{url}/oidc/callback/"], "postLogoutRedirectUris": [f"{url}/"]},
    )
    assert response.status == 200, response
    return url


@pytest.fixture
def browser_page(django_db_setup, monkeypatch):
    """Yield a page of a fresh headless Chromium, closed after the test.

    Playwright starts after the test database exists and stops before it is torn down,
    because its event loop makes Django refuse ORM calls from this thread while it runs.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; set PLAYWRIGHT_CHROMIUM to its path")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def screenshot_path(name: str, tmp_path: Path) -> Path:
    """Return where to save a screenshot: docs/screenshots/ when UPDATE_SCREENSHOTS=1.

    Normal runs write to the test's tmp_path, so the suite leaves the git tree clean.
    """
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        folder = REPO_ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name
    return tmp_path / name
