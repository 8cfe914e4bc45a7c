"""`manage.py register_event_hook` against the emulator, which verifies hooks on a live portal."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from access_requests.management.commands.register_event_hook import wait_for_endpoint
from okta_emulator.testing import free_port

SECRET = "hook-secret-for-tests"


@pytest.fixture
def hook_org(okta_settings, settings, transactional_db):
    """The test emulator with no event hooks, and the portal's hook secret set."""
    settings.PORTAL_EVENT_HOOK_SECRET = SECRET
    settings.PORTAL_EVENT_HOOK_HEADER = "Authorization"
    return okta_settings


def register(*args: str) -> str:
    output = StringIO()
    call_command("register_event_hook", *args, stdout=output)
    return output.getvalue()


def hooks(okta_org) -> list[dict]:
    return okta_org.request("GET", "/api/v1/eventHooks").json()


def test_second_registration_reuses_the_hook(hook_org, live_server):
    url = live_server.url + reverse("access_requests:okta_event_hook")

    first_output = register("--url", url)
    second_output = register("--url", url)

    (hook,) = hooks(hook_org)
    assert hook["channel"]["config"]["uri"] == url
    assert hook["verificationStatus"] == "VERIFIED"
    assert f"Created event hook {hook['id']}" in first_output
    assert f"Event hook {hook['id']} already calls {url}" in second_output
    assert "VERIFIED" in second_output


def test_wait_registers_a_running_portal(hook_org, live_server):
    url = live_server.url + reverse("access_requests:okta_event_hook")

    output = register("--url", url, "--wait", "10")

    (hook,) = hooks(hook_org)
    assert hook["verificationStatus"] == "VERIFIED"
    assert f"Created event hook {hook['id']}" in output


def test_wait_times_out_without_a_portal(hook_org):
    url = f"http://127.0.0.1:{free_port()}/hooks/okta/"
    started = time.monotonic()

    with pytest.raises(CommandError) as raised:
        register("--url", url, "--wait", "1")

    message = str(raised.value)
    assert f"The hook endpoint {url} did not respond within 1 s" in message
    assert "run this command again" in message
    assert time.monotonic() - started >= 1
    assert hooks(hook_org) == []


class Unauthorized(BaseHTTPRequestHandler):
    """Handler that returns 401 for every GET, as the hook endpoint does without the secret."""

    def do_GET(self):
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_wait_returns_once_a_late_server_responds():
    port = free_port()
    delay_seconds = 1.5
    servers = []
    serving = threading.Event()

    def serve_later():
        time.sleep(delay_seconds)
        server = ThreadingHTTPServer(("127.0.0.1", port), Unauthorized)
        servers.append(server)
        serving.set()
        server.serve_forever()

    thread = threading.Thread(target=serve_later, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        wait_for_endpoint(f"http://127.0.0.1:{port}/hooks/okta/", timeout=15)
        elapsed = time.monotonic() - started
    finally:
        serving.wait(timeout=delay_seconds + 5)
        for server in servers:
            server.shutdown()
            server.server_close()
        thread.join(timeout=5)

    assert elapsed >= delay_seconds
    assert elapsed < 10
