"""Fault injection through the admin endpoint and the CLI."""

import http.client
import json
import subprocess
import sys
import time

import pytest

from .demo_org import ACTIVE_ID, OKTA_GROUP_ID

MEMBER_PATH = f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}"


@pytest.mark.parametrize(
    ("status", "code"), [(500, "E0000009"), (503, "E0000010"), (401, "E0000011"), (404, "E0000007")]
)
def test_status_fault_returns_okta_error(okta_org, status, code):
    okta_org.set_fault("/api/v1/groups/*/users/*", status=status)
    response = okta_org.request("PUT", MEMBER_PATH)
    assert response.status == status
    assert response.json()["errorCode"] == code
    assert response.headers["X-Okta-Request-Id"]


def test_fault_leaves_other_paths_alone(okta_org):
    okta_org.set_fault("/api/v1/groups/*/users/*", status=500)
    assert okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}").status == 200


def test_failed_write_changes_nothing(okta_org):
    okta_org.set_fault("/api/v1/groups/*/users/*", status=503, methods=["PUT"])
    okta_org.request("PUT", MEMBER_PATH)
    members = okta_org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}/users").json()
    assert ACTIVE_ID not in [user["id"] for user in members]


def test_429_fault_has_retry_headers(okta_org):
    okta_org.set_fault("/api/v1/users/*", status=429)
    response = okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}")
    assert response.status == 429
    assert response.json()["errorCode"] == "E0000047"
    assert response.headers["Date"]
    assert int(response.headers["X-Rate-Limit-Reset"]) >= int(time.time())


def test_oauth_path_fault_uses_oauth_error(okta_org):
    okta_org.set_fault("/oauth2/default/v1/userinfo", status=401)
    response = okta_org.request("GET", "/oauth2/default/v1/userinfo", token=False)
    assert response.status == 401
    assert response.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_dropped_connection(okta_org):
    okta_org.set_fault("/api/v1/users/*", drop=True)
    connection = http.client.HTTPConnection("127.0.0.1", okta_org.port, timeout=5)
    connection.request(
        "GET", f"/api/v1/users/{ACTIVE_ID}", headers={"Authorization": f"SSWS {okta_org.api_token}"}
    )
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()
    connection.close()


def test_latency_fault_delays(okta_org):
    okta_org.set_fault("/api/v1/groups", latency_ms=300)
    started = time.monotonic()
    response = okta_org.request("GET", "/api/v1/groups")
    assert response.status == 200
    assert time.monotonic() - started >= 0.3


def test_fraction_fails_about_that_share(okta_org):
    okta_org.set_fault("/api/v1/groups/*", status=500, fraction=0.5)
    statuses = [
        okta_org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}").status for _ in range(200)
    ]
    failures = statuses.count(500)
    # Binomial(200, 0.5): outside 60..140 has a probability far below one in a million.
    assert 60 <= failures <= 140
    assert failures + statuses.count(200) == 200


def test_count_limits_injected_failures(okta_org):
    okta_org.set_fault("/api/v1/groups/*", status=503, count=2)
    statuses = [okta_org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}").status for _ in range(4)]
    assert statuses == [503, 503, 200, 200]


def test_method_filter(okta_org):
    okta_org.set_fault("/api/v1/groups/*/users/*", status=500, methods=["DELETE"])
    assert okta_org.request("PUT", MEMBER_PATH).status == 204
    assert okta_org.request("DELETE", MEMBER_PATH).status == 500


def test_invalid_rule_rejected_with_reason(okta_org):
    response = okta_org.request(
        "POST", "/_emulator/faults", {"path": "/api/v1/users", "status": 200}
    )
    assert response.status == 400
    assert (
        "status must be an HTTP error status" in response.json()["errorCauses"][0]["errorSummary"]
    )


def test_reset_clears_faults(okta_org):
    okta_org.set_fault("/api/v1/groups", status=500)
    okta_org.reset()
    assert okta_org.request("GET", "/api/v1/groups").status == 200


def test_faults_off_by_default(okta_org):
    assert okta_org.request("GET", "/_emulator/faults").json()["rules"] == []


def run_cli(okta_org, *args):
    command = [
        sys.executable,
        "-m",
        "okta_emulator",
        "faults",
        "--url",
        okta_org.url,
        "--token",
        okta_org.api_token,
    ]
    completed = subprocess.run(command + list(args), capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_cli_adds_lists_and_clears(okta_org):
    added = run_cli(
        okta_org, "add", "--path", "/api/v1/apps*", "--status", "503", "--fraction", "1"
    )
    listed = run_cli(okta_org, "list")
    failing = okta_org.request("GET", "/api/v1/apps").status
    cleared = run_cli(okta_org, "clear")
    assert added["status"] == 503
    assert [rule["path"] for rule in listed["rules"]] == ["/api/v1/apps*"]
    assert failing == 503
    assert cleared["rules"] == []


def test_cli_reports_unreachable_emulator(okta_org):
    command = [
        sys.executable,
        "-m",
        "okta_emulator",
        "faults",
        "--url",
        "http://127.0.0.1:9",
        "list",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "cannot reach the emulator" in completed.stderr
