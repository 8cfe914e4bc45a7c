"""End to end in Chromium, for a group and for an app.

An employee signs in through the Okta emulator and requests the resource. Their manager signs
in and approves in the inbox. A real Celery worker process applies the change in the emulator,
and the employee's page shows it applied without a reload.

The portal runs in pytest-django's live server, whose URLs the `portal_live_url` fixture
registers with the session's emulator.

With UPDATE_SCREENSHOTS=1 the test saves the catalog, request page and inbox under
docs/screenshots/.
"""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from access_requests import services
from access_requests.models import Resource
from accounts import sync
from portal import okta_api
from tests_support.browser import CHROMIUM, CHROMIUM_ARGS, screenshot_path
from tests_support.fixtures import point_settings_at
from tests_support.oidc import DEMO_PASSWORD, EMPLOYEE, MANAGER

# Each test starts a worker and two browser sessions and waits for polling, so it needs more
# than the suite's default timeout on a busy machine.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

# The employee has neither in the demo org's seed, directly or through a group. (Workday, for
# example, is assigned to a group the employee is in, so the portal rejects a request for it.)
GROUP_NAME = "Design Tools"
APP_NAME = "Salesforce"

# The worker polls the broker and the page polls every 3 s; both finish well within this.
APPLIED_TIMEOUT_MS = 60_000
# The request page's polling interval (hx-trigger="every 3s").
POLL_INTERVAL_MS = 3_000


@pytest.fixture
def portal(okta_settings, settings, portal_live_url, provisioning_worker) -> str:
    """Return the live portal's URL, with sign-in pointed at the emulator, the directory and
    catalog synced, and a worker process consuming this test's queue."""
    point_settings_at(settings, okta_settings)
    okta_api.get_client.cache_clear()
    sync.sync_users()
    services.sync_catalog()
    Resource.objects.filter(name__in=[GROUP_NAME, APP_NAME]).update(
        requestable=True,
        approval_policy=Resource.ApprovalPolicy.MANAGER,
        justification_required=True,
        max_duration_days=90,
    )
    return portal_live_url


@pytest.fixture
def chromium(django_db_setup, monkeypatch):
    """Yield a headless Chromium; each persona opens a context of its own in it."""
    # Playwright's sync API runs an event loop in this thread, which Django would take for
    # async code; the ORM calls in these tests stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def signed_in_page(chromium, portal_url: str, login: str, start: str) -> Page:
    """Open `start` in a fresh browser context and sign in through the emulator's form."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(portal_url + start)
    page.fill("#username", login)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_url}{start}*")
    return page


def screenshot(page: Page, name: str, screenshot_dir: Path) -> None:
    """Save a full-page screenshot to docs/screenshots/ with UPDATE_SCREENSHOTS=1, else to
    `screenshot_dir`, so normal runs leave the git tree clean."""
    page.screenshot(path=str(screenshot_path(f"{name}.png", screenshot_dir)), full_page=True)


def request_through_catalog(page: Page, name: str, *, screenshot_dir: Path | None) -> None:
    term = name.split()[0]
    page.get_by_label("Search by name or description").fill(term)
    results = page.locator("#catalog-results")
    # The count line changes when htmx has swapped in the filtered results.
    expect(results.get_by_role("status")).to_contain_text(f"for “{term}”")
    expect(results.get_by_role("link", name=name, exact=True)).to_be_visible()
    if screenshot_dir:
        screenshot(page, "catalog", screenshot_dir)
    results.get_by_role("link", name=name, exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    page.get_by_label("Justification (required)").fill("I take over the design reviews.")
    page.get_by_label("30 days").check()
    if screenshot_dir:
        screenshot(page, "request", screenshot_dir)
    page.get_by_role("button", name="Request access").click()
    expect(page.locator("[data-progress]")).to_have_attribute("data-progress", "waiting")


def approve_in_inbox(page: Page, resource_name: str, *, screenshot_dir: Path | None) -> None:
    card = page.locator("article", has_text=f"asks for {resource_name}")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Engineering")
    if screenshot_dir:
        screenshot(page, "inbox", screenshot_dir)
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(card).to_contain_text("You approved this request.")


def run_flow(chromium, portal_url, resource_name: str, *, screenshot_dir: Path | None) -> None:
    employee = signed_in_page(chromium, portal_url, EMPLOYEE, "/catalog/")
    request_through_catalog(employee, resource_name, screenshot_dir=screenshot_dir)

    manager = signed_in_page(chromium, portal_url, MANAGER, "/inbox/")
    approve_in_inbox(manager, resource_name, screenshot_dir=screenshot_dir)

    # The employee's request page polls its status; no reload happens here.
    polls = []
    employee.on(
        "request", lambda request: polls.append(request.url) if "/status/" in request.url else None
    )
    expect(employee.locator("[data-progress]")).to_have_attribute(
        "data-progress", "applied", timeout=APPLIED_TIMEOUT_MS
    )
    expect(employee.locator("#request-status")).to_contain_text("Applied in Okta")
    assert polls, "the status was never polled"

    # A settled status stops the polling: no request goes out for longer than one interval.
    polls_when_applied = len(polls)
    employee.wait_for_timeout(POLL_INTERVAL_MS + 1500)
    assert len(polls) == polls_when_applied


def okta_user_id(emulator, login: str) -> str:
    response = emulator.request("GET", f"/api/v1/users/{login}")
    assert response.status == 200, response
    return response.json()["id"]


def test_group_request_applied_end_to_end(portal, okta_org, chromium, tmp_path):
    group = Resource.objects.get(name=GROUP_NAME)
    employee_id = okta_user_id(okta_org, EMPLOYEE)

    run_flow(chromium, portal, GROUP_NAME, screenshot_dir=tmp_path)

    members = okta_org.request("GET", f"/api/v1/groups/{group.okta_id}/users")
    assert members.status == 200
    assert employee_id in [member["id"] for member in members.json()]


def test_app_request_applied_end_to_end(portal, okta_org, chromium):
    app = Resource.objects.get(name=APP_NAME)
    employee_id = okta_user_id(okta_org, EMPLOYEE)

    run_flow(chromium, portal, APP_NAME, screenshot_dir=None)

    assignment = okta_org.request("GET", f"/api/v1/apps/{app.okta_id}/users/{employee_id}")
    assert assignment.status == 200, assignment
