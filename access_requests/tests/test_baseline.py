"""A resource the portal starts managing: its Okta members are a baseline of pre-existing
access, enforce needs a confirmed dry run, and admins are never removed by enforcement."""

import json

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from access_requests import event_hooks
from access_requests.models import Drift, Grant, OktaOperation, Resource
from access_requests.services import reconciliation, resource_settings, revocation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.grants import add_member, group_without, is_member
from access_requests.tests.personas import sign_in

pytestmark = pytest.mark.slow


def open_drift(resource):
    return {
        (drift.user_okta_id, drift.kind)
        for drift in Drift.objects.filter(resource=resource, resolution=Drift.Resolution.OPEN)
    }


def settle():
    wait_for(
        lambda: (
            not OktaOperation.objects.filter(status__in=OktaOperation.OPEN).exists()
            and not Grant.objects.filter(status=Grant.Status.REVOKING).exists()
        ),
        timeout=60,
        message="the corrections to be applied",
    )


def mirror_members(okta_org, group_id: str, **fields):
    """Portal rows for every member of the group, as the user sync leaves them."""
    return [
        okta_data.portal_user(user, **fields)
        for user in okta_data.get_all(okta_org, f"/api/v1/groups/{group_id}/users?limit=200")
    ]


def enforce(client, resource):
    """Switch to enforce through the drift page, confirming the dry run; return the dry run."""
    url = f"/drift/resources/{resource.pk}/enforcement/"
    dry_run = client.post(url, {"enforcement": "enforce"})
    assert dry_run.status_code == 200
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.REPORT_ONLY
    confirmed = client.post(url, {"enforcement": "enforce", "confirm": "yes"})
    assert confirmed.status_code == 302
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.ENFORCE
    return dry_run.content.decode()


def test_enforcing_the_admin_group_keeps_every_admin(provisioning_worker, okta_settings, client):
    okta_org = okta_settings
    group = next(
        group
        for group in okta_data.okta_groups(okta_org)
        if group["profile"]["name"] == django_settings.PORTAL_ADMIN_GROUP
    )
    admins = mirror_members(okta_org, group["id"], is_admin=True)
    assert admins
    acting = admins[0]
    # An admin the portal has never seen, and one added after the baseline: still kept.
    late = okta_data.portal_user(
        next(
            u
            for u in okta_data.active_users(okta_org)
            if u["id"] not in {a.okta_id for a in admins}
        )
    )
    resource = okta_data.group_resource(group, baseline_taken_at=None)

    sign_in(client, acting)
    page = enforce(client, resource)
    assert "Would be removed from Okta (0)" in page
    reconciliation.reconcile_resource(resource)
    settle()
    add_member(okta_org, group["id"], late.okta_id)
    reconciliation.reconcile_resource(resource)
    settle()

    members = okta_data.group_member_ids(okta_org, group["id"])
    assert {admin.okta_id for admin in admins} | {late.okta_id} <= members
    drift = Drift.objects.get(resource=resource, user_okta_id=late.okta_id)
    assert drift.resolution == Drift.Resolution.OPEN
    assert "admin group" in drift.note
    assert "admin group" in client.get("/drift/").content.decode()


def test_baseline_members_are_not_drift(transactional_db, okta_settings):
    okta_org = okta_settings
    group = okta_data.okta_groups(okta_org)[0]
    members = mirror_members(okta_org, group["id"])
    assert members
    resource = okta_data.group_resource(group, baseline_taken_at=None)

    result = reconciliation.reconcile_resource(resource)

    assert result.ok
    assert open_drift(resource) == set()
    grants = Grant.objects.filter(resource=resource)
    assert {grant.user.okta_id for grant in grants} == {member.okta_id for member in members}
    assert all(
        grant.pre_existing and grant.status == Grant.Status.ACTIVE and grant.ends_at is None
        for grant in grants
    )
    reconciliation.reconcile_resource(resource)
    assert Grant.objects.filter(resource=resource).count() == len(members)


def test_member_added_after_baseline_is_removed_after_confirm(
    provisioning_worker, okta_settings, client
):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    admin = okta_data.portal_user(users[20], is_admin=True)
    intruder = okta_data.portal_user(users[21])
    group = group_without(okta_org, admin.okta_id, intruder.okta_id)
    members = mirror_members(okta_org, group["id"])
    resource = okta_data.group_resource(group, baseline_taken_at=None)
    reconciliation.reconcile_resource(resource)
    add_member(okta_org, group["id"], intruder.okta_id)
    reconciliation.reconcile_resource(resource)
    assert open_drift(resource) == {(intruder.okta_id, Drift.Kind.UNAPPROVED)}

    sign_in(client, admin)
    page = enforce(client, resource)
    assert "Would be removed from Okta (1)" in page
    assert intruder.login in page
    reconciliation.reconcile_resource(resource)
    settle()

    assert not is_member(okta_org, group["id"], intruder.okta_id)
    assert all(is_member(okta_org, group["id"], member.okta_id) for member in members)


def test_owner_revoke_removes_baseline_access(provisioning_worker, okta_settings, client):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    owner = okta_data.portal_user(users[20])
    group = group_without(okta_org, owner.okta_id)
    member = mirror_members(okta_org, group["id"])[0]
    resource = okta_data.group_resource(group, baseline_taken_at=None)
    resource.owners.add(owner)
    reconciliation.reconcile_resource(resource)
    grant = Grant.objects.get(user=member, resource=resource)
    assert grant.pre_existing

    sign_in(client, owner)
    url = f"/grants/{grant.pk}/revoke/"
    form = client.get(url).content.decode()
    assert "removes the access from Okta now" in form
    assert "before the portal recorded it" in form
    done = client.post(url, {"reason": "Contract ended"}, follow=True).content.decode()
    assert f"access to {resource.name} from Okta" in done
    settle()

    grant.refresh_from_db()
    assert grant.status == Grant.Status.REVOKED
    assert not is_member(okta_org, group["id"], member.okta_id)
    assert grant.operations.filter(action=OktaOperation.Action.REMOVE_MEMBER).exists()


def test_re_added_after_revoke_is_drift(provisioning_worker, okta_settings):
    okta_org = okta_settings
    group = okta_data.okta_groups(okta_org)[0]
    member = mirror_members(okta_org, group["id"])[0]
    resource = okta_data.group_resource(group, baseline_taken_at=None)
    reconciliation.reconcile_resource(resource)
    grant = Grant.objects.get(user=member, resource=resource)

    revocation.give_up_grant(grant, by=member)
    settle()
    assert not is_member(okta_org, group["id"], member.okta_id)
    add_member(okta_org, group["id"], member.okta_id)
    result = reconciliation.reconcile_resource(resource)

    assert member.okta_id in result.unapproved
    assert (member.okta_id, Drift.Kind.UNAPPROVED) in open_drift(resource)


def test_requestable_save_takes_baseline_now(provisioning_worker, okta_settings):
    okta_org = okta_settings
    group = okta_data.okta_groups(okta_org)[0]
    members = mirror_members(okta_org, group["id"])
    resource = okta_data.group_resource(group, baseline_taken_at=None, requestable=False)
    assert resource.managed_since is None

    before = resource_settings.snapshot(resource)
    resource.requestable = True
    with transaction.atomic():
        resource.save()
        resource_settings.apply_settings_change(resource, before, by=None)
    resource.refresh_from_db()
    assert resource.managed_since is not None

    resource = wait_for(
        lambda: Resource.objects.exclude(baseline_taken_at=None).filter(pk=resource.pk).first(),
        timeout=60,
        message="the baseline to be taken by the worker",
    )
    baseline = Grant.objects.filter(resource=resource, pre_existing=True)
    assert {grant.user.okta_id for grant in baseline} == {member.okta_id for member in members}


def test_hook_addition_before_baseline_is_drift(client, transactional_db, okta_settings, settings):
    okta_org = okta_settings
    settings.PORTAL_EVENT_HOOK_SECRET = "hook-secret-for-tests"
    settings.PORTAL_EVENT_HOOK_HEADER = "Authorization"
    late = okta_data.portal_user(okta_data.active_users(okta_org)[21])
    group = group_without(okta_org, late.okta_id)
    members = mirror_members(okta_org, group["id"])
    resource = okta_data.group_resource(group, baseline_taken_at=None)
    since = okta_data.emulator_now(okta_org)
    add_member(okta_org, group["id"], late.okta_id)
    (added,) = okta_data.log_events(okta_org, since, "group.user_membership.add")

    delivered = client.post(
        "/hooks/okta/",
        json.dumps({"data": {"events": [added]}}),
        content_type="application/json",
        headers={"Authorization": "hook-secret-for-tests"},
    )
    assert delivered.status_code == 200
    event_hooks.apply_pending_events()
    assert open_drift(resource) == {(late.okta_id, Drift.Kind.UNAPPROVED)}

    result = reconciliation.reconcile_resource(resource)

    assert late.okta_id in result.unapproved
    assert not Grant.objects.filter(user=late, resource=resource).exists()
    baseline = Grant.objects.filter(resource=resource, pre_existing=True)
    assert {grant.user.okta_id for grant in baseline} == {member.okta_id for member in members}
    assert open_drift(resource) == {(late.okta_id, Drift.Kind.UNAPPROVED)}


def test_enforce_confirm_removes_without_waiting(provisioning_worker, okta_settings, client):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    admin = okta_data.portal_user(users[20], is_admin=True)
    intruder = okta_data.portal_user(users[21])
    group = group_without(okta_org, admin.okta_id, intruder.okta_id)
    resource = okta_data.group_resource(group, baseline_taken_at=None)
    reconciliation.reconcile_resource(resource)
    add_member(okta_org, group["id"], intruder.okta_id)

    sign_in(client, admin)
    page = enforce(client, resource)
    assert "Would be removed from Okta (1)" in page

    wait_for(
        lambda: not is_member(okta_org, group["id"], intruder.okta_id),
        timeout=60,
        message="enforcement to remove the member without a grant",
    )
    assert Drift.objects.filter(
        resource=resource, user=intruder, resolution=Drift.Resolution.CORRECTED
    ).exists()
