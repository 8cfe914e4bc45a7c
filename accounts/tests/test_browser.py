"""A full sign-in and sign-out in headless Chromium against the live portal and the emulator."""

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.sync import sync_users
from tests_support import oidc
from tests_support.browser import screenshot_path

User = get_user_model()

# Demo org groups that neither persona of the screenshot is a member of.
AWS_PRODUCTION_READ_ONLY = "00gt2BxT5PTSMnfxExxK"
AWS_STAGING = "00gxPjc5lPG8RQLtlsm1"
GROUP_IDS = (AWS_PRODUCTION_READ_ONLY, AWS_STAGING)


@pytest.fixture
def synced_directory(okta_settings, transactional_db):
    """Load users and the catalog, and give the manager's landing page something to show.

    It runs before the browser starts: the facade runs its own event loop, which cannot
    start inside Playwright's.
    """
    from access_requests.models import Resource
    from access_requests.services import submit_request, sync_catalog

    sync_users()
    sync_catalog()
    requestable = Resource.objects.filter(kind=Resource.Kind.GROUP, okta_id__in=GROUP_IDS)
    requestable.update(
        requestable=True, approval_policy=Resource.ApprovalPolicy.MANAGER, allow_no_end=True
    )
    for login, group_id in ((oidc.EMPLOYEE, AWS_PRODUCTION_READ_ONLY), (oidc.MANAGER, AWS_STAGING)):
        submit_request(
            User.objects.get(login=login),
            Resource.objects.get(okta_id=group_id),
            justification="Deploy and debug the staging environment.",
            ends_at=None,
        )


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
    waiting = page.locator("section[aria-labelledby=waiting-for-me]")
    assert "Fatima Haddad" in waiting.inner_text()
    assert "AWS Production ReadOnly" in waiting.inner_text()
    assert (
        "AWS Staging Developers"
        in page.locator("section[aria-labelledby=open-requests]").inner_text()
    )
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
