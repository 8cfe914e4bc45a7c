"""Offboarding end to end: a user deactivated in the emulator, the user sync, a real worker."""

import pytest

from access_requests import errors, services
from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
from access_requests.services import offboarding
from access_requests.tests import okta_data
from access_requests.tests.grants import active_grant, group_without, is_member, wait_until_closed
from accounts.models import OktaStatus
from accounts.sync import sync_users

pytestmark = pytest.mark.slow


def report_and_manager(okta_org):
    """An active Okta user whose profile names another active user as manager."""
    users = okta_data.active_users(okta_org)
    by_id = {user["id"]: user for user in users}
    for user in users:
        manager = by_id.get(user["profile"].get("managerId") or "")
        if manager is not None and manager["id"] != user["id"]:
            return user, manager, [u for u in users if u["id"] not in (user["id"], manager["id"])]
    raise AssertionError("the seed org has no active user with an active manager")


def test_deactivated_user_loses_access_and_approvals(provisioning_worker, okta_settings):
    okta_org = okta_settings
    report_okta, manager_okta, others = report_and_manager(okta_org)
    manager = okta_data.portal_user(manager_okta)
    report = okta_data.portal_user(report_okta, manager=manager)
    owner = okta_data.portal_user(others[0])
    groups = [group for group in okta_data.okta_groups(okta_org)]
    held_group = group_without(okta_org, manager.okta_id)
    other_groups = [group for group in groups if group["id"] != held_group["id"]]
    held = okta_data.group_resource(held_group)
    wanted = okta_data.group_resource(other_groups[0])
    wanted.owners.add(owner)
    reports_resource = okta_data.group_resource(
        other_groups[1], approval_policy=Resource.ApprovalPolicy.MANAGER_THEN_OWNERS
    )
    reports_resource.owners.add(owner)

    grant = active_grant(okta_org, manager, held)
    own_request, _ = services.submit_request(manager, wanted, justification="x", ends_at=None)
    report_request, _ = services.submit_request(
        report, reports_resource, justification="x", ends_at=None
    )
    manager_step = report_request.steps.get(position=1)
    assert list(manager_step.approvers.all()) == [manager]

    response = okta_org.request("POST", f"/api/v1/users/{manager.okta_id}/lifecycle/deactivate")
    assert response.status == 200, response
    sync_users()
    manager.refresh_from_db()
    assert manager.okta_status == OktaStatus.DEPROVISIONED

    assert offboarding.offboard_departed_users() == 1
    grant = wait_until_closed(grant)

    assert grant.status == Grant.Status.REVOKED
    assert not is_member(okta_org, held.okta_id, manager.okta_id)
    own_request.refresh_from_db()
    assert own_request.status == AccessRequest.Status.CANCELLED
    assert "deprovisioned" in own_request.closed_reason
    manager_step.refresh_from_db()
    assert manager_step.status == ApprovalStep.Status.SKIPPED
    owner_step = report_request.steps.get(position=2)
    assert owner_step.status == ApprovalStep.Status.WAITING
    assert list(owner_step.approvers.all()) == [owner]
    with pytest.raises(errors.RequesterNotActive):
        services.submit_request(manager, wanted, justification="x", ends_at=None)
    # Nothing is left to undo, so the next run leaves the user alone.
    assert offboarding.offboard_departed_users() == 0


def test_departed_manager_step_goes_to_owners(db):
    from access_requests.tests.personas import make_resource, make_user, submit

    manager = make_user("mona.manager")
    requester = make_user("ray.report", manager=manager)
    owner = make_user("oscar.owner")
    resource = make_resource("Payroll", approval_policy=Resource.ApprovalPolicy.MANAGER)
    resource.owners.add(owner)
    step = submit(requester, resource).steps.get()
    manager.okta_status = OktaStatus.SUSPENDED
    manager.is_active = False
    manager.save()

    counts = offboarding.offboard_user(manager)

    step.refresh_from_db()
    assert counts["steps_reassigned"] == 1
    assert step.status == ApprovalStep.Status.WAITING
    assert step.kind == ApprovalStep.Kind.OWNER
    assert list(step.approvers.all()) == [owner]


def test_step_without_any_approver_cancels_request(db, django_capture_on_commit_callbacks):
    from django.core import mail

    from access_requests.tests.personas import make_resource, make_user, submit
    from audit.models import AuditEvent

    requester = make_user("rita.requester")
    owner = make_user("otto.owner")
    resource = make_resource("Ledger", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(owner)
    access_request = submit(requester, resource)
    owner.okta_status = OktaStatus.DEPROVISIONED
    owner.is_active = False
    owner.save()

    with django_capture_on_commit_callbacks(execute=True):
        offboarding.offboard_user(owner)

    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.CANCELLED
    assert "the last approver of step 1, left" in access_request.closed_reason
    assert "Ask your Okta administrator" in access_request.closed_reason
    step = access_request.steps.get()
    assert step.status == ApprovalStep.Status.CANCELLED
    event = AuditEvent.objects.get(action="request.cancelled", access_request_id=access_request.pk)
    assert event.payload["reason"] == access_request.closed_reason
    assert event.payload["removed_approver"] == owner.okta_id
    [notice] = mail.outbox
    assert notice.to == [requester.email]
    assert "was cancelled" in notice.subject
    assert access_request.closed_reason in notice.body
    assert "applying the change" not in notice.body
    assert offboarding.offboard_departed_users() == 0


def test_reactivated_user_sees_removed_access(db, client, django_capture_on_commit_callbacks):
    from access_requests.tests.personas import make_resource, make_user, sign_in, submit

    finn = make_user("finn.larsen")
    owner = make_user("olivia.owner")
    vpn = make_resource("VPN Users")
    figma = make_resource("Figma", approval_policy=Resource.ApprovalPolicy.OWNERS)
    figma.owners.add(owner)
    Grant.objects.create(user=finn, resource=vpn, status=Grant.Status.ACTIVE, pre_existing=True)
    pending = submit(finn, figma)
    finn.okta_status = OktaStatus.SUSPENDED
    finn.save(update_fields=["okta_status"])
    with django_capture_on_commit_callbacks(execute=True):
        offboarding.offboard_user(finn)
    finn.okta_status = OktaStatus.ACTIVE
    finn.save(update_fields=["okta_status"])
    sign_in(client, finn)

    page = client.get("/").content.decode()

    assert "Access removed when your Okta account was suspended or deactivated" in page
    assert "Reactivating the account in Okta does not restore any of it." in page
    assert "VPN Users" in page
    assert "Access you had before the portal recorded it" in page
    assert f"request #{pending.pk}</a>, cancelled" in page
    assert "finn.larsen@example.com is suspended in Okta." in page

    submit(finn, figma)
    page = client.get("/").content.decode()
    assert f"request #{pending.pk}</a>, cancelled" not in page
    assert "VPN Users" in page
