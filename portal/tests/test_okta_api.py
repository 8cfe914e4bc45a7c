"""The Okta facade against the emulator: data mapping, paging and error classification."""

import threading
import time
from contextlib import contextmanager

import pytest

from portal import okta_api
from portal.okta_api import (
    OktaClient,
    OktaNotFoundError,
    OktaPermanentError,
    OktaTransientError,
    RateLimitReading,
)
from portal.okta_rate_budget import RateBudget

CEO_ID = "00u5u8qF92LBlNhMCk0k"
VP_ENGINEERING_ID = "00ua7TSFznQf7fbnAlfT"
SUSPENDED_ID = "00u7LqEty2k8Wwq4Jj1P"
DEPROVISIONED_ID = "00uGA6fczYNKAFAgyROc"
EVERYONE_GROUP_ID = "00gHfrNFNIOrCqH8Kiz8"
APP_GROUP_ID = "00gWxoa6t1qwcr0g9ibo"
SLACK_APP_ID = "0oaxaAc2qUMfafCDbEFI"  # assigned to Everyone
TIMESHEETS_APP_ID = "0oax2heOKVdPF8y9QA02"  # no group assignments


@pytest.fixture
def client(okta_org):
    return OktaClient(okta_org.url, okta_org.api_token)


def writable_group_id(org):
    groups = org.request("GET", "/api/v1/groups?filter=type%20eq%20%22OKTA_GROUP%22").json()
    return groups[0]["id"]


def member_ids(org, group_id):
    return {
        user["id"]
        for user in org.request("GET", f"/api/v1/groups/{group_id}/users?limit=200").json()
    }


def test_get_user_maps_profile(client):
    user = client.get_user(VP_ENGINEERING_ID)

    assert user.id == VP_ENGINEERING_ID
    assert user.status == "ACTIVE"
    assert user.login == "jordan.blake@example.com"
    assert user.department == "Engineering"
    assert user.manager_id == CEO_ID


def test_get_user_by_login(client):
    assert client.get_user("jordan.blake@example.com").id == VP_ENGINEERING_ID


def test_get_unknown_user_is_not_found(client):
    with pytest.raises(OktaNotFoundError) as caught:
        client.get_user("00uDoesNotExist000000")

    assert caught.value.status == 404
    assert caught.value.error_code == "E0000007"
    assert caught.value.request_id


def test_list_users_drains_pages(client, okta_org, monkeypatch):
    monkeypatch.setattr(okta_api, "USER_PAGE_SIZE", 7)
    expected = {user["id"] for user in okta_org.request("GET", "/api/v1/users?limit=200").json()}

    users = client.list_users()

    assert len(expected) > 3 * 7
    assert [user.id for user in users].count(CEO_ID) == 1
    assert {user.id for user in users} == expected


def test_list_users_leaves_out_deprovisioned(client):
    assert DEPROVISIONED_ID not in {user.id for user in client.list_users()}


def test_list_all_users_includes_every_status(client):
    users = {user.id: user for user in client.list_all_users()}

    assert users[DEPROVISIONED_ID].status == "DEPROVISIONED"
    assert users[SUSPENDED_ID].status == "SUSPENDED"
    assert users[CEO_ID].status == "ACTIVE"


def test_list_groups_and_types(client):
    groups = {group.id: group for group in client.list_groups()}

    assert groups[EVERYONE_GROUP_ID].type == "BUILT_IN"
    assert groups[EVERYONE_GROUP_ID].name == "Everyone"
    assert groups[APP_GROUP_ID].type == "APP_GROUP"
    assert any(group.name == "Portal Admins" for group in groups.values())


def test_add_member_twice_changes_okta_once(client, okta_org):
    group_id = writable_group_id(okta_org)
    assert CEO_ID not in member_ids(okta_org, group_id)

    first = client.add_group_member(group_id, CEO_ID)
    client.add_group_member(group_id, CEO_ID)

    assert first.request_id
    assert CEO_ID in member_ids(okta_org, group_id)
    assert CEO_ID in client.list_group_member_ids(group_id)
    added = okta_org.request(
        "GET",
        "/api/v1/logs?filter=eventType%20eq%20%22group.user_membership.add%22",
    ).json()
    assert len([event for event in added if event["target"][0]["id"] == CEO_ID]) == 1


def test_remove_member(client, okta_org):
    group_id = writable_group_id(okta_org)
    client.add_group_member(group_id, CEO_ID)

    client.remove_group_member(group_id, CEO_ID)

    assert CEO_ID not in member_ids(okta_org, group_id)


@pytest.mark.parametrize("group_id", [EVERYONE_GROUP_ID, APP_GROUP_ID])
def test_membership_write_to_unwritable_group_is_permanent(client, group_id):
    with pytest.raises(OktaPermanentError) as caught:
        client.add_group_member(group_id, CEO_ID)

    assert caught.value.status in (400, 403, 501)
    assert caught.value.error_code


def test_assign_app_is_idempotent(client):
    client.assign_app(TIMESHEETS_APP_ID, CEO_ID)
    client.assign_app(TIMESHEETS_APP_ID, CEO_ID)

    assignment = client.get_app_assignment(TIMESHEETS_APP_ID, CEO_ID)
    assert assignment.scope == "USER"
    assert CEO_ID in {item.user_id for item in client.list_app_assignments(TIMESHEETS_APP_ID)}


def test_unassign_app_then_lookup_is_not_found(client):
    client.assign_app(TIMESHEETS_APP_ID, CEO_ID)

    client.unassign_app(TIMESHEETS_APP_ID, CEO_ID)

    with pytest.raises(OktaNotFoundError):
        client.get_app_assignment(TIMESHEETS_APP_ID, CEO_ID)


def test_unassigned_app_stays_through_group(client):
    client.assign_app(SLACK_APP_ID, CEO_ID)

    client.unassign_app(SLACK_APP_ID, CEO_ID)

    assert client.get_app_assignment(SLACK_APP_ID, CEO_ID).scope == "GROUP"


def test_assign_app_to_suspended_user_is_permanent(client):
    with pytest.raises(OktaPermanentError) as caught:
        client.assign_app(SLACK_APP_ID, SUSPENDED_ID)

    assert caught.value.error_code == "E0000117"


def test_bad_token_is_permanent(okta_org):
    client = OktaClient(okta_org.url, "00notTheRightToken")

    with pytest.raises(OktaPermanentError) as caught:
        client.get_user(CEO_ID)

    assert caught.value.status == 401
    assert caught.value.error_code == "E0000011"


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_on_write_is_transient(client, okta_org, status):
    group_id = writable_group_id(okta_org)
    okta_org.set_fault(f"/api/v1/groups/{group_id}/users/*", status=status)

    with pytest.raises(OktaTransientError) as caught:
        client.add_group_member(group_id, CEO_ID)

    assert caught.value.status == status
    assert caught.value.retry_at > time.time()


def test_dropped_connection_is_transient(client, okta_org):
    group_id = writable_group_id(okta_org)
    okta_org.set_fault(f"/api/v1/groups/{group_id}/users/*", drop=True)

    with pytest.raises(OktaTransientError):
        client.add_group_member(group_id, CEO_ID)


def test_refused_connection_is_transient():
    from okta_emulator.testing import free_port

    client = OktaClient(f"http://127.0.0.1:{free_port()}", "00token")

    with pytest.raises(OktaTransientError):
        client.remove_group_member("00gAnyGroup0000000000", CEO_ID)


def test_rate_limited_write_retries_no_earlier_than_reset(client, okta_org):
    group_id = writable_group_id(okta_org)
    okta_org.set_rate_limits(window_seconds=30, limits={"groups": 2}, token_share=1.0)
    client.add_group_member(group_id, CEO_ID)
    client.add_group_member(group_id, VP_ENGINEERING_ID)

    with pytest.raises(OktaTransientError) as caught:
        client.remove_group_member(group_id, CEO_ID)

    assert caught.value.status == 429
    assert caught.value.error_code == "E0000047"
    assert caught.value.retry_at >= client.last_call.rate_limit.reset_at


def test_listing_waits_through_rate_limit(client, okta_org, monkeypatch):
    monkeypatch.setattr(okta_api, "USER_PAGE_SIZE", 20)
    okta_org.set_rate_limits(window_seconds=2, limits={"users_list_create": 2}, token_share=1.0)

    users = client.list_users()

    assert len(users) > 2 * 20


@contextmanager
def requests_in_flight(org, count, seconds=2.0):
    """Hold `count` of the emulator's concurrency slots for `seconds` with slow app listings."""
    org.set_fault("/api/v1/apps", latency_ms=seconds * 1000, methods=["GET"])
    threads = [
        threading.Thread(target=org.request, args=("GET", "/api/v1/apps")) for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    # Long enough for the requests to reach the emulator, far shorter than `seconds`.
    time.sleep(0.5)
    try:
        yield
    finally:
        for thread in threads:
            thread.join(timeout=seconds + 10)


def test_concurrency_429_on_write_is_transient(client, okta_org):
    group_id = writable_group_id(okta_org)
    okta_org.set_rate_limits(concurrency_limit=1)

    with requests_in_flight(okta_org, 1):
        before = time.time()
        with pytest.raises(OktaTransientError) as caught:
            client.add_group_member(group_id, CEO_ID)
    reading = client.last_call.rate_limit
    client.add_group_member(group_id, CEO_ID)

    assert caught.value.status == 429
    assert caught.value.error_code == "E0000047"
    assert reading.limit == 0
    assert reading.remaining == 0
    assert before < caught.value.retry_at <= before + 5
    assert caught.value.retry_at >= reading.reset_at
    assert CEO_ID in member_ids(okta_org, group_id)


def test_listing_waits_through_concurrency_429(okta_org):
    okta_org.set_rate_limits(concurrency_limit=1)
    budget = RateBudget(DictCache())
    client = OktaClient(okta_org.url, okta_org.api_token, budget=budget)

    with requests_in_flight(okta_org, 1, seconds=2.0):
        started = time.monotonic()
        users = client.list_users()
        elapsed = time.monotonic() - started

    # The listing alone takes well under a second; it took longer because it got a 429 and
    # waited for the reset that the 429 reported.
    assert elapsed >= 1.0
    assert CEO_ID in {user.id for user in users}
    assert client.last_call.rate_limit.limit > 0
    assert budget.hold_until("users_list_create") is None


def test_non_loopback_http_org_is_rejected():
    with pytest.raises(ValueError, match="must use https"):
        OktaClient("http://okta.example.com", "00token")


class DictCache:
    """The subset of Django's cache API the budget uses, in one process."""

    def __init__(self):
        self.values = {}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value, timeout=None):
        self.values[key] = value

    def decr(self, key, delta=1):
        if key not in self.values:
            raise ValueError(key)
        self.values[key] -= delta
        return self.values[key]


def test_budget_holds_calls_at_reserve():
    budget = RateBudget(DictCache())
    reset_at = time.time() + 30
    budget.observe("groups", RateLimitReading(limit=100, remaining=10, reset_at=reset_at))

    decisions = [budget.hold_until("groups") for _ in range(6)]

    assert decisions[:5] == [None] * 5
    assert decisions[5] == reset_at


def test_budget_keeps_lowest_remaining_of_window():
    budget = RateBudget(DictCache())
    reset_at = time.time() + 30
    budget.observe("apps", RateLimitReading(limit=50, remaining=2, reset_at=reset_at))
    budget.observe("apps", RateLimitReading(limit=50, remaining=40, reset_at=reset_at))

    assert budget.hold_until("apps") == reset_at


def test_budget_forgets_past_window():
    budget = RateBudget(DictCache())
    budget.observe("apps", RateLimitReading(limit=50, remaining=0, reset_at=time.time() - 1))

    assert budget.hold_until("apps") is None


def test_budget_ignores_concurrency_429_inside_window():
    budget = RateBudget(DictCache())
    now = time.time()
    budget.observe("groups", RateLimitReading(limit=250, remaining=200, reset_at=now + 50))

    # Okta's concurrency 429 reports Limit 0 and a reset a few seconds ahead.
    budget.observe("groups", RateLimitReading(limit=0, remaining=0, reset_at=now + 2))

    assert budget.hold_until("groups") is None


def test_budget_after_concurrency_429_holds_until_its_reset():
    budget = RateBudget(DictCache())
    reset_at = time.time() + 2
    budget.observe("groups", RateLimitReading(limit=0, remaining=0, reset_at=reset_at))

    held_until = budget.hold_until("groups")
    budget.observe("groups", RateLimitReading(limit=250, remaining=249, reset_at=reset_at + 58))

    assert held_until == reset_at
    assert budget.hold_until("groups") is None


def test_budget_forgets_past_concurrency_429():
    budget = RateBudget(DictCache())
    budget.observe("groups", RateLimitReading(limit=0, remaining=0, reset_at=time.time() - 1))

    assert budget.hold_until("groups") is None


def test_client_with_budget_stops_before_429(okta_org):
    group_id = writable_group_id(okta_org)
    okta_org.set_rate_limits(window_seconds=30, limits={"groups": 40}, token_share=1.0)
    client = OktaClient(okta_org.url, okta_org.api_token, budget=RateBudget(DictCache()))
    succeeded = 0

    with pytest.raises(OktaTransientError) as caught:
        for _ in range(45):
            client.add_group_member(group_id, CEO_ID)
            succeeded += 1

    # A hold decided by the budget carries no HTTP status: Okta never answered 429.
    assert caught.value.status is None
    assert succeeded >= 35
