"""Okta's limits in front of the API: 411 for a body-less write without Content-Length, and the
per-org limit on requests in flight (429 with X-Rate-Limit-Limit 0)."""

import http.client
import json
import threading
import time

import pytest

from .demo_org import ACTIVE_ID, EXPENSES_ID, OKTA_GROUP_ID

MEMBER_PATH = f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}"
SLOW_PATH = "/api/v1/groups"
SLOW_MS = 2000


def send_raw(org, method, path, headers=(), body=b""):
    """Send only the given headers, because http.client's request() would add Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", org.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Authorization", f"SSWS {org.api_token}")
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def member_ids(org):
    return {
        user["id"] for user in org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}/users").json()
    }


# --- 411 Length Required -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", MEMBER_PATH),
        ("POST", f"/api/v1/apps/{EXPENSES_ID}/users"),
        ("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/suspend"),
    ],
)
def test_write_without_length_gets_411(okta_org, method, path):
    status, headers, body = send_raw(okta_org, method, path)

    assert status == 411
    error = json.loads(body)
    assert error["errorCode"] == "E0000003"
    assert error["errorSummary"] == "Length Required"
    assert "Content-Length: 0" in error["errorCauses"][0]["errorSummary"]
    assert headers["X-Okta-Request-Id"]


def test_write_without_length_changes_nothing(okta_org):
    send_raw(okta_org, "PUT", MEMBER_PATH)

    assert ACTIVE_ID not in member_ids(okta_org)
    suspended = okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}").json()
    assert suspended["status"] == "ACTIVE"


def test_write_with_zero_length_accepted(okta_org):
    status, _headers, _body = send_raw(okta_org, "PUT", MEMBER_PATH, [("Content-Length", "0")])

    assert status == 204
    assert ACTIVE_ID in member_ids(okta_org)


def test_chunked_write_accepted(okta_org):
    status, _headers, _body = send_raw(
        okta_org, "PUT", MEMBER_PATH, [("Transfer-Encoding", "chunked")], b"0\r\n\r\n"
    )

    assert status == 204
    assert ACTIVE_ID in member_ids(okta_org)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("DELETE", MEMBER_PATH, 204),
        ("GET", f"/api/v1/users/{ACTIVE_ID}", 200),
        ("POST", "/_emulator/reset", 200),
    ],
)
def test_length_needed_only_for_api_writes(okta_org, method, path, expected):
    status, _headers, _body = send_raw(okta_org, method, path)

    assert status == expected


# --- concurrency limit -----------------------------------------------------------------------------


class SlowRequests:
    """Requests to SLOW_PATH that each hold a slot for SLOW_MS, sent from background threads."""

    def __init__(self, org, count):
        self.statuses = []
        self._threads = [
            threading.Thread(
                target=lambda: self.statuses.append(org.request("GET", SLOW_PATH).status)
            )
            for _ in range(count)
        ]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        # Long enough for the requests to reach the emulator, far shorter than SLOW_MS.
        time.sleep(0.5)
        return self

    def __exit__(self, *exc_info):
        for thread in self._threads:
            thread.join(timeout=15)


@pytest.fixture
def limited_org(okta_org):
    okta_org.set_rate_limits(concurrency_limit=2)
    okta_org.set_fault(SLOW_PATH, latency_ms=SLOW_MS, methods=["GET"])
    return okta_org


def test_request_over_concurrency_limit_gets_429(limited_org):
    with SlowRequests(limited_org, 2) as slow:
        before = time.time()
        response = limited_org.request("GET", f"/api/v1/users/{ACTIVE_ID}")

    assert slow.statuses == [200, 200]
    assert response.status == 429
    body = response.json()
    assert body["errorCode"] == "E0000047"
    assert body["errorId"].startswith("oae")
    assert response.headers["X-Rate-Limit-Limit"] == "0"
    assert response.headers["X-Rate-Limit-Remaining"] == "0"
    assert before < int(response.headers["X-Rate-Limit-Reset"]) <= before + 5
    assert response.headers["Date"]
    assert response.headers["X-Okta-Request-Id"]


def test_request_under_concurrency_limit_passes(limited_org):
    with SlowRequests(limited_org, 1):
        response = limited_org.request("GET", f"/api/v1/users/{ACTIVE_ID}")

    assert response.status == 200


def test_finished_requests_free_their_slots(limited_org):
    with SlowRequests(limited_org, 2):
        pass

    statuses = [limited_org.request("GET", f"/api/v1/users/{ACTIVE_ID}").status for _ in range(5)]
    assert statuses == [200] * 5


def test_failed_and_dropped_requests_free_their_slots(okta_org):
    okta_org.set_rate_limits(concurrency_limit=1)
    okta_org.set_fault("/api/v1/apps", status=500)
    okta_org.set_fault("/api/v1/users/*", drop=True, methods=["GET"])
    failures = [okta_org.request("GET", "/api/v1/apps").status for _ in range(3)]
    for _ in range(3):
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            send_raw(okta_org, "GET", f"/api/v1/users/{ACTIVE_ID}")

    assert failures == [500] * 3
    assert okta_org.request("GET", "/api/v1/groups").status == 200


def test_oauth_path_over_concurrency_limit_gets_oauth_error(limited_org):
    with SlowRequests(limited_org, 2):
        response = limited_org.request(
            "GET", "/oauth2/default/.well-known/openid-configuration", token=False
        )

    assert response.status == 429
    assert response.json()["error"] == "too_many_requests"
    assert response.headers["X-Rate-Limit-Limit"] == "0"


def test_admin_endpoints_ignore_concurrency_limit(limited_org):
    with SlowRequests(limited_org, 2):
        response = limited_org.request("GET", "/_emulator/status")

    assert response.status == 200
    assert response.json()["rate_limits"]["concurrency_limit"] == 2


def test_disabled_rate_limits_lift_concurrency_limit(limited_org):
    limited_org.set_rate_limits(enabled=False)

    with SlowRequests(limited_org, 2):
        response = limited_org.request("GET", f"/api/v1/users/{ACTIVE_ID}")

    assert response.status == 200


def test_concurrency_limit_defaults_to_75_after_reset(okta_org):
    okta_org.set_rate_limits(concurrency_limit=3)
    okta_org.reset()

    assert okta_org.request("GET", "/_emulator/rate-limits").json()["concurrency_limit"] == 75


@pytest.mark.parametrize("value", [0, -1, 2.5, "10", True])
def test_invalid_concurrency_limit_rejected(okta_org, value):
    response = okta_org.request("PUT", "/_emulator/rate-limits", {"concurrency_limit": value})

    assert response.status == 400
    cause = response.json()["errorCauses"][0]["errorSummary"]
    assert "concurrency_limit must be a positive integer" in cause
