"""Submitting, approving, cancelling and expiring requests through the services.

These tests need no broker: the provisioning task is sent when a transaction commits, and a
test's transaction never commits. Provisioning itself is tested with a real worker in
test_provisioning.py and test_reliability.py.
"""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.utils import timezone

from access_requests import errors, services
from access_requests.models import AccessRequest, ApprovalStep, Grant, OktaOperation, Resource
from access_requests.policy import plan_steps
from accounts.models import OktaStatus, User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

Policy = Resource.ApprovalPolicy
Kind = ApprovalStep.Kind


def make_user(name: str, **fields) -> User:
    return User.objects.create_user(
        okta_id=f"00u{name}", login=f"{name}@example.com", email=f"{name}@example.com", **fields
    )


def make_resource(name: str = "Wiki editors", **fields) -> Resource:
    defaults = {
        "kind": Resource.Kind.GROUP,
        "okta_id": f"00g{name.replace(' ', '')}",
        "group_type": Resource.GroupType.OKTA_GROUP,
        "requestable": True,
        "approval_policy": Policy.MANAGER_THEN_OWNERS,
        "max_duration_days": 30,
    }
    defaults.update(fields)
    return Resource.objects.create(name=name, **defaults)


@pytest.fixture
def people():
    class People:
        manager = make_user("manager")
        requester = make_user("requester", manager=manager)
        owner = make_user("owner")
        admin = make_user("admin", is_admin=True)
        outsider = make_user("outsider")

    return People


@pytest.fixture
def resource(people):
    resource = make_resource()
    resource.owners.add(people.owner)
    return resource


def in_days(days: int) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=days)


def submit(requester, resource, **overrides):
    arguments = {"justification": "Quarterly report", "ends_at": in_days(7)}
    arguments.update(overrides)
    return services.submit_request(requester, resource, **arguments)


def actions(request_obj) -> list[str]:
    return list(
        AuditEvent.objects.filter(access_request_id=request_obj.pk)
        .order_by("sequence")
        .values_list("action", flat=True)
    )


# --- Submitting -----------------------------------------------------------------------------


def test_submit_creates_manager_step(people, resource):
    request_obj, created = submit(people.requester, resource)

    assert created
    assert request_obj.status == AccessRequest.Status.PENDING
    first, second = request_obj.steps.order_by("position")
    assert (first.kind, first.status) == (Kind.MANAGER, ApprovalStep.Status.WAITING)
    assert list(first.approvers.all()) == [people.manager]
    assert (second.kind, second.status) == (Kind.OWNER, ApprovalStep.Status.QUEUED)
    assert list(second.approvers.all()) == [people.owner]
    assert actions(request_obj) == ["request.submitted", "step.waiting"]


def test_double_submit_returns_existing(people, resource):
    first, first_created = submit(people.requester, resource)
    second, second_created = submit(people.requester, resource, justification="again")

    assert first_created
    assert not second_created
    assert second.pk == first.pk
    assert AccessRequest.objects.count() == 1


def test_double_submit_returns_automatic_request(people):
    resource = make_resource("VPN Users", approval_policy=Policy.AUTOMATIC)

    first, first_created = submit(people.requester, resource)
    second, second_created = submit(people.requester, resource, justification="again")

    assert first_created
    assert first.status == AccessRequest.Status.APPROVED
    assert not second_created
    assert second.pk == first.pk
    assert AccessRequest.objects.count() == 1
    assert Grant.objects.filter(user=people.requester, resource=resource).count() == 1


def test_resubmit_after_approval_steps_rejected(people, resource):
    """A grant from an approval step is no automatic request: a new submit is rejected."""
    request_obj, _created = submit(people.requester, resource)
    services.decide_step(request_obj.steps.get(position=1), by=people.manager, approve=True)
    services.decide_step(request_obj.steps.get(position=2), by=people.owner, approve=True)

    with pytest.raises(errors.AccessAlreadyHeld, match="already approved and being applied"):
        submit(people.requester, resource)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"requestable": False}, "not enabled by an admin"),
        ({"group_type": Resource.GroupType.APP_GROUP}, "imported into Okta"),
        ({"group_type": Resource.GroupType.BUILT_IN}, "built-in Okta group"),
        ({"deleted_in_okta_at": timezone.now()}, "no longer exists in Okta"),
    ],
)
def test_submit_rejects_unrequestable(people, fields, message):
    resource = make_resource(**fields)

    with pytest.raises(errors.NotRequestable, match=message):
        submit(people.requester, resource)
    assert not AccessRequest.objects.exists()


def test_submit_rejects_inactive_requester(people, resource):
    people.requester.okta_status = OktaStatus.SUSPENDED
    people.requester.save()

    with pytest.raises(errors.RequesterNotActive, match="not active"):
        submit(people.requester, resource)


def test_submit_rejects_access_already_held(people, resource):
    Grant.objects.create(user=people.requester, resource=resource, status=Grant.Status.ACTIVE)

    with pytest.raises(errors.AccessAlreadyHeld, match="already have access"):
        submit(people.requester, resource)


def test_submit_requires_justification(people, resource):
    with pytest.raises(errors.JustificationRequired, match="justification is required"):
        submit(people.requester, resource, justification="   ")


def test_submit_allows_missing_justification_when_optional(people, resource):
    resource.justification_required = False
    resource.save()

    _request, created = submit(people.requester, resource, justification="")

    assert created


def test_submit_rejects_duration_over_maximum(people, resource):
    with pytest.raises(errors.InvalidDuration, match="at most 30 days"):
        submit(people.requester, resource, ends_at=in_days(31))


def test_submit_rejects_past_end(people, resource):
    with pytest.raises(errors.InvalidDuration, match="in the past"):
        submit(people.requester, resource, ends_at=in_days(-1))


def test_submit_no_end_needs_permission(people, resource):
    with pytest.raises(errors.InvalidDuration, match="needs an end date"):
        submit(people.requester, resource, ends_at=None)

    resource.allow_no_end = True
    resource.save()
    request_obj, _created = submit(people.requester, resource, ends_at=None)
    assert request_obj.requested_ends_at is None


def test_custom_end_date_is_end_of_day_in_default_zone(people, resource, settings):
    settings.PORTAL_DEFAULT_TIME_ZONE = "America/New_York"
    # Today in New York, which is the day before the UTC date from 00:00 to 05:00 UTC.
    today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("America/New_York")).date()
    day = today + datetime.timedelta(days=30)

    request_obj, _created = submit(people.requester, resource, ends_at=day)

    local = request_obj.requested_ends_at.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert local.date() == day
    assert (local.hour, local.minute, local.second) == (23, 59, 59)


def test_custom_end_date_uses_requester_zone(people, resource, settings):
    settings.PORTAL_DEFAULT_TIME_ZONE = "UTC"
    people.requester.time_zone = "Asia/Tokyo"
    day = (timezone.now() + datetime.timedelta(days=3)).date()

    request_obj, _created = submit(people.requester, resource, ends_at=day)

    assert request_obj.requested_ends_at == services.end_of_day(day, "Asia/Tokyo")


def test_end_of_day_across_daylight_saving():
    # 2026-03-08 has 23 hours in New York (clocks go forward at 02:00).
    end = services.end_of_day(datetime.date(2026, 3, 8), "America/New_York")

    assert end.utcoffset() == datetime.timedelta(hours=-4)
    assert end.astimezone(datetime.UTC) == datetime.datetime(
        2026, 3, 9, 3, 59, 59, 999999, tzinfo=datetime.UTC
    )


def test_end_of_day_rejects_unknown_zone():
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        services.end_of_day(datetime.date(2026, 1, 1), "Mars/Olympus")


def test_automatic_policy_approves_at_once(people, resource):
    resource.approval_policy = Policy.AUTOMATIC
    resource.save()

    request_obj, _created = submit(people.requester, resource)

    request_obj.refresh_from_db()
    assert request_obj.status == AccessRequest.Status.APPROVED
    assert request_obj.grant.status == Grant.Status.PROVISIONING
    operation = request_obj.grant.operations.get()
    assert operation.action == OktaOperation.Action.ADD_MEMBER
    assert operation.status == OktaOperation.Status.PENDING
    assert actions(request_obj) == ["request.submitted", "request.approved", "grant.created"]


# --- Policy fall-through ----------------------------------------------------------------------


def planned(resource, requester) -> list[tuple[str, list[str]]]:
    return [
        (step.kind, sorted(user.login for user in step.approvers))
        for step in plan_steps(resource, requester)
    ]


def test_policy_without_manager_asks_owners_once(people, resource):
    people.requester.manager = None
    people.requester.save()

    assert planned(resource, people.requester) == [(Kind.OWNER, ["owner@example.com"])]


@pytest.mark.parametrize("status", [OktaStatus.SUSPENDED, OktaStatus.DEPROVISIONED])
def test_policy_skips_inactive_manager(people, resource, status):
    people.manager.okta_status = status
    people.manager.save()
    resource.approval_policy = Policy.MANAGER
    resource.save()

    assert planned(resource, people.requester) == [(Kind.OWNER, ["owner@example.com"])]


def test_policy_skips_self_manager(people, resource):
    people.requester.manager = people.requester
    people.requester.save()
    resource.approval_policy = Policy.MANAGER
    resource.save()

    assert planned(resource, people.requester) == [(Kind.OWNER, ["owner@example.com"])]


def test_policy_without_owners_asks_admins(people):
    resource = make_resource(approval_policy=Policy.OWNERS)

    assert planned(resource, people.requester) == [(Kind.ADMIN, ["admin@example.com"])]


def test_owner_requesting_own_resource_goes_to_admins(people, resource):
    resource.approval_policy = Policy.OWNERS
    resource.save()

    assert planned(resource, people.owner) == [(Kind.ADMIN, ["admin@example.com"])]


def test_sole_admin_cannot_submit_to_themself(people):
    resource = make_resource(approval_policy=Policy.OWNERS)

    with pytest.raises(errors.NotRequestable) as refused:
        submit(people.admin, resource)
    assert "Nobody but you can approve" in refused.value.message
    assert "you are the only active one" in refused.value.message
    assert "Add another owner to Wiki editors" in refused.value.message
    assert not AccessRequest.objects.exists()


def test_submit_without_any_admin_says_whom_to_ask(people, settings):
    settings.PORTAL_ADMIN_GROUP = "Portal Admins"
    people.admin.is_admin = False
    people.admin.save()
    resource = make_resource(approval_policy=Policy.OWNERS)

    with pytest.raises(errors.NotRequestable) as refused:
        submit(people.requester, resource)
    assert "Nobody can approve requests for Wiki editors" in refused.value.message
    assert "there is no active portal admin" in refused.value.message
    assert "Ask your Okta administrator" in refused.value.message
    assert "'Portal Admins'" in refused.value.message
    assert not AccessRequest.objects.exists()


# --- Deciding -------------------------------------------------------------------------------


def test_approval_of_all_steps_creates_grant(people, resource):
    request_obj, _created = submit(people.requester, resource)
    manager_step, owner_step = request_obj.steps.order_by("position")

    services.decide_step(manager_step, by=people.manager, approve=True)
    owner_step.refresh_from_db()
    assert owner_step.status == ApprovalStep.Status.WAITING
    services.decide_step(owner_step, by=people.owner, approve=True)

    request_obj.refresh_from_db()
    assert request_obj.status == AccessRequest.Status.APPROVED
    grant = request_obj.grant
    assert (grant.user, grant.resource, grant.ends_at) == (
        people.requester,
        resource,
        request_obj.requested_ends_at,
    )
    assert grant.operations.get().status == OktaOperation.Status.PENDING
    assert actions(request_obj)[-5:] == [
        "step.approved",
        "step.waiting",
        "step.approved",
        "request.approved",
        "grant.created",
    ]


def test_denial_needs_comment(people, resource):
    request_obj, _created = submit(people.requester, resource)
    step = request_obj.steps.get(position=1)

    with pytest.raises(errors.CommentRequired):
        services.decide_step(step, by=people.manager, approve=False, comment=" ")


def test_denial_closes_request(people, resource):
    request_obj, _created = submit(people.requester, resource)
    step = request_obj.steps.get(position=1)

    services.decide_step(step, by=people.manager, approve=False, comment="Not in your role")

    request_obj.refresh_from_db()
    assert request_obj.status == AccessRequest.Status.DENIED
    assert request_obj.closed_reason == "Not in your role"
    assert request_obj.steps.get(position=2).status == ApprovalStep.Status.CANCELLED
    assert not Grant.objects.exists()


def test_second_decision_is_already_decided(people, resource):
    request_obj, _created = submit(people.requester, resource)
    step = request_obj.steps.get(position=1)
    services.decide_step(step, by=people.manager, approve=False, comment="No")

    with pytest.raises(errors.AlreadyDecided, match="already decided: it is denied"):
        services.decide_step(step, by=people.manager, approve=True)


def test_queued_step_cannot_be_decided(people, resource):
    request_obj, _created = submit(people.requester, resource)
    owner_step = request_obj.steps.get(position=2)

    with pytest.raises(errors.AlreadyDecided, match="not waiting"):
        services.decide_step(owner_step, by=people.owner, approve=True)


def test_requester_cannot_decide_own_request(people, resource):
    people.requester.is_admin = True
    people.requester.save()
    request_obj, _created = submit(people.requester, resource)
    step = request_obj.steps.get(position=1)
    step.approvers.add(people.requester)

    with pytest.raises(errors.NotAllowed, match="your own request"):
        services.decide_step(step, by=people.requester, approve=True)


def test_outsider_cannot_decide(people, resource):
    request_obj, _created = submit(people.requester, resource)

    with pytest.raises(errors.NotAllowed, match="not one of the approvers"):
        services.decide_step(request_obj.steps.get(position=1), by=people.outsider, approve=True)


def test_bulk_approve_reports_each_step(people, resource):
    other = make_user("other", manager=people.manager)
    first, _ = submit(people.requester, resource)
    second, _ = submit(other, resource)
    services.cancel_request(second, by=other)

    results = services.bulk_approve(
        [first.steps.get(position=1), second.steps.get(position=1)], by=people.manager
    )

    assert [result.ok for result in results] == [True, False]
    assert isinstance(results[1].error, errors.AlreadyDecided)


# --- Cancelling and expiry --------------------------------------------------------------------


def test_cancel_by_requester(people, resource):
    request_obj, _created = submit(people.requester, resource)

    services.cancel_request(request_obj, by=people.requester)

    request_obj.refresh_from_db()
    assert request_obj.status == AccessRequest.Status.CANCELLED
    assert not request_obj.steps.filter(status__in=ApprovalStep.OPEN).exists()
    with pytest.raises(errors.NotCancellable, match="cancelled"):
        services.cancel_request(request_obj, by=people.requester)


def test_cancel_by_someone_else_rejected(people, resource):
    request_obj, _created = submit(people.requester, resource)

    with pytest.raises(errors.NotAllowed):
        services.cancel_request(request_obj, by=people.manager)


def test_pending_requests_expire(people, resource, settings):
    settings.PORTAL_REQUEST_EXPIRY_DAYS = 5
    old, _ = submit(people.requester, resource)
    AccessRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=6)
    )
    recent, _ = submit(make_user("recent", manager=people.manager), resource)

    assert services.expire_pending_requests() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == AccessRequest.Status.EXPIRED
    assert recent.status == AccessRequest.Status.PENDING
    assert actions(old)[-1] == "request.expired"


# --- Retrying failed grants -----------------------------------------------------------------


def failed_grant(people, resource) -> Grant:
    request_obj = AccessRequest.objects.create(
        requester=people.requester, resource=resource, status=AccessRequest.Status.APPROVED
    )
    return Grant.objects.create(
        user=people.requester,
        resource=resource,
        request=request_obj,
        status=Grant.Status.FAILED,
        failure_reason="Okta returned 403 E0000038: not allowed",
    )


def test_admin_retries_failed_grant(people, resource):
    grant = failed_grant(people, resource)

    services.retry_grant(grant, by=people.admin)

    grant.refresh_from_db()
    assert grant.status == Grant.Status.PROVISIONING
    assert grant.failure_reason == ""
    assert grant.operations.get().status == OktaOperation.Status.PENDING
    event = AuditEvent.objects.get(action="grant.retried")
    assert event.payload["previous_failure"] == "Okta returned 403 E0000038: not allowed"


def test_retry_needs_admin_and_failed_grant(people, resource):
    grant = failed_grant(people, resource)

    with pytest.raises(errors.NotAllowed):
        services.retry_grant(grant, by=people.owner)
    services.retry_grant(grant, by=people.admin)
    with pytest.raises(errors.NotRetryable, match="being applied"):
        services.retry_grant(grant, by=people.admin)


# --- E-mail ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_emails_go_only_to_people_concerned(people, resource):
    request_obj, _created = submit(people.requester, resource)
    assert [message.to for message in mail.outbox] == [["manager@example.com"]]

    services.decide_step(
        request_obj.steps.get(position=1), by=people.manager, approve=False, comment="No budget"
    )

    assert [message.to for message in mail.outbox][1:] == [["requester@example.com"]]
    assert "No budget" in mail.outbox[1].body
    assert "denied" in mail.outbox[1].subject
