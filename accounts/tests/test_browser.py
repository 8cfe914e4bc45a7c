"""A full sign-in and sign-out in headless Chromium against the live portal and the emulator."""

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.sync import sync_users
from tests_support import oidc
from tests_support.browser import screenshot_path

User = get_user_model()


@pytest.fixture
def synced_directory(okta_settings, transactional_db):
    # Before the browser starts: the facade runs its own event loop, which cannot start
    # inside Playwright's.
    sync_users()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_browser_sign_in_and_sign_out(
    portal_live_url, okta_settings, synced_directory, browser_page, tmp_path
):
    page = browser_page
    console_errors = []

    def record_portal_error(message) -> None:
        # CSP violations and failed loads on the portal's pages; the emulator's are not ours.
        url = message.location.get("url", "")
        if message.type == "error" and url.startswith(portal_live_url):
            console_errors.append(f"{url}: {message.text}")

    page.on("console", record_portal_error)

    page.goto(f"{portal_live_url}/")
    assert page.url.startswith(f"{okta_settings.issuer}/v1/authorize")
    page.fill("#username", oidc.MANAGER)
    page.fill("#password", oidc.DEMO_PASSWORD)
    page.click("button[type=submit]")

    page.wait_for_url(f"{portal_live_url}/")
    assert page.locator("h1").inner_text() == "Welcome, Priya"
    assert page.get_by_role("heading", name="Approvals waiting for me").is_visible()
    page.screenshot(path=str(screenshot_path("landing.png", tmp_path)), full_page=True)
    assert console_errors == []

    page.click("text=My profile")
    page.wait_for_url(f"{portal_live_url}/accounts/profile/")
    assert "Jordan Blake" in page.content()

    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(re.escape(f"{okta_settings.issuer}/v1/authorize") + ".*"))
    assert page.locator("#password").is_visible()
    assert console_errors == []

    page.go_back()
    assert "Jordan Blake" not in page.content()
    assert "Welcome, Priya" not in page.content()
