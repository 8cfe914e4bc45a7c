"""Okta event hooks: the endpoint, de-duplication, ordering, and delivery by the emulator."""

import datetime
import json
import os

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from access_requests import event_hooks
from access_requests.models import Drift, Grant, HookEvent, ObservedAccess, OktaOperation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.grants import active_grant, add_member, group_without
from access_requests.tests.personas import sign_in
from accounts.models import OktaStatus
from audit.models import AuditEvent
from okta_emulator.testing import start_emulator
from portal.okta_api import get_client

SECRET = "hook-secret-for-tests"
URL = "/hooks/okta/"
# The emulator, as Okta, gives up on a delivery without a response within this many seconds.
HOOK_TIMEOUT_SECONDS = "1"


@pytest.fixture
def hook_settings(settings):
    settings.PORTAL_EVENT_HOOK_SECRET = SECRET
    settings.PORTAL_EVENT_HOOK_HEADER = "Authorization"
    return settings


def post(client, body, secret=SECRET):
    headers = {"Authorization": secret} if secret is not None else {}
    return client.post(URL, json.dumps(body), content_type="application/json", headers=headers)


def delivery(*events):
    return {"eventType": "com.okta.event_hook", "data": {"events": list(events)}}


def test_verification_get_returns_the_challenge(client, hook_settings):
    response = client.get(
        URL, headers={"Authorization": SECRET, "X-Okta-Verification-Challenge": "abc123"}
    )
    assert response.status_code == 200
    assert response.json() == {"verification": "abc123"}


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_delivery_without_the_secret_is_refused(client, db, hook_settings, secret):
    response = post(client, delivery(), secret=secret)
    assert response.status_code == 401
    assert "Authorization" in response.json()["error"]
    assert not HookEvent.objects.exists()


def test_endpoint_refuses_everything_without_a_configured_secret(client, db, settings):
    settings.PORTAL_EVENT_HOOK_SECRET = ""
    assert post(client, delivery(), secret="").status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"data": {}}', '"data": {"events"'),
        (
            b'{"data": {"events": [{"eventType": "x", "published": "2026-01-01T00:00:00Z"}]}}',
            "no uuid",
        ),
        (
            b'{"data": {"events": [{"uuid": "u1", "eventType": "x", "published": "yesterday"}]}}',
            "published",
        ),
    ],
)
def test_malformed_delivery_gets_a_clear_400(client, db, hook_settings, body, message):
    response = client.post(
        URL, body, content_type="application/json", headers={"Authorization": SECRET}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_stale_add_after_remove_ignored(client, db, okta_org, hook_settings):
    user = okta_data.active_users(okta_org)[12]
    group = group_without(okta_org, user["id"])
    okta_data.group_resource(group)
    since = okta_data.emulator_now(okta_org)
    add_member(okta_org, group["id"], user["id"])
    okta_org.request("DELETE", f"/api/v1/groups/{group['id']}/users/{user['id']}")
    (added,) = okta_data.log_events(okta_org, since, "group.user_membership.add")
    (removed,) = okta_data.log_events(okta_org, since, "group.user_membership.remove")
    assert added["published"] < removed["published"]

    assert post(client, delivery(removed)).status_code == 200
    event_hooks.apply_pending_events()
    assert post(client, delivery(added)).status_code == 200
    event_hooks.apply_pending_events()

    observed = ObservedAccess.objects.get(user_okta_id=user["id"], resource_okta_id=group["id"])
    assert observed.present is False
    assert observed.event_uuid == removed["uuid"]
    assert HookEvent.objects.get(uuid=added["uuid"]).outcome == "superseded by a newer event"
    assert not Drift.objects.exists()


def test_deactivation_event_offboards_the_user(client, db, okta_org, hook_settings):
    holder = okta_data.portal_user(okta_data.active_users(okta_org)[13])
    resource = okta_data.group_resource(group_without(okta_org, holder.okta_id))
    grant = active_grant(okta_org, holder, resource)
    since = okta_data.emulator_now(okta_org)
    okta_org.request("POST", f"/api/v1/users/{holder.okta_id}/lifecycle/deactivate")
    (deactivated,) = okta_data.log_events(okta_org, since, "user.lifecycle.deactivate")

    assert post(client, delivery(deactivated)).json() == {"received": 1, "new": 1}
    assert event_hooks.apply_pending_events() == 1

    holder.refresh_from_db()
    grant.refresh_from_db()
    assert holder.okta_status == OktaStatus.DEPROVISIONED
    assert grant.status == Grant.Status.REVOKING
    assert grant.operations.get().action == OktaOperation.Action.REMOVE_MEMBER


@pytest.fixture(scope="module")
def slow_okta(tmp_path_factory):
    """An emulator that, like Okta with a tighter timeout, waits only 1 s for a hook response."""
    environment = dict(os.environ, OKTA_EMULATOR_HOOK_TIMEOUT=HOOK_TIMEOUT_SECONDS)
    emulator = start_emulator(tmp_path_factory.mktemp("hook_emulator"), env=environment)
    yield emulator
    emulator.stop()


@pytest.fixture
def hook_org(slow_okta, settings, hook_settings, transactional_db):
    slow_okta.reset()
    settings.OKTA_ORG_URL = slow_okta.url
    settings.OKTA_API_TOKEN = slow_okta.api_token
    get_client.cache_clear()
    cache.clear()
    yield slow_okta
    get_client.cache_clear()


@pytest.mark.slow
def test_emulator_delivery_stored_and_applied_once(hook_org, live_server):
    okta_org = hook_org
    # Every batch is delivered twice, as Okta's at-least-once delivery may.
    okta_org.set_hook_faults(duplicate_fraction=1.0)
    call_command(
        "register_event_hook", url=live_server.url + reverse("access_requests:okta_event_hook")
    )
    (hook,) = okta_org.request("GET", "/api/v1/eventHooks").json()
    assert hook["verificationStatus"] == "VERIFIED"

    user_okta = okta_data.active_users(okta_org)[14]
    user = okta_data.portal_user(user_okta)
    group = group_without(okta_org, user.okta_id)
    resource = okta_data.group_resource(group)
    add_member(okta_org, group["id"], user.okta_id)

    # No worker runs: the endpoint only stores, so Okta's first attempt gets its response in time.
    deliveries = wait_for(
        lambda: [d for d in okta_org.hook_deliveries() if d["state"] != "pending"],
        timeout=30,
        message="the emulator to deliver the membership event",
    )
    assert [(d["state"], d["attempts"]) for d in deliveries] == [("delivered", 1)]
    stored = HookEvent.objects.get()
    assert stored.uuid == deliveries[0]["uuid"]
    assert stored.applied_at is None

    assert event_hooks.apply_pending_events() == 1
    assert event_hooks.apply_pending_events() == 0
    drift = Drift.objects.get()
    assert (drift.resource, drift.user, drift.kind) == (resource, user, Drift.Kind.UNAPPROVED)


def test_duplicate_delivery_stored_once(client, db, hook_settings):
    from audit.models import AuditEvent

    event = {
        "uuid": "a1b2c3",
        "published": "2026-01-05T10:00:00.000Z",
        "eventType": "group.user_membership.add",
        "target": [
            {"id": "00uSomeone", "type": "User"},
            {"id": "00gSomething", "type": "UserGroup"},
        ],
    }

    assert post(client, delivery(event)).json() == {"received": 1, "new": 1}
    assert post(client, delivery(event)).json() == {"received": 1, "new": 0}

    assert HookEvent.objects.count() == 1
    assert event_hooks.apply_pending_events() == 1
    assert event_hooks.apply_pending_events() == 0
    received = AuditEvent.objects.filter(action="hook.received").order_by("sequence")
    assert [e.payload["duplicates"] for e in received] == [[], ["a1b2c3"]]


def portal_admins_group(okta_org) -> dict:
    (group,) = [
        group
        for group in okta_data.okta_groups(okta_org)
        if group["profile"]["name"] == "Portal Admins"
    ]
    return group


def test_admin_group_removal_ends_admin_rights(client, db, okta_org, hook_settings, settings):
    settings.PORTAL_ADMIN_GROUP = "Portal Admins"
    group = portal_admins_group(okta_org)
    member_id = sorted(okta_data.group_member_ids(okta_org, group["id"]))[0]
    (okta_user,) = [user for user in okta_data.active_users(okta_org) if user["id"] == member_id]
    admin = okta_data.portal_user(okta_user, is_admin=True, is_staff=True, is_superuser=True)
    sign_in(client, admin)
    assert client.get(reverse("audit:dashboard")).status_code == 200

    since = okta_data.emulator_now(okta_org)
    okta_org.request("DELETE", f"/api/v1/groups/{group['id']}/users/{member_id}")
    (removed,) = okta_data.log_events(okta_org, since, "group.user_membership.remove")
    assert post(client, delivery(removed)).status_code == 200
    event_hooks.apply_pending_events()

    admin.refresh_from_db()
    assert (admin.is_admin, admin.is_staff, admin.is_superuser) == (False, False, False)
    # The session that was open keeps working, without the admin pages.
    assert client.get(reverse("audit:dashboard")).status_code == 403
    assert client.get("/admin/").status_code == 302
    event = AuditEvent.objects.get(action="user.role_changed")
    assert event.subject_user == admin
    assert event.payload == {"role": "admin", "granted": False, "source": "okta"}


def test_admin_group_addition_grants_admin_rights(client, db, okta_org, hook_settings, settings):
    settings.PORTAL_ADMIN_GROUP = "Portal Admins"
    group = portal_admins_group(okta_org)
    members = okta_data.group_member_ids(okta_org, group["id"])
    okta_user = next(user for user in okta_data.active_users(okta_org) if user["id"] not in members)
    user = okta_data.portal_user(okta_user)

    since = okta_data.emulator_now(okta_org)
    add_member(okta_org, group["id"], user.okta_id)
    (added,) = okta_data.log_events(okta_org, since, "group.user_membership.add")
    assert post(client, delivery(added)).status_code == 200
    event_hooks.apply_pending_events()

    user.refresh_from_db()
    assert (user.is_admin, user.is_staff, user.is_superuser) == (True, True, True)
    event = AuditEvent.objects.get(action="user.role_changed")
    assert event.payload["granted"] is True


def test_other_group_change_keeps_admin_rights(client, db, okta_org, hook_settings, settings):
    settings.PORTAL_ADMIN_GROUP = "Portal Admins"
    okta_user = okta_data.active_users(okta_org)[14]
    admin = okta_data.portal_user(okta_user, is_admin=True, is_staff=True, is_superuser=True)
    group = next(
        group
        for group in okta_data.okta_groups(okta_org)
        if group["profile"]["name"] != "Portal Admins"
        and admin.okta_id not in okta_data.group_member_ids(okta_org, group["id"])
    )
    since = okta_data.emulator_now(okta_org)
    add_member(okta_org, group["id"], admin.okta_id)
    okta_org.request("DELETE", f"/api/v1/groups/{group['id']}/users/{admin.okta_id}")
    for event_type in ("group.user_membership.add", "group.user_membership.remove"):
        assert (
            post(client, delivery(*okta_data.log_events(okta_org, since, event_type))).status_code
            == 200
        )
    event_hooks.apply_pending_events()

    admin.refresh_from_db()
    assert admin.is_admin is True
    assert not AuditEvent.objects.filter(action="user.role_changed").exists()


def test_future_published_event_rejected(client, db, hook_settings, caplog):
    event = {
        "uuid": "future-1",
        "eventType": "group.user_membership.remove",
        "published": "9999-12-31T23:59:59.000Z",
    }

    response = post(client, delivery(event))

    assert response.status_code == 400
    assert "9999-12-31" in response.json()["error"]
    assert "more than 5 minutes after the portal's time" in response.json()["error"]
    assert "future-1" in caplog.text
    assert not HookEvent.objects.exists()


def test_published_within_clock_skew_accepted(client, db, hook_settings):
    soon = timezone.now() + datetime.timedelta(minutes=2)
    event = {"uuid": "soon-1", "eventType": "x", "published": soon.isoformat()}

    assert post(client, delivery(event)).status_code == 200
    assert HookEvent.objects.filter(uuid="soon-1").exists()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("uuid", "a uuid of 65 characters, more than the maximum of 64"),
        ("eventType", "maximum of 128"),
    ],
)
def test_too_long_field_rejected(client, db, hook_settings, field, message):
    event = {"uuid": "u1", "eventType": "x", "published": "2026-01-01T00:00:00Z"}
    event[field] = "a" * (65 if field == "uuid" else 129)

    response = post(client, delivery(event))

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not HookEvent.objects.exists()


def test_oversized_body_gets_json_413(client, db, hook_settings, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = post(client, delivery(*[{"uuid": str(n)} for n in range(50)]))

    assert response.status_code == 413
    assert "larger than 100 bytes" in response.json()["error"]
