"""Apps held through an Okta group assignment: the catalog sync, the resource page, submits
and the current-access report.

In the demo org, Okta assigns Salesforce to the Salesforce Users and Salesforce Admins groups,
and Zoe Turner is a member of Salesforce Users.
"""

import csv
import datetime
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests import errors, event_hooks, group_access, services
from access_requests.models import AppGroupAssignment, Grant, GroupMembership, Resource
from access_requests.tests import okta_data
from access_requests.tests.personas import make_user, sign_in
from accounts.models import User
from accounts.sync import sync_users
from audit import reports
from audit.models import AuditEvent

SALESFORCE = "0oaP8smL336o2yIj5vXy"
ZOE_LOGIN = "zoe.turner@example.com"
WEEK = datetime.timedelta(days=7)
HOOK_SECRET = "hook-secret-for-tests"


def sync_org() -> tuple[Resource, User]:
    """Copy the emulator's users and catalog; return Salesforce and Zoe Turner."""
    sync_users()
    services.sync_catalog()
    return Resource.objects.get(okta_id=SALESFORCE), User.objects.get(login=ZOE_LOGIN)


def group_names(assignments) -> set[str]:
    return {assignment.group.name for assignment in assignments}


# --- Catalog sync against the emulator ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_copies_app_groups_and_members(okta_settings):
    salesforce, zoe = sync_org()

    assignments = AppGroupAssignment.objects.filter(app=salesforce).select_related("group")
    assert group_names(assignments) == {"Salesforce Users", "Salesforce Admins"}
    assert GroupMembership.objects.filter(user=zoe, group__name="Salesforce Users").exists()
    event = AuditEvent.objects.get(action="catalog.synced")
    assert event.payload["app_group_assignments"] == AppGroupAssignment.objects.count()
    assert event.payload["group_memberships"] == GroupMembership.objects.count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_resync_drops_unassigned_group(okta_settings):
    salesforce, zoe = sync_org()
    users_group = Resource.objects.get(name="Salesforce Users")
    response = okta_settings.request(
        "DELETE", f"/api/v1/apps/{SALESFORCE}/groups/{users_group.okta_id}"
    )
    assert response.status == 204, response

    services.sync_catalog()

    assignments = AppGroupAssignment.objects.filter(app=salesforce).select_related("group")
    assert group_names(assignments) == {"Salesforce Admins"}
    assert not GroupMembership.objects.filter(group=users_group).exists()
    assert group_access.groups_giving_app(zoe, salesforce) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_inactive_app_gives_no_group_access(okta_settings):
    salesforce, zoe = sync_org()
    response = okta_settings.request("POST", f"/api/v1/apps/{SALESFORCE}/lifecycle/deactivate")
    assert response.status == 200, response

    services.sync_catalog()

    assert not AppGroupAssignment.objects.filter(app=salesforce).exists()
    salesforce.refresh_from_db()
    assert group_access.groups_giving_app(zoe, salesforce) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_resource_page_names_the_group(okta_settings, client):
    salesforce, zoe = sync_org()
    Resource.objects.filter(pk=salesforce.pk).update(requestable=True)
    sign_in(client, zoe)

    page = client.get(reverse("access_requests:resource_detail", args=[salesforce.pk]))

    text = page.content.decode()
    assert "You have this through the Salesforce Users group in Okta" in text
    assert "You do not have this access." not in text
    assert "You already have this access." in text
    assert 'name="justification"' not in text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_submit_rejected_when_held_through_group(okta_settings):
    salesforce, zoe = sync_org()
    Resource.objects.filter(pk=salesforce.pk).update(
        requestable=True, approval_policy=Resource.ApprovalPolicy.MANAGER
    )
    salesforce.refresh_from_db()

    with pytest.raises(errors.AccessAlreadyHeld) as raised:
        services.submit_request(
            zoe, salesforce, justification="CRM work", ends_at=timezone.now() + WEEK
        )

    assert "through the Salesforce Users group in Okta" in raised.value.message
    assert "nothing to request" in raised.value.message
    assert not zoe.access_requests.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_current_access_lists_group_holders(okta_settings, client):
    salesforce, zoe = sync_org()
    admin = User.objects.filter(is_admin=True).first()
    assert admin is not None, "the demo org should have a portal admin"
    sign_in(client, admin)

    rows = list(reports.current_access_rows())
    export = client.get(reverse("audit:current_access_export", args=["csv"]))

    zoe_rows = [
        row
        for row in rows
        if row["user_login"] == ZOE_LOGIN and row["resource_name"] == "Salesforce"
    ]
    assert len(zoe_rows) == 1
    assert zoe_rows[0]["approved_by"] == "through group Salesforce Users"
    assert zoe_rows[0]["through_group"] == "Salesforce Users"
    assert zoe_rows[0]["grant_id"] is None
    members = GroupMembership.objects.filter(group__name="Salesforce Users").count()
    salesforce_rows = [row for row in rows if row["resource_okta_id"] == SALESFORCE]
    assert len(salesforce_rows) >= members
    exported = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert any(
        row["user_login"] == ZOE_LOGIN and row["through_group"] == "Salesforce Users"
        for row in exported
    )


# --- Membership rules, on the database alone --------------------------------------------------


def make_app_with_group(**group_fields) -> tuple[Resource, Resource]:
    app = Resource.objects.create(
        kind=Resource.Kind.APP, okta_id="0oaapp", name="Wiki", okta_status="ACTIVE"
    )
    group = Resource.objects.create(
        kind=Resource.Kind.GROUP,
        okta_id="00gwiki",
        name="Wiki Editors",
        group_type=Resource.GroupType.OKTA_GROUP,
        **group_fields,
    )
    AppGroupAssignment.objects.create(app=app, group=group)
    return app, group


@pytest.mark.django_db
def test_active_group_grant_gives_app():
    app, group = make_app_with_group()
    user = make_user("ana.lima")
    Grant.objects.create(user=user, resource=group, status=Grant.Status.ACTIVE)

    assert group_access.groups_giving_app(user, app) == [group]
    rows = list(group_access.app_access_through_groups())
    assert rows == [
        {
            "app_name": "Wiki",
            "app_okta_id": "0oaapp",
            "user_login": user.login,
            "user_okta_id": user.okta_id,
            "group_name": "Wiki Editors",
        }
    ]


@pytest.mark.django_db
def test_grant_ended_after_sync_hides_membership():
    app, group = make_app_with_group()
    user = make_user("ana.lima")
    synced_at = timezone.now() - datetime.timedelta(minutes=30)
    GroupMembership.objects.create(group=group, user=user, synced_at=synced_at)
    assert group_access.groups_giving_app(user, app) == [group]

    Grant.objects.create(user=user, resource=group, status=Grant.Status.REVOKED)

    assert group_access.groups_giving_app(user, app) == []
    assert list(group_access.app_access_through_groups()) == []


@pytest.mark.django_db
def test_pre_existing_grant_end_hides_membership():
    app, group = make_app_with_group()
    user = make_user("ana.lima")
    synced_at = timezone.now() - datetime.timedelta(minutes=30)
    GroupMembership.objects.create(group=group, user=user, synced_at=synced_at)

    Grant.objects.create(user=user, resource=group, status=Grant.Status.REVOKED, pre_existing=True)

    assert group_access.groups_giving_app(user, app) == []


@pytest.mark.django_db
def test_describe_groups_joins_names():
    first = Resource(name="Sales")
    second = Resource(name="Support")
    third = Resource(name="Finance")

    assert group_access.describe_groups([first]) == "the Sales group"
    assert group_access.describe_groups([first, second]) == "the Sales and Support groups"
    assert (
        group_access.describe_groups([first, second, third])
        == "the Sales, Support and Finance groups"
    )


@pytest.mark.django_db
def test_report_index_mentions_group_access(client):
    admin = make_user("ada.admin", is_admin=True)
    sign_in(client, admin)

    page = client.get(reverse("audit:reports"))

    assert page.status_code == 200
    assert "through an Okta group assignment" in page.content.decode()


# --- Event hook membership events ------------------------------------------------------------


def deliver_hook_event(client, event: dict) -> None:
    """Post one System Log event to the hook endpoint and apply it, as the worker would."""
    response = client.post(
        "/hooks/okta/",
        json.dumps({"eventType": "com.okta.event_hook", "data": {"events": [event]}}),
        content_type="application/json",
        headers={"Authorization": HOOK_SECRET},
    )
    assert response.status_code == 200, response.content
    event_hooks.apply_pending_events()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_membership_events_update_app_access(okta_settings, settings, client):
    settings.PORTAL_EVENT_HOOK_SECRET = HOOK_SECRET
    settings.PORTAL_EVENT_HOOK_HEADER = "Authorization"
    salesforce, zoe = sync_org()
    group = Resource.objects.get(name="Salesforce Users", kind=Resource.Kind.GROUP)
    path = f"/api/v1/groups/{group.okta_id}/users/{zoe.okta_id}"

    since = okta_data.emulator_now(okta_settings)
    okta_settings.request("DELETE", path)
    (removed,) = okta_data.log_events(okta_settings, since, "group.user_membership.remove")
    deliver_hook_event(client, removed)

    assert not GroupMembership.objects.filter(group=group, user=zoe).exists()
    assert group_access.groups_giving_app(zoe, salesforce) == []

    since = okta_data.emulator_now(okta_settings)
    okta_settings.request("PUT", path)
    (added,) = okta_data.log_events(okta_settings, since, "group.user_membership.add")
    deliver_hook_event(client, added)

    assert GroupMembership.objects.filter(group=group, user=zoe).exists()
    assert group_access.groups_giving_app(zoe, salesforce) == [group]


@pytest.mark.django_db
def test_membership_event_skips_unassigned_group():
    user = make_user("dana")
    group = Resource.objects.create(okta_id="00gplain", kind=Resource.Kind.GROUP, name="Plain")

    group_access.apply_membership_event(user.okta_id, group.okta_id, True)

    assert not GroupMembership.objects.exists()
