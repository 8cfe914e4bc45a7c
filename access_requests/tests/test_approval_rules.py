"""Approval rules and the pages around them: preset durations counted from the approval, end
dates that pass while a request waits, two different approvers for "manager, then owners", the
messages for requests that are no longer pending, request form input, the live request page,
extensions in the inbox and e-mail, times in the user's time zone, and owners' renewals."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests import errors, services
from access_requests.forms import DecisionForm
from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
from access_requests.tests.personas import build_cast, make_resource, make_user, sign_in
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

Kind = ApprovalStep.Kind
Status = ApprovalStep.Status


def waiting_step(access_request) -> ApprovalStep:
    return access_request.steps.get(status=Status.WAITING)


def approve_all(access_request, *approvers) -> None:
    for approver in approvers:
        services.decide_step(waiting_step(access_request), by=approver, approve=True)


@pytest.fixture
def people():
    class People:
        manager = make_user("maria.manager")
        requester = make_user("rob.requester", manager=manager)
        owner = make_user("olga.owner")
        second_owner = make_user("oscar.owner")
        admin = make_user("ada.admin", is_admin=True)

    return People


def test_preset_duration_counts_from_approval(people):
    resource = make_resource("Ledger", approval_policy=Resource.ApprovalPolicy.MANAGER)
    access_request, _ = services.submit_request(
        people.requester,
        resource,
        justification="Month-end close.",
        ends_at=datetime.timedelta(days=7),
    )
    assert access_request.requested_ends_at is None
    assert access_request.requested_duration == datetime.timedelta(days=7)
    # The request waited five days before the manager approved it.
    AccessRequest.objects.filter(pk=access_request.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=5)
    )

    before = timezone.now()
    approve_all(access_request, people.manager)
    after = timezone.now()

    grant = Grant.objects.get(request=access_request)
    assert before + datetime.timedelta(days=7) <= grant.ends_at
    assert grant.ends_at <= after + datetime.timedelta(days=7)
    assert grant.ends_at > grant.starts_at
    access_request.refresh_from_db()
    assert access_request.requested_ends_at == grant.ends_at


def test_preset_over_maximum_rejected(people):
    resource = make_resource("Ledger", max_duration_days=30)

    with pytest.raises(errors.InvalidDuration, match="at most 30 days"):
        services.submit_request(
            people.requester,
            resource,
            justification="Month-end close.",
            ends_at=datetime.timedelta(days=31),
        )


def test_passed_end_date_cannot_be_approved(people):
    resource = make_resource("Ledger", approval_policy=Resource.ApprovalPolicy.MANAGER)
    access_request, _ = services.submit_request(
        people.requester,
        resource,
        justification="Month-end close.",
        ends_at=timezone.now() + datetime.timedelta(days=1),
    )
    AccessRequest.objects.filter(pk=access_request.pk).update(
        requested_ends_at=timezone.now() - datetime.timedelta(hours=1)
    )

    with pytest.raises(errors.InvalidDuration) as raised:
        services.decide_step(waiting_step(access_request), by=people.manager, approve=True)

    assert "which has passed" in raised.value.message
    assert "Deny it with a comment" in raised.value.message
    assert not Grant.objects.filter(request=access_request).exists()
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.PENDING
    # Denying still works, so the approver can close the request.
    services.decide_step(
        waiting_step(access_request), by=people.manager, approve=False, comment="Ask again."
    )
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.DENIED


def test_manager_who_owns_approves_once(people):
    resource = make_resource("Grafana", allow_no_end=True)
    resource.owners.add(people.manager, people.owner)
    access_request, _ = services.submit_request(
        people.requester, resource, justification="Dashboards.", ends_at=None
    )

    approve_all(access_request, people.manager)

    owner_step = waiting_step(access_request)
    assert owner_step.kind == Kind.OWNER
    assert list(owner_step.approvers.all()) == [people.owner]
    with pytest.raises(errors.NotAllowed):
        services.decide_step(owner_step, by=people.manager, approve=True)


@pytest.fixture
def sole_owner_manager(people):
    resource = make_resource("Grafana", allow_no_end=True)
    resource.owners.add(people.manager)
    access_request, _ = services.submit_request(
        people.requester, resource, justification="Dashboards.", ends_at=None
    )
    return access_request


def test_sole_owner_manager_step_goes_to_admins(people, sole_owner_manager):
    approve_all(sole_owner_manager, people.manager)

    second = waiting_step(sole_owner_manager)
    assert second.kind == Kind.ADMIN
    assert list(second.approvers.all()) == [people.admin]
    assert AuditEvent.objects.filter(action="step.reassigned", target_id=str(second.pk)).exists()

    approve_all(sole_owner_manager, people.admin)
    sole_owner_manager.refresh_from_db()
    assert sole_owner_manager.status == AccessRequest.Status.APPROVED
    deciders = {step.decided_by_id for step in sole_owner_manager.steps.all()}
    assert deciders == {people.manager.pk, people.admin.pk}


def test_no_second_approver_cancels_request(people, sole_owner_manager):
    people.admin.is_admin = False
    people.admin.save()
    people.manager.is_admin = True
    people.manager.save()

    approve_all(sole_owner_manager, people.manager)

    sole_owner_manager.refresh_from_db()
    assert sole_owner_manager.status == AccessRequest.Status.CANCELLED
    assert "nobody else can approve it" in sole_owner_manager.closed_reason
    assert not Grant.objects.filter(request=sole_owner_manager).exists()


def test_approver_told_requester_cancelled(people):
    resource = make_resource("Ledger", approval_policy=Resource.ApprovalPolicy.MANAGER)
    access_request, _ = services.submit_request(
        people.requester, resource, justification="x", ends_at=datetime.timedelta(days=1)
    )
    step = waiting_step(access_request)
    services.cancel_request(access_request, by=people.requester)

    with pytest.raises(errors.AlreadyDecided) as raised:
        services.decide_step(step, by=people.manager, approve=True)

    assert raised.value.message == "This request was cancelled by the requester."


def test_long_deny_comment_gets_one_error():
    form = DecisionForm({"decision": "deny", "comment": "x" * 200_000})

    assert not form.is_valid()
    assert form.errors["comment"] == [
        "The comment is too long: 200000 characters, at most 2000. Shorten it."
    ]


# --- Pages -----------------------------------------------------------------------------------


@pytest.fixture
def cast(db):
    return build_cast()


def test_inbox_cancelled_request_message(client, cast):
    step = cast.manager_step
    services.cancel_request(cast.access_request, by=cast.requester)
    sign_in(client, cast.manager)

    response = client.post(
        reverse("access_requests:decide_step", args=[step.pk]), {"decision": "approve"}, follow=True
    )

    content = response.content.decode()
    assert f"Request #{step.request_id} was cancelled by the requester." in content
    assert "already decided" not in content


def test_inbox_warns_of_passed_end(client, cast):
    AccessRequest.objects.filter(pk=cast.access_request.pk).update(
        requested_ends_at=timezone.now() - datetime.timedelta(hours=1)
    )
    sign_in(client, cast.manager)

    content = client.get(reverse("access_requests:inbox")).content.decode()

    assert "has passed" in content


def test_removal_message_keeps_okta_capitalised(cast):
    cast.revoking_grant.refresh_from_db()

    assert cast.revoking_grant.status_text == "being removed in Okta"


# --- Request form ----------------------------------------------------------------------------


def request_form(data, resource, time_zone="UTC"):
    from access_requests.forms import RequestAccessForm

    return RequestAccessForm(data, resource=resource, time_zone=time_zone)


def test_leftover_end_date_ignored_for_preset(cast):
    form = request_form(
        {"justification": "x", "duration": "7", "end_date": "2020-01-01"}, cast.resource
    )

    assert form.is_valid(), form.errors
    assert form.ends_at() == datetime.timedelta(days=7)


def test_end_date_only_iso_format(cast):
    form = request_form(
        {"justification": "x", "duration": "custom", "end_date": "04/12/2026"}, cast.resource
    )

    assert not form.is_valid()
    assert form.errors["end_date"] == ["Enter the end date as YYYY-MM-DD, for example 2026-12-31."]


def test_far_end_date_gets_resource_limit(cast):
    form = request_form(
        {"justification": "x", "duration": "custom", "end_date": "9999-12-31"}, cast.resource
    )

    assert not form.is_valid()
    assert len(form.errors["end_date"]) == 1
    assert "can last at most 90 days" in form.errors["end_date"][0]


# --- Request page, extensions and time zones -------------------------------------------------


def test_status_poll_includes_steps_and_cancel(client, cast):
    sign_in(client, cast.requester)
    url = reverse("access_requests:request_status", args=[cast.access_request.pk])
    first = client.get(url, HTTP_HX_REQUEST="true")
    seen = first.context["state"]
    assert "Cancel this request" in first.content.decode()

    services.decide_step(cast.manager_step, by=cast.manager, approve=True)
    second = client.get(url, {"seen": seen}, HTTP_HX_REQUEST="true")

    assert second.status_code == 200
    content = second.content.decode()
    assert "Approved</strong> by Maria Manager" in content
    assert "Cancel this request" in content


def test_access_until_shows_grant_end(client, cast):
    approve_all(cast.access_request, cast.manager, cast.owner)
    grant = Grant.objects.get(request=cast.access_request)
    # An owner's renewal moves the grant's end past the end the request asked for.
    grant.ends_at = timezone.now() + datetime.timedelta(days=40)
    grant.save()
    sign_in(client, cast.requester)

    content = client.get(
        reverse("access_requests:request_detail", args=[grant.request_id])
    ).content.decode()

    assert f"{grant.ends_at:%-d %b %Y}" in content


def test_extension_labelled_and_confirmed(client, cast):
    grant = cast.active_grant
    sign_in(client, cast.requester)

    response = client.post(
        reverse("access_requests:extend_grant", args=[grant.pk]),
        {"days": "10", "justification": "Project runs longer."},
        follow=True,
    )

    content = response.content.decode()
    assert "was sent for approval" in content
    sign_in(client, cast.manager)
    inbox = client.get(reverse("access_requests:inbox")).content.decode()
    assert "asks to extend their access to Team Calendar" in inbox
    assert "Current end" in inbox


def test_extend_page_without_form_when_not_requestable(client, cast):
    Resource.objects.filter(pk=cast.active_grant.resource_id).update(requestable=False)
    url = reverse("access_requests:extend_grant", args=[cast.active_grant.pk])
    sign_in(client, cast.requester)

    page = client.get(url)
    submitted = client.post(url, {"days": "10", "justification": "Project runs longer."})

    content = page.content.decode()
    assert page.status_code == 200
    assert "Access to Team Calendar cannot be extended" in content
    assert "not enabled by an admin" in content
    assert "Ask for the extension" not in content
    assert submitted.status_code == 409
    assert "Access to Team Calendar cannot be extended" in submitted.content.decode()
    assert not AccessRequest.objects.filter(extends_grant=cast.active_grant).exists()


def test_pending_request_with_passed_end(client, cast):
    AccessRequest.objects.filter(pk=cast.access_request.pk).update(
        requested_ends_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    sign_in(client, cast.requester)

    detail = client.get(
        reverse("access_requests:request_detail", args=[cast.access_request.pk])
    ).content.decode()
    listing = client.get(reverse("access_requests:my_requests")).content.decode()

    for content in (detail, listing):
        assert "its end date has passed" in content
        assert "Waiting for approval" not in content
    assert "Cancel this request" in detail


def test_extension_errors_shown_once(client, cast):
    sign_in(client, cast.requester)

    response = client.post(
        reverse("access_requests:extend_grant", args=[cast.active_grant.pk]),
        {"days": "3650", "justification": "Long project."},
    )

    assert response.content.decode().count("can last at most") == 1


def test_times_in_user_time_zone(client, cast):
    cast.requester.time_zone = "America/Los_Angeles"
    cast.requester.save()
    sign_in(client, cast.requester)

    detail = client.get(
        reverse("access_requests:request_detail", args=[cast.access_request.pk])
    ).content.decode()
    profile = client.get(reverse("accounts:profile")).content.decode()

    assert "(America/Los_Angeles)" in detail
    assert " UTC" not in detail
    assert "America/Los_Angeles" in profile


def test_departed_owner_step_skips_earlier_approver(people):
    from access_requests.services import offboarding
    from accounts.models import OktaStatus

    resource = make_resource("Grafana", allow_no_end=True)
    resource.owners.add(people.manager, people.owner)
    access_request, _ = services.submit_request(
        people.requester, resource, justification="Dashboards.", ends_at=None
    )
    approve_all(access_request, people.manager)
    people.owner.okta_status = OktaStatus.DEPROVISIONED
    people.owner.is_active = False
    people.owner.save()

    offboarding.offboard_user(people.owner)

    second = waiting_step(access_request)
    assert second.kind == Kind.ADMIN
    assert list(second.approvers.all()) == [people.admin]


# --- Renewal by an owner ---------------------------------------------------------------------


def test_renewals_cannot_pass_maximum(cast):
    from access_requests.services import expiry

    grant = cast.active_grant
    first = expiry.renew_grant(grant, by=cast.owner, days=85)
    latest = timezone.now() + datetime.timedelta(days=91)

    assert first.ends_at <= latest
    with pytest.raises(errors.InvalidDuration, match="cannot be renewed further today"):
        expiry.renew_grant(grant, by=cast.owner, days=5)
    grant.refresh_from_db()
    assert grant.ends_at == first.ends_at


def extend(grant, days: int) -> AccessRequest:
    from access_requests.services import expiry

    access_request, created = expiry.request_extension(
        grant,
        by=grant.user,
        ends_at=grant.ends_at + datetime.timedelta(days=days),
        justification="Project runs longer.",
    )
    assert created
    return access_request


def test_renewal_cancels_overtaken_extension(cast, django_capture_on_commit_callbacks):
    from access_requests.services import expiry

    extension = extend(cast.active_grant, days=10)

    with django_capture_on_commit_callbacks(execute=True):
        renewed = expiry.renew_grant(cast.active_grant, by=cast.owner, days=30)

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.CANCELLED
    assert "already at or past the end this extension asked for" in extension.closed_reason
    assert f"{renewed.ends_at:%Y-%m-%d %H:%M} UTC" in extension.closed_reason
    assert not extension.steps.filter(status__in=ApprovalStep.OPEN).exists()


def test_short_renewal_keeps_extension(cast, django_capture_on_commit_callbacks):
    from access_requests.services import expiry

    extension = extend(cast.active_grant, days=10)

    with django_capture_on_commit_callbacks(execute=True):
        expiry.renew_grant(cast.active_grant, by=cast.owner, days=3)

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.PENDING


def test_overtaken_extension_approval_rejected(client, cast):
    grant = cast.active_grant
    extension = extend(grant, days=10)
    # A renewal made before renewals cancelled overtaken extensions, or one racing this approval.
    later_end = extension.requested_ends_at + datetime.timedelta(days=3)
    Grant.objects.filter(pk=grant.pk).update(ends_at=later_end)
    sign_in(client, cast.manager)

    inbox = client.get(reverse("access_requests:inbox")).content.decode()
    response = client.post(
        reverse("access_requests:decide_step", args=[waiting_step(extension).pk]),
        {"decision": "approve"},
    )

    assert "approving would not extend it" in inbox
    assert response.status_code == 302
    content = client.get(reverse("access_requests:inbox")).content.decode()
    assert "would not make the access last any longer" in content
    grant.refresh_from_db()
    assert grant.ends_at == later_end
    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.PENDING
    assert waiting_step(extension).kind == Kind.MANAGER


def test_sweep_cancels_overtaken_extension(cast):
    from access_requests.services.requests import expire_pending_requests

    extension = extend(cast.active_grant, days=10)
    Grant.objects.filter(pk=cast.active_grant.pk).update(ends_at=None)

    expire_pending_requests()

    extension.refresh_from_db()
    assert extension.status == AccessRequest.Status.CANCELLED
    assert "now has no end date" in extension.closed_reason


def test_second_revoke_error_shown_once(client, cast):
    sign_in(client, cast.owner)
    url = reverse("access_requests:revoke_grant", args=[cast.revoking_grant.pk])

    response = client.post(url, {"reason": "Contract ended."})

    content = response.content.decode()
    assert content.count("This access cannot be removed") == 1
    assert "being removed in Okta" in content


def test_waiting_mails_preset_and_extension(cast, django_capture_on_commit_callbacks):
    from django.core import mail

    from access_requests.services import expiry

    with django_capture_on_commit_callbacks(execute=True):
        services.submit_request(
            cast.outsider,
            cast.resource,
            justification="Audit.",
            ends_at=datetime.timedelta(days=7),
        )
        expiry.request_extension(
            cast.active_grant,
            by=cast.requester,
            ends_at=cast.active_grant.ends_at + datetime.timedelta(days=10),
            justification="Project runs longer.",
        )

    bodies = {message.subject: message.body for message in mail.outbox}
    preset = next(body for subject, body in bodies.items() if "requests Engineering" in subject)
    extension = next(body for subject, body in bodies.items() if "asks to extend" in subject)
    assert "Access until: 7 days from the final approval" in preset
    assert "Current end:" in extension
    assert "Extend until:" in extension
