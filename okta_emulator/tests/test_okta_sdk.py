"""The unmodified okta SDK (3.4.6) performs every Management API call the portal needs.

All calls run in one asyncio.run with one Client (the SDK's sessions must not cross event loops);
each test then checks one recorded outcome.
"""

import asyncio
import os
import time

import pytest

from .demo_org import ACTIVE_ID, APP_GROUP_ID, EXPENSES_ID, OKTA_GROUP_ID, SUSPENDED_ID
from .hook_receiver import HookReceiver

# The SDK refuses plain http unless this is set (any non-empty value); it has no config key for it.
os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"


class Outcomes(dict):
    def record(self, name, result):
        self[name] = result
        return result


async def _run_calls(emulator, receiver):
    from okta.client import Client
    from okta.models import AddGroupRequest, AppUserAssignRequest, CreateUserRequest, EventHook
    from okta.pagination import PaginationHelper, paginate_all

    outcomes = Outcomes()
    client = Client(
        {
            "orgUrl": emulator.url,
            "token": emulator.api_token,
            "authorizationMode": "SSWS",
            "logging": {"enabled": False},
        }
    )
    async with client:
        # Users.
        outcomes.record("list_users", await client.list_users(limit=25))
        pages = []

        async def counting_list_users(**kwargs):
            result = await client.list_users(**kwargs)
            pages.append(len(result[0] or []))
            return result

        outcomes["all_users"] = [user async for user in paginate_all(counting_list_users, limit=25)]
        outcomes["pages"] = pages
        outcomes["next_cursor"] = PaginationHelper.extract_next_cursor(
            dict(outcomes["list_users"][1].headers)
        )
        outcomes.record(
            "search_users", await client.list_users(search='profile.department eq "Sales"')
        )
        outcomes.record("filter_users", await client.list_users(filter='status eq "SUSPENDED"'))
        outcomes.record("q_users", await client.list_users(q="sofia"))
        outcomes.record("get_user", await client.get_user(ACTIVE_ID))
        outcomes.record("get_user_by_login", await client.get_user("sofia.alvarez@example.com"))
        outcomes.record("get_missing_user", await client.get_user("00unotthere000000000"))
        body = CreateUserRequest.from_dict(
            {
                "profile": {
                    "firstName": "Sdk",
                    "lastName": "Tester",
                    "email": "sdk.tester@example.com",
                    "login": "sdk.tester@example.com",
                    "department": "Engineering",
                },
                "credentials": {"password": {"value": "Sdk-Passw0rd-123"}},
            }
        )
        created = outcomes.record("create_user", await client.create_user(body, activate=False))
        new_id = created[0].id
        outcomes.record("activate_user", await client.activate_user(new_id, send_email=False))
        outcomes.record("suspend_user", await client.suspend_user(new_id))
        outcomes.record("unsuspend_user", await client.unsuspend_user(new_id))
        outcomes.record("user_groups", await client.list_user_groups(ACTIVE_ID))

        # Groups and members.
        outcomes.record("list_groups", await client.list_groups())
        outcomes.record("search_groups", await client.list_groups(search='type eq "APP_GROUP"'))
        outcomes.record("filter_groups", await client.list_groups(filter='type eq "BUILT_IN"'))
        outcomes.record("q_groups", await client.list_groups(q="Portal"))
        outcomes.record("get_group", await client.get_group(OKTA_GROUP_ID))
        new_group = outcomes.record(
            "add_group",
            await client.add_group(
                AddGroupRequest.from_dict(
                    {"profile": {"name": "SDK Test Group", "description": "made by the SDK"}}
                )
            ),
        )
        group_id = new_group[0].id
        outcomes.record("add_member", await client.assign_user_to_group(group_id, new_id))
        outcomes.record("add_member_again", await client.assign_user_to_group(group_id, new_id))
        outcomes.record("members", await client.list_group_users(group_id))
        outcomes.record("remove_member", await client.unassign_user_from_group(group_id, new_id))
        outcomes.record("members_after", await client.list_group_users(group_id))
        outcomes.record(
            "add_app_group_member", await client.assign_user_to_group(APP_GROUP_ID, new_id)
        )

        # Apps.
        outcomes.record("list_apps", await client.list_applications())
        outcomes.record("get_app", await client.get_application(EXPENSES_ID))
        outcomes.record(
            "assign_app_user",
            await client.assign_user_to_application(
                EXPENSES_ID, AppUserAssignRequest.from_dict({"id": new_id, "scope": "USER"})
            ),
        )
        outcomes.record("get_app_user", await client.get_application_user(EXPENSES_ID, new_id))
        outcomes.record("list_app_users", await client.list_application_users(EXPENSES_ID))
        outcomes.record(
            "assign_inactive_user",
            await client.assign_user_to_application(
                EXPENSES_ID, AppUserAssignRequest.from_dict({"id": SUSPENDED_ID, "scope": "USER"})
            ),
        )
        outcomes.record(
            "unassign_app_user", await client.unassign_user_from_application(EXPENSES_ID, new_id)
        )
        outcomes.record(
            "assign_app_group", await client.assign_group_to_application(EXPENSES_ID, group_id)
        )
        outcomes.record(
            "list_app_groups", await client.list_application_group_assignments(EXPENSES_ID)
        )

        # Event hooks.
        hook = EventHook.from_dict(
            {
                "name": "SDK hook",
                "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.deactivate"]},
                "channel": {
                    "type": "HTTP",
                    "version": "1.0.0",
                    "config": {
                        "uri": receiver.url,
                        "headers": [],
                        "authScheme": {
                            "type": "HEADER",
                            "key": "Authorization",
                            "value": "hook-secret",
                        },
                    },
                },
            }
        )
        created_hook = outcomes.record("create_hook", await client.create_event_hook(hook))
        hook_id = created_hook[0].id
        outcomes.record("verify_hook", await client.verify_event_hook(hook_id))
        outcomes.record("activate_hook", await client.activate_event_hook(hook_id))
        outcomes.record("deactivate_user", await client.deactivate_user(new_id))

        # System Log.
        outcomes.record(
            "logs", await client.list_log_events(filter='eventType eq "group.user_membership.add"')
        )

        # Rate limit: exhaust the bucket, then the SDK must wait for the reset and succeed.
        emulator.set_rate_limits(window_seconds=3, token_share=1, limits={"users_get": 1})
        outcomes["raw_first"] = emulator.request("GET", f"/api/v1/users/{ACTIVE_ID}").status
        outcomes["raw_second"] = emulator.request("GET", f"/api/v1/users/{ACTIVE_ID}").status
        started = time.monotonic()
        outcomes.record("rate_limited_get", await client.get_user(ACTIVE_ID))
        outcomes["rate_limited_seconds"] = time.monotonic() - started
    return outcomes


@pytest.fixture(scope="module")
def outcomes(okta_emulator):
    okta_emulator.reset()
    with HookReceiver() as receiver:
        results = asyncio.run(_run_calls(okta_emulator, receiver))
        receiver.wait_for(lambda: receiver.events("user.lifecycle.deactivate"))
        results["receiver"] = receiver
    yield results
    okta_emulator.reset()


def ok(result):
    data, _response, error = result
    assert error is None, error
    return data


def error_of(result):
    """Return the error of a call; the SDK returns (response, error) or (data, response, error)."""
    return result[-1]


def enum_value(value):
    """Return the string behind an SDK enum field (some models keep a plain str)."""
    return getattr(value, "value", value)


def group_name(group):
    # GroupProfile is a oneOf wrapper in this SDK version.
    return group.profile.actual_instance.name


def test_list_users_first_page(outcomes):
    users = ok(outcomes["list_users"])
    assert len(users) == 25
    assert outcomes["next_cursor"]


def test_listing_spans_three_pages(outcomes):
    assert outcomes["pages"] == [25, 25, 10]
    ids = [user.id for user in outcomes["all_users"]]
    assert len(ids) == len(set(ids)) == 60


def test_search_filter_q_users(outcomes):
    assert {user.profile.department for user in ok(outcomes["search_users"])} == {"Sales"}
    assert {enum_value(user.status) for user in ok(outcomes["filter_users"])} == {"SUSPENDED"}
    assert [user.id for user in ok(outcomes["q_users"])] == [ACTIVE_ID]


def test_get_user_by_id_and_login(outcomes):
    assert ok(outcomes["get_user"]).id == ACTIVE_ID
    assert ok(outcomes["get_user_by_login"]).id == ACTIVE_ID


def test_missing_user_error(outcomes):
    assert "E0000007" in str(error_of(outcomes["get_missing_user"]))


def test_create_and_lifecycle(outcomes):
    assert enum_value(ok(outcomes["create_user"]).status) == "STAGED"
    assert ok(outcomes["activate_user"]).activation_token
    for step in ("suspend_user", "unsuspend_user", "deactivate_user"):
        assert outcomes[step][-1] is None, step


def test_user_groups(outcomes):
    names = {group_name(group) for group in ok(outcomes["user_groups"])}
    assert {"Everyone", "Engineering"} <= names


def test_group_listing_calls(outcomes):
    assert len(ok(outcomes["list_groups"])) == 31
    assert {enum_value(group.type) for group in ok(outcomes["search_groups"])} == {"APP_GROUP"}
    assert [group_name(group) for group in ok(outcomes["filter_groups"])] == ["Everyone"]
    assert [group_name(group) for group in ok(outcomes["q_groups"])] == ["Portal Admins"]
    assert ok(outcomes["get_group"]).id == OKTA_GROUP_ID


def test_group_membership_calls(outcomes):
    created_id = ok(outcomes["create_user"]).id
    assert group_name(ok(outcomes["add_group"])) == "SDK Test Group"
    for step in ("add_member", "add_member_again", "remove_member"):
        assert outcomes[step][-1] is None, step
    assert [user.id for user in ok(outcomes["members"])] == [created_id]
    assert ok(outcomes["members_after"]) == []


def test_app_group_membership_refused(outcomes):
    assert "E0000006" in str(error_of(outcomes["add_app_group_member"]))


def test_app_calls(outcomes):
    created_id = ok(outcomes["create_user"]).id
    assert len(ok(outcomes["list_apps"])) == 12
    assert ok(outcomes["get_app"]).id == EXPENSES_ID
    assert ok(outcomes["assign_app_user"]).scope == "USER"
    assert ok(outcomes["get_app_user"]).id == created_id
    assert created_id in [user.id for user in ok(outcomes["list_app_users"])]
    assert outcomes["unassign_app_user"][-1] is None
    assert ok(outcomes["assign_app_group"]).id == ok(outcomes["add_group"]).id
    assert ok(outcomes["add_group"]).id in [a.id for a in ok(outcomes["list_app_groups"])]


def test_inactive_user_assignment_refused(outcomes):
    assert "E0000117" in str(error_of(outcomes["assign_inactive_user"]))


def test_event_hook_calls_and_delivery(outcomes):
    assert enum_value(ok(outcomes["create_hook"]).verification_status) == "UNVERIFIED"
    assert enum_value(ok(outcomes["verify_hook"]).verification_status) == "VERIFIED"
    assert enum_value(ok(outcomes["activate_hook"]).status) == "ACTIVE"
    receiver = outcomes["receiver"]
    delivered = receiver.events("user.lifecycle.deactivate")
    assert [event["target"][0]["id"] for event in delivered] == [ok(outcomes["create_user"]).id]
    assert receiver.deliveries[0]["headers"]["Authorization"] == "hook-secret"


def test_system_log_call(outcomes):
    events = ok(outcomes["logs"])
    assert len(events) == 1
    assert events[0].event_type == "group.user_membership.add"


def test_rate_limit_then_success_after_reset(outcomes):
    assert outcomes["raw_first"] == 200
    assert outcomes["raw_second"] == 429
    assert ok(outcomes["rate_limited_get"]).id == ACTIVE_ID
    assert outcomes["rate_limited_seconds"] >= 1
