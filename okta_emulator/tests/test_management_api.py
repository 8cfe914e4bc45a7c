"""Wire behaviour of the Management API over plain HTTP: auth, errors, paging, headers, rules."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from .demo_org import (
    ACTIVE_ID,
    ACTIVE_LOGIN,
    APP_GROUP_ID,
    DEPROVISIONED_ID,
    EVERYONE_ID,
    EXPENSES_ID,
    GRAFANA_ID,
    OKTA_GROUP_ID,
    STAGED_ID,
    SUSPENDED_ID,
)

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(response):
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def after_of(url):
    return parse_qs(urlsplit(url).query)["after"][0]


def assert_okta_error(response, status, code):
    assert response.status == status, response.body[:300]
    body = response.json()
    assert body["errorCode"] == code
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
    assert body["errorId"].startswith("oae")


def test_token_with_space_accepted(okta_org):
    response = okta_org.request(
        "GET", f"/api/v1/users/{ACTIVE_ID}", headers={"Authorization": f"SSWS {okta_org.api_token}"}
    )
    assert response.status == 200


def test_token_without_space_accepted(okta_org):
    response = okta_org.request(
        "GET", f"/api/v1/users/{ACTIVE_ID}", headers={"Authorization": f"SSWS{okta_org.api_token}"}
    )
    assert response.status == 200


@pytest.mark.parametrize("header", ["SSWS wrong-token", "Bearer something", ""])
def test_bad_token_gets_e0000011(okta_org, header):
    response = okta_org.request(
        "GET", "/api/v1/users", token=False, headers={"Authorization": header} if header else {}
    )
    assert_okta_error(response, 401, "E0000011")


def test_every_response_has_request_id(okta_org):
    ok = okta_org.request("GET", "/api/v1/groups")
    missing = okta_org.request("GET", "/api/v1/users/00unotthere000000000")
    assert re.fullmatch(r"[A-Za-z0-9]{26}", ok.headers["X-Okta-Request-Id"])
    assert missing.headers["X-Okta-Request-Id"]
    assert ok.headers["X-Okta-Request-Id"] != missing.headers["X-Okta-Request-Id"]


def test_missing_user_gets_okta_404_text(okta_org):
    response = okta_org.request("GET", "/api/v1/users/00unotthere000000000")
    assert_okta_error(response, 404, "E0000007")
    assert (
        response.json()["errorSummary"]
        == "Not found: Resource not found: 00unotthere000000000 (User)"
    )


def test_user_found_by_login_case_insensitively(okta_org):
    response = okta_org.request("GET", f"/api/v1/users/{ACTIVE_LOGIN.upper()}")
    assert response.status == 200
    assert response.json()["id"] == ACTIVE_ID


def test_rate_limit_headers_on_every_response(okta_org):
    for path in (
        f"/api/v1/users/{ACTIVE_ID}",
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/apps",
        "/api/v1/logs",
    ):
        response = okta_org.request("GET", path)
        assert response.status == 200
        for header in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
            assert response.headers[header].isdigit(), (path, header)


def test_buckets_use_half_of_published_limits(okta_org):
    expected = {
        f"/api/v1/users/{ACTIVE_ID}": 1000,
        "/api/v1/users": 300,
        "/api/v1/groups": 250,
        "/api/v1/apps": 50,
        "/api/v1/logs": 60,
    }
    for path, limit in expected.items():
        assert okta_org.request("GET", path).headers["X-Rate-Limit-Limit"] == str(limit), path


def test_rate_limit_exceeded_gets_429_with_date(okta_org):
    # The API token may use half of the bucket: 3 of 6.
    okta_org.set_rate_limits(window_seconds=30, limits={"groups": 6})
    statuses = [okta_org.request("GET", "/api/v1/groups").status for _ in range(3)]
    response = okta_org.request("GET", "/api/v1/groups")
    assert statuses == [200, 200, 200]
    assert_okta_error(response, 429, "E0000047")
    assert response.headers["Date"]
    assert response.headers["X-Rate-Limit-Remaining"] == "0"
    assert int(response.headers["X-Rate-Limit-Reset"]) > 0


def test_users_list_pages_with_opaque_cursor(okta_org):
    seen = []
    path = "/api/v1/users?limit=20"
    pages = 0
    while path:
        response = okta_org.request("GET", path)
        assert response.status == 200
        assert len(response.headers.get_all("Link")) == 1
        seen += [user["id"] for user in response.json()]
        pages += 1
        next_url = links(response).get("next")
        if next_url:
            assert not after_of(next_url).startswith("00u")
        path = next_url and next_url[len(okta_org.url) :]
    assert pages == 3
    assert len(seen) == len(set(seen))
    assert DEPROVISIONED_ID not in seen
    assert SUSPENDED_ID in seen


def test_invalid_cursor_rejected(okta_org):
    response = okta_org.request("GET", "/api/v1/users?after=not*a*cursor")
    assert_okta_error(response, 400, "E0000001")


@pytest.mark.parametrize("limit", ["abc", "0", "-5"])
def test_invalid_limit_rejected(okta_org, limit):
    response = okta_org.request("GET", f"/api/v1/users?limit={limit}")
    assert_okta_error(response, 400, "E0000001")
    assert "limit" in response.json()["errorCauses"][0]["errorSummary"]


def test_search_includes_deprovisioned(okta_org):
    response = okta_org.request("GET", '/api/v1/users?search=status+eq+"DEPROVISIONED"')
    ids = [user["id"] for user in response.json()]
    assert DEPROVISIONED_ID in ids
    assert all(user["status"] == "DEPROVISIONED" for user in response.json())


def test_search_by_profile_and_manager(okta_org):
    manager_id = okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}").json()["profile"][
        "managerId"
    ]
    response = okta_org.request(
        "GET", f'/api/v1/users?search=profile.managerId+eq+"{manager_id}"+and+status+eq+"ACTIVE"'
    )
    reports = response.json()
    assert ACTIVE_ID in [user["id"] for user in reports]
    assert all(user["profile"]["managerId"] == manager_id for user in reports)


def test_search_with_filter_gets_e0000033(okta_org):
    response = okta_org.request(
        "GET", '/api/v1/users?search=status+eq+"ACTIVE"&filter=status+eq+"ACTIVE"'
    )
    assert_okta_error(response, 400, "E0000033")


def test_malformed_search_gets_clear_error(okta_org):
    response = okta_org.request("GET", '/api/v1/users?search=profile.department+equals+"Sales"')
    assert_okta_error(response, 400, "E0000031")
    assert "operator" in response.json()["errorCauses"][0]["errorSummary"]


def test_filter_rejects_unsupported_attribute(okta_org):
    response = okta_org.request("GET", '/api/v1/users?filter=profile.department+eq+"Sales"')
    assert_okta_error(response, 400, "E0000031")


def test_filter_on_last_updated(okta_org):
    response = okta_org.request(
        "GET", '/api/v1/users?filter=lastUpdated+gt+"2025-01-01T00:00:00.000Z"&limit=200'
    )
    assert response.status == 200
    assert len(response.json()) > 50


def test_q_matches_prefix_without_paging(okta_org):
    response = okta_org.request("GET", "/api/v1/users?q=sof")
    assert [user["profile"]["login"] for user in response.json()] == [ACTIVE_LOGIN]
    assert "Link" not in response.headers


def test_create_user_and_duplicate_login(okta_org):
    body = {
        "profile": {
            "firstName": "Test",
            "lastName": "User",
            "email": "test.user@example.com",
            "login": "test.user@example.com",
        }
    }
    created = okta_org.request("POST", "/api/v1/users?activate=false", body)
    duplicate = okta_org.request("POST", "/api/v1/users", body)
    assert created.status == 200
    assert created.json()["status"] == "STAGED"
    assert_okta_error(duplicate, 400, "E0000001")


def test_create_user_without_login_names_field(okta_org):
    response = okta_org.request(
        "POST", "/api/v1/users", {"profile": {"firstName": "A", "lastName": "B"}}
    )
    assert_okta_error(response, 400, "E0000001")
    causes = " ".join(cause["errorSummary"] for cause in response.json()["errorCauses"])
    assert "login" in causes
    assert "email" in causes


def test_create_user_with_invalid_json(okta_org):
    response = okta_org.request("POST", "/api/v1/users", b"{not json")
    assert_okta_error(response, 400, "E0000003")


def test_new_user_joins_everyone(okta_org):
    body = {
        "profile": {
            "firstName": "New",
            "lastName": "Hire",
            "email": "new.hire@example.com",
            "login": "new.hire@example.com",
        }
    }
    user_id = okta_org.request("POST", "/api/v1/users", body).json()["id"]
    groups = okta_org.request("GET", f"/api/v1/users/{user_id}/groups").json()
    assert [group["id"] for group in groups] == [EVERYONE_ID]


def test_lifecycle_moves_and_illegal_move(okta_org):
    suspend = okta_org.request("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/suspend")
    suspend_again = okta_org.request("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/suspend")
    status_after = okta_org.request("GET", f"/api/v1/users/{ACTIVE_ID}").json()["status"]
    unsuspend = okta_org.request("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/unsuspend")
    assert suspend.status == 200
    assert_okta_error(suspend_again, 403, "E0000038")
    assert status_after == "SUSPENDED"
    assert unsuspend.status == 200


def test_unknown_lifecycle_operation_404(okta_org):
    response = okta_org.request("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/explode")
    assert_okta_error(response, 404, "E0000007")


def test_membership_put_delete_repeat_204(okta_org):
    path = f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}"
    statuses = [
        okta_org.request(method, path).status for method in ("PUT", "PUT", "DELETE", "DELETE")
    ]
    assert statuses == [204, 204, 204, 204]


def test_membership_put_shows_in_member_list(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    members = okta_org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}/users").json()
    assert ACTIVE_ID in [user["id"] for user in members]


def test_app_group_membership_write_refused(okta_org):
    put = okta_org.request("PUT", f"/api/v1/groups/{APP_GROUP_ID}/users/{ACTIVE_ID}")
    delete = okta_org.request("DELETE", f"/api/v1/groups/{APP_GROUP_ID}/users/{ACTIVE_ID}")
    assert_okta_error(put, 403, "E0000006")
    assert_okta_error(delete, 403, "E0000006")
    assert "APP_GROUP" in put.json()["errorCauses"][0]["errorSummary"]


def test_built_in_group_write_gets_501(okta_org):
    response = okta_org.request("DELETE", f"/api/v1/groups/{EVERYONE_ID}/users/{ACTIVE_ID}")
    assert_okta_error(response, 501, "E0000060")


def test_membership_of_unknown_user_404(okta_org):
    response = okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/00unotthere000000000")
    assert_okta_error(response, 404, "E0000007")


def test_group_list_q_and_filter(okta_org):
    by_q = okta_org.request("GET", "/api/v1/groups?q=Portal").json()
    by_filter = okta_org.request("GET", '/api/v1/groups?filter=type+eq+"BUILT_IN"').json()
    assert [group["profile"]["name"] for group in by_q] == ["Portal Admins"]
    assert [group["id"] for group in by_filter] == [EVERYONE_ID]


def test_group_stats_expand(okta_org):
    response = okta_org.request("GET", "/api/v1/groups?q=Portal&expand=stats")
    assert response.json()[0]["_embedded"]["stats"]["usersCount"] == 3


def test_group_members_page(okta_org):
    first = okta_org.request("GET", f"/api/v1/groups/{EVERYONE_ID}/users?limit=30")
    second = okta_org.request("GET", links(first)["next"][len(okta_org.url) :])
    assert len(first.json()) == 30
    assert not {u["id"] for u in first.json()} & {u["id"] for u in second.json()}


def test_assign_inactive_user_gets_e0000117(okta_org):
    for user_id in (SUSPENDED_ID, STAGED_ID, DEPROVISIONED_ID):
        response = okta_org.request(
            "POST", f"/api/v1/apps/{EXPENSES_ID}/users", {"id": user_id, "scope": "USER"}
        )
        assert_okta_error(response, 403, "E0000117")


def test_assign_twice_gets_e0000062(okta_org):
    first = okta_org.request(
        "POST", f"/api/v1/apps/{EXPENSES_ID}/users", {"id": ACTIVE_ID, "scope": "USER"}
    )
    second = okta_org.request(
        "POST", f"/api/v1/apps/{EXPENSES_ID}/users", {"id": ACTIVE_ID, "scope": "USER"}
    )
    assert first.status == 200
    assert first.json()["scope"] == "USER"
    assert_okta_error(second, 409, "E0000062")


def test_group_scoped_user_keeps_app_after_unassign(okta_org):
    before = okta_org.request("GET", f"/api/v1/apps/{GRAFANA_ID}/users/{ACTIVE_ID}").json()
    assigned = okta_org.request(
        "POST", f"/api/v1/apps/{GRAFANA_ID}/users", {"id": ACTIVE_ID, "scope": "USER"}
    )
    unassigned = okta_org.request("DELETE", f"/api/v1/apps/{GRAFANA_ID}/users/{ACTIVE_ID}")
    after = okta_org.request("GET", f"/api/v1/apps/{GRAFANA_ID}/users/{ACTIVE_ID}")
    assert before["scope"] == "GROUP"
    assert assigned.json()["scope"] == "USER"
    assert unassigned.status == 204
    assert after.status == 200
    assert after.json()["scope"] == "GROUP"


def test_unassign_direct_user_removes_app(okta_org):
    okta_org.request("POST", f"/api/v1/apps/{EXPENSES_ID}/users", {"id": ACTIVE_ID})
    okta_org.request("DELETE", f"/api/v1/apps/{EXPENSES_ID}/users/{ACTIVE_ID}")
    response = okta_org.request("GET", f"/api/v1/apps/{EXPENSES_ID}/users/{ACTIVE_ID}")
    assert_okta_error(response, 404, "E0000007")


def test_app_group_assignment_grants_members(okta_org):
    assignment = okta_org.request("PUT", f"/api/v1/apps/{EXPENSES_ID}/groups/{OKTA_GROUP_ID}")
    members = okta_org.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}/users").json()
    app_users = okta_org.request("GET", f"/api/v1/apps/{EXPENSES_ID}/users?limit=500").json()
    assert assignment.status == 200
    assert assignment.json()["id"] == OKTA_GROUP_ID
    scopes = {user["id"]: user["scope"] for user in app_users}
    assert all(scopes[member["id"]] == "GROUP" for member in members)


def test_unknown_path_gets_okta_404(okta_org):
    response = okta_org.request("GET", "/api/v1/nothing-here")
    assert_okta_error(response, 404, "E0000007")


def test_wrong_method_gets_e0000022(okta_org):
    response = okta_org.request("PATCH", "/api/v1/groups")
    assert_okta_error(response, 405, "E0000022")


def test_token_endpoint_rate_limited_in_oauth_format(okta_org):
    okta_org.set_rate_limits(window_seconds=30, limits={"oauth2_token": 2})
    form = b"grant_type=authorization_code&code=unknown"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses = [
        okta_org.request(
            "POST", "/oauth2/default/v1/token", form, headers=headers, token=False
        ).status
        for _ in range(2)
    ]
    limited = okta_org.request(
        "POST", "/oauth2/default/v1/token", form, headers=headers, token=False
    )
    # OIDC requests count against the whole bucket, not the API token's half.
    assert 429 not in statuses
    assert limited.status == 429
    assert limited.json()["error"] == "too_many_requests"
    assert limited.headers["X-Rate-Limit-Limit"] == "2"
