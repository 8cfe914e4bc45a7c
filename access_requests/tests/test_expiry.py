"""Expiry end to end: the sweep, a real worker, and the emulator's Management API."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from access_requests import errors, services
from access_requests.models import (
    AccessRequest,
    ApprovalStep,
    ExpiryReminder,
    Grant,
    OktaOperation,
    Resource,
)
from access_requests.services import expiry, reconciliation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.grants import (
    active_grant,
    add_member,
    group_without,
    is_member,
    wait_until_closed,
)
from audit.models import AuditEvent

pytestmark = pytest.mark.slow

ENDED = -datetime.timedelta(seconds=1)


def holder_and_group(okta_org, **resource_fields):
    holder_okta = okta_data.active_users(okta_org)[10]
    holder = okta_data.portal_user(holder_okta)
    resource = okta_data.group_resource(group_without(okta_org, holder.okta_id), **resource_fields)
    return holder, resource


def test_ended_grant_removed_and_stays_removed(provisioning_worker, okta_settings):
    okta_org = okta_settings
    holder, resource = holder_and_group(okta_org, enforcement=Resource.Enforcement.ENFORCE)
    grant = active_grant(okta_org, holder, resource, ends_in=ENDED)

    assert expiry.expire_grants() == 1
    grant = wait_until_closed(grant)

    assert grant.status == Grant.Status.EXPIRED
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    assert grant.operations.get().action == OktaOperation.Action.REMOVE_MEMBER
    # Neither the catalog sync nor an enforcing reconciliation brings the access back.
    services.sync_catalog()
    result = reconciliation.reconcile_resource(resource)
    assert result.ok
    assert holder.okta_id not in result.missing | result.unapproved
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    assert Grant.objects.get(pk=grant.pk).status == Grant.Status.EXPIRED
    assert expiry.expire_grants() == 0


def test_failing_removal_stays_pending_until_okta_recovers(provisioning_worker, okta_settings):
    okta_org = okta_settings
    holder, resource = holder_and_group(okta_org)
    grant = active_grant(okta_org, holder, resource, ends_in=ENDED)
    okta_org.set_fault("/api/v1/groups/*/users/*", status=500, methods=["DELETE"])

    expiry.expire_grants()
    operation = wait_for(
        lambda: OktaOperation.objects.filter(grant=grant, attempts__gte=2).first(),
        timeout=60,
        message="the removal to be retried",
    )

    assert Grant.objects.get(pk=grant.pk).status == Grant.Status.REVOKING
    assert operation.last_error
    assert is_member(okta_org, resource.okta_id, holder.okta_id)
    okta_org.clear_faults()
    grant = wait_for(
        lambda: Grant.objects.filter(pk=grant.pk, status__in=Grant.TERMINAL).first(),
        timeout=60,
        message="the removal after Okta recovered",
    )
    assert grant.status == Grant.Status.EXPIRED
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)


def test_pre_existing_membership_removed_at_expiry(provisioning_worker, okta_settings):
    okta_org = okta_settings
    holder, resource = holder_and_group(okta_org)
    owner = okta_data.portal_user(okta_data.active_users(okta_org)[11])
    resource.owners.add(owner)
    add_member(okta_org, resource.okta_id, holder.okta_id)
    request_obj, _ = services.submit_request(
        holder,
        resource,
        justification="On call",
        ends_at=timezone.now() + datetime.timedelta(days=1),
    )
    services.decide_step(request_obj.steps.get(), by=owner, approve=True)
    grant = wait_for(
        lambda: Grant.objects.filter(pk=request_obj.grant.pk, status=Grant.Status.ACTIVE).first(),
        timeout=60,
        message="the grant to be applied",
    )
    assert grant.pre_existing

    assert expiry.expire_grants(now=grant.ends_at + datetime.timedelta(seconds=1)) == 1

    grant = wait_until_closed(grant)
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    assert grant.operations.filter(action=OktaOperation.Action.REMOVE_MEMBER).exists()
    event = AuditEvent.objects.filter(
        action__in=("grant.expired", "grant.revoked"), target_id=str(grant.pk)
    ).get()
    assert "kept_in_okta" not in event.payload


def test_reminders_go_out_once_per_threshold(db, settings, django_capture_on_commit_callbacks):
    settings.PORTAL_GRANT_REMINDER_DAYS = (7, 1)
    from access_requests.tests.personas import make_resource, make_user

    holder = make_user("hal.holder")
    resource = make_resource("Reminder Group")
    now = timezone.now()
    grant = Grant.objects.create(
        user=holder,
        resource=resource,
        status=Grant.Status.ACTIVE,
        ends_at=now + datetime.timedelta(days=5),
    )
    with_end_soon = Grant.objects.create(
        user=make_user("sue.soon"),
        resource=resource,
        status=Grant.Status.ACTIVE,
        ends_at=now + datetime.timedelta(hours=12),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.send_reminders(now) == 2
        assert expiry.send_reminders(now) == 0
    assert len(mail.outbox) == 2
    assert f"/grants/{grant.pk}/extend/" in mail.outbox[0].body + mail.outbox[1].body
    # Inside both thresholds at once: one mail, both recorded.
    assert set(with_end_soon.reminders.values_list("days_before", flat=True)) == {1, 7}

    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.send_reminders(now + datetime.timedelta(days=4, hours=1)) == 1
    assert ExpiryReminder.objects.filter(grant=grant).count() == 2
    assert len(mail.outbox) == 3


def test_extension_goes_through_approval_and_moves_the_end(db):
    from access_requests.tests.personas import make_resource, make_user

    owner = make_user("olive.owner")
    holder = make_user("hank.holder")
    resource = make_resource(
        "Data Lake", approval_policy=Resource.ApprovalPolicy.OWNERS, max_duration_days=30
    )
    resource.owners.add(owner)
    old_end = timezone.now() + datetime.timedelta(days=2)
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=old_end
    )
    new_end = old_end + datetime.timedelta(days=10)

    extension, created = expiry.request_extension(
        grant, by=holder, ends_at=new_end, justification="Project runs longer"
    )
    again, created_again = expiry.request_extension(
        grant, by=holder, ends_at=new_end, justification="Project runs longer"
    )
    assert created
    assert not created_again
    assert again == extension
    assert Grant.objects.get(pk=grant.pk).ends_at == old_end
    services.decide_step(extension.steps.get(), by=owner, approve=True)

    grant.refresh_from_db()
    assert grant.ends_at == new_end
    assert grant.status == Grant.Status.ACTIVE
    assert Grant.objects.filter(user=holder, resource=resource).count() == 1
    with pytest.raises(errors.InvalidDuration):
        expiry.request_extension(
            grant, by=holder, ends_at=new_end + datetime.timedelta(days=60), justification="x"
        )


def test_owner_renews_and_outsider_cannot(db, client):
    from access_requests.tests.personas import make_resource, make_user, sign_in

    owner = make_user("owen.owner")
    holder = make_user("hilda.holder")
    resource = make_resource("Build Farm")
    resource.owners.add(owner)
    ends_at = timezone.now() + datetime.timedelta(days=3)
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=ends_at
    )

    sign_in(client, owner)
    page = client.get("/expiring/")
    assert holder.get_full_name() in page.content.decode()
    assert client.post(f"/grants/{grant.pk}/renew/", {"days": 30}).status_code == 302
    grant.refresh_from_db()
    assert grant.ends_at == ends_at + datetime.timedelta(days=30)

    sign_in(client, holder)
    assert "No access on your resources ends" in client.get("/expiring/").content.decode()
    assert client.post(f"/grants/{grant.pk}/renew/", {"days": 30}).status_code == 403


def test_deleted_resource_closes_requests_and_grants(db):
    from access_requests.services import reconciliation
    from access_requests.tests.personas import make_resource, make_user, submit

    requester = make_user("rita.requester", manager=make_user("mark.manager"))
    resource = make_resource("Old Team")
    resource.owners.add(make_user("otis.owner"))
    pending = submit(requester, resource)
    grant = Grant.objects.create(
        user=make_user("gus.grantee"), resource=resource, status=Grant.Status.ACTIVE
    )
    resource.deleted_in_okta_at = timezone.now()
    resource.save()

    assert reconciliation.close_deleted_resources() == 2

    pending.refresh_from_db()
    grant.refresh_from_db()
    assert pending.status == AccessRequest.Status.CANCELLED
    assert "deleted in Okta" in pending.closed_reason
    assert grant.status == Grant.Status.REVOKED
    assert not grant.operations.exists()
    # A new group with the same name is a new resource and inherits nothing.
    successor = make_resource("Old Team", okta_id="00gOldTeamSuccessor")
    assert not successor.grants.exists()
    assert not successor.requests.exists()


def pending_extension():
    """Return (owner, holder, grant, extension): an active grant with an extension to approve."""
    from access_requests.tests.personas import make_resource, make_user

    owner = make_user("olli.owner")
    holder = make_user("hedy.holder")
    resource = make_resource("Data Lake", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(owner)
    ends_at = timezone.now() + datetime.timedelta(days=2)
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=ends_at
    )
    extension, _created = expiry.request_extension(
        grant, by=holder, ends_at=ends_at + datetime.timedelta(days=5), justification="Longer"
    )
    return owner, holder, grant, extension


def run_callbacks_but_sending(callbacks) -> None:
    """Run after-commit callbacks except those that send Okta operations: no broker here."""
    from access_requests.services import provisioning

    for callback in callbacks:
        if getattr(callback, "func", None) is not provisioning.send_operation:
            callback()


def test_revoked_grant_cancels_pending_extension(db, django_capture_on_commit_callbacks):
    from access_requests.services import revocation

    owner, holder, grant, extension = pending_extension()

    with django_capture_on_commit_callbacks() as callbacks:
        revocation.revoke_grant(grant, by=owner, reason="Project closed.")
    with django_capture_on_commit_callbacks(execute=True):
        run_callbacks_but_sending(callbacks)

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.CANCELLED
    assert "would extend is ending or has ended" in extension.closed_reason
    assert extension.steps.get().status == ApprovalStep.Status.CANCELLED
    event = AuditEvent.objects.get(action="request.cancelled", access_request_id=extension.pk)
    assert event.payload["extends_grant"] == grant.pk
    [notice] = mail.outbox
    assert notice.to == [holder.email]
    assert extension.closed_reason in notice.body
    # The holder can ask anew instead of being sent back to the dead extension.
    fresh, created = services.submit_request(
        holder,
        grant.resource,
        justification="Again",
        ends_at=timezone.now() + datetime.timedelta(days=7),
    )
    assert created
    assert fresh.pk != extension.pk


def test_request_sweep_cancels_stale_extension(db):
    _owner, _holder, grant, extension = pending_extension()
    Grant.objects.filter(pk=grant.pk).update(status=Grant.Status.EXPIRED)

    services.expire_pending_requests()

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.CANCELLED
    assert "would extend is ending or has ended" in extension.closed_reason


def test_active_grant_keeps_pending_extension(db):
    _owner, _holder, grant, extension = pending_extension()

    services.expire_pending_requests()

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.PENDING


def test_automatic_extension_submitted_twice(db):
    from access_requests.tests.personas import make_resource, make_user

    holder = make_user("hal.holder")
    resource = make_resource("VPN Users", approval_policy=Resource.ApprovalPolicy.AUTOMATIC)
    old_end = timezone.now() + datetime.timedelta(days=2)
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=old_end
    )
    new_end = old_end + datetime.timedelta(days=7)

    first, first_created = expiry.request_extension(
        grant, by=holder, ends_at=new_end, justification="Travel"
    )
    second, second_created = expiry.request_extension(
        grant, by=holder, ends_at=new_end, justification="Travel"
    )

    assert first_created
    assert first.status == AccessRequest.Status.APPROVED
    assert not second_created
    assert second.pk == first.pk
    grant.refresh_from_db()
    assert grant.ends_at == new_end
    with pytest.raises(errors.InvalidDuration, match="must end later"):
        expiry.request_extension(grant, by=holder, ends_at=new_end, justification="Other")
