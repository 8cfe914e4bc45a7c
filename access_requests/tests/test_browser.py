"""End to end in Chromium, for a group and for an app.

An employee signs in through the Okta emulator and requests the resource. Their manager signs
in and approves in the inbox. A real Celery worker process applies the change in the emulator,
and the employee's page shows it applied without a reload.

The portal runs in pytest-django's live server. Its port is only known once it runs, so this
module starts an emulator of its own whose portal client lists that port among its redirect
URIs (the shared session emulator registers port 8000 only).

With UPDATE_SCREENSHOTS=1 the test saves the catalog, request page and inbox under
docs/screenshots/.
"""

import os
from pathlib import Path

import pytest
import yaml
from django.core.cache import cache
from playwright.sync_api import Page, expect, sync_playwright

from access_requests import services
from access_requests.models import Resource
from access_requests.tests.conftest import REPO, Worker
from accounts import sync
from okta_emulator.testing import start_emulator
from portal import okta_api
from tests_support.fixtures import point_settings_at
from tests_support.oidc import DEMO_PASSWORD, EMPLOYEE, MANAGER

# Each test starts a worker and two browser sessions and waits for polling, so it needs more
# than the suite's default timeout on a busy machine.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DEMO_ORG = REPO / "okta_emulator" / "orgs" / "demo.yaml"
SCREENSHOTS = REPO / "docs" / "screenshots"
PORTAL_CLIENT_ID = "0oaportaldemo0000001"

# Neither the employee nor anyone in the demo org's seed has these yet.
GROUP_NAME = "Design Tools"
APP_NAME = "Workday"

# The worker polls the broker and the page polls every 3 s; both finish well within this.
APPLIED_TIMEOUT_MS = 60_000


def seed_with_portal_at(live_server_url: str, directory: Path) -> Path:
    """Write the demo org with the live server's URLs added to the portal client."""
    org = yaml.safe_load(DEMO_ORG.read_text())
    port = live_server_url.rsplit(":", 1)[1]
    client = next(c for c in org["oidc_clients"] if c["client_id"] == PORTAL_CLIENT_ID)
    for host in ("localhost", "127.0.0.1"):
        client["redirect_uris"].append(f"http://{host}:{port}/oidc/callback/")
        client["post_logout_redirect_uris"].append(f"http://{host}:{port}/")
    path = directory / "org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def browser_emulator(live_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("browser_emulator")
    emulator = start_emulator(directory, seed_with_portal_at(live_server.url, directory))
    yield emulator
    emulator.stop()


@pytest.fixture
def portal(browser_emulator, settings, monkeypatch, worker_queue, tmp_path, live_server):
    """The live portal pointed at the emulator, its directory and catalog synced, and a worker
    process consuming this test's queue."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still
    # synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    browser_emulator.reset()
    point_settings_at(settings, browser_emulator)
    okta_api.get_client.cache_clear()
    cache.clear()

    sync.sync_users()
    services.sync_catalog()
    Resource.objects.filter(name__in=[GROUP_NAME, APP_NAME]).update(
        requestable=True,
        approval_policy=Resource.ApprovalPolicy.MANAGER,
        justification_required=True,
        max_duration_days=90,
    )

    worker = Worker(browser_emulator, worker_queue, tmp_path, concurrency=1, environment={})
    worker.start()
    yield live_server.url
    worker.stop()
    print(worker.logs()[-20000:])
    okta_api.get_client.cache_clear()


@pytest.fixture
def chromium():
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


def screenshot(page: Page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def request_through_catalog(page: Page, name: str, *, take_screenshots: bool) -> None:
    term = name.split()[0]
    page.get_by_label("Search by name or description").fill(term)
    results = page.locator("#catalog-results")
    # The count line changes when htmx has swapped in the filtered results.
    expect(results.get_by_role("status")).to_contain_text(f"for “{term}”")
    expect(results.get_by_role("link", name=name, exact=True)).to_be_visible()
    if take_screenshots:
        screenshot(page, "catalog")
    results.get_by_role("link", name=name, exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    page.get_by_label("Justification (required)").fill("I take over the design reviews.")
    page.get_by_label("30 days").check()
    if take_screenshots:
        screenshot(page, "request")
    page.get_by_role("button", name="Request access").click()
    expect(page.locator("[data-progress]")).to_have_attribute("data-progress", "waiting")


def approve_in_inbox(page: Page, resource_name: str, *, take_screenshots: bool) -> None:
    card = page.locator("article", has_text=f"asks for {resource_name}")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Engineering")
    if take_screenshots:
        screenshot(page, "inbox")
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(card).to_contain_text("You approved this request.")


def run_flow(chromium, portal_url, resource_name: str, *, take_screenshots: bool) -> None:
    employee = signed_in_page(chromium, portal_url, EMPLOYEE, "/catalog/")
    request_through_catalog(employee, resource_name, take_screenshots=take_screenshots)

    manager = signed_in_page(chromium, portal_url, MANAGER, "/inbox/")
    approve_in_inbox(manager, resource_name, take_screenshots=take_screenshots)

    # The employee's request page polls its status; no reload happens here.
    expect(employee.locator("[data-progress]")).to_have_attribute(
        "data-progress", "applied", timeout=APPLIED_TIMEOUT_MS
    )
    expect(employee.locator("#request-status")).to_contain_text("Applied in Okta")
    expect(employee.locator("#request-status")).not_to_have_attribute("hx-trigger", "every 3s")


def okta_user_id(emulator, login: str) -> str:
    response = emulator.request("GET", f"/api/v1/users/{login}")
    assert response.status == 200, response
    return response.json()["id"]


def test_group_request_applied_end_to_end(portal, browser_emulator, chromium):
    group = Resource.objects.get(name=GROUP_NAME)
    employee_id = okta_user_id(browser_emulator, EMPLOYEE)

    run_flow(chromium, portal, GROUP_NAME, take_screenshots=True)

    members = browser_emulator.request("GET", f"/api/v1/groups/{group.okta_id}/users")
    assert members.status == 200
    assert employee_id in [member["id"] for member in members.json()]


def test_app_request_applied_end_to_end(portal, browser_emulator, chromium):
    app = Resource.objects.get(name=APP_NAME)
    employee_id = okta_user_id(browser_emulator, EMPLOYEE)

    run_flow(chromium, portal, APP_NAME, take_screenshots=False)

    assignment = browser_emulator.request("GET", f"/api/v1/apps/{app.okta_id}/users/{employee_id}")
    assert assignment.status == 200, assignment
