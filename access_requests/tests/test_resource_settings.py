"""Saving a resource in the admin site: checks on the settings, and what happens to pending
requests when the owners change or the resource stops being requestable.

Every change goes through the admin's change view, as an admin makes it.
"""

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access_requests import errors, selectors, services
from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
from access_requests.services import resource_settings
from access_requests.tests.personas import make_resource, make_user, sign_in, submit
from access_requests.tests.test_lock_order import assert_row_locks_first
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

Kind = ApprovalStep.Kind
Policy = Resource.ApprovalPolicy


@pytest.fixture
def site_admin(client):
    """A signed-in user of the admin site who is not a portal admin, so never an approver."""
    user = make_user("sam.siteadmin", is_staff=True, is_superuser=True)
    sign_in(client, user)
    return user


def change_url(resource: Resource) -> str:
    return reverse("admin:access_requests_resource_change", args=[resource.pk])


def save_in_admin(client, resource: Resource, *, follow=False, **changes):
    """POST the resource's change form with its stored settings, overridden by `changes`."""
    resource.refresh_from_db()
    values = {
        "requestable": resource.requestable,
        "description": resource.description,
        "owners": [owner.pk for owner in resource.owners.all()],
        "approval_policy": resource.approval_policy,
        "max_duration_days": resource.max_duration_days,
        "allow_no_end": resource.allow_no_end,
        "justification_required": resource.justification_required,
        "enforcement": resource.enforcement,
    }
    values.update(changes)
    data = {"_save": "Save"}
    for name, value in values.items():
        if value is True:
            data[name] = "on"
        elif value is None:
            data[name] = ""
        elif value is not False:
            data[name] = value
    return client.post(change_url(resource), data, follow=follow)


def test_owner_change_moves_waiting_step(client, site_admin, django_capture_on_commit_callbacks):
    olivia = make_user("olivia.bennett")
    camille = make_user("camille.laurent")
    tariq = make_user("tariq.aziz")
    figma = make_resource("Figma", approval_policy=Policy.OWNERS)
    figma.owners.add(olivia)
    step = submit(tariq, figma).steps.get()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = save_in_admin(client, figma, owners=[camille.pk])

    assert response.status_code == 302
    step.refresh_from_db()
    assert step.status == ApprovalStep.Status.WAITING
    assert step.kind == Kind.OWNER
    assert list(step.approvers.all()) == [camille]
    assert list(selectors.inbox(camille)) == [step]
    assert list(selectors.inbox(olivia)) == []
    with pytest.raises(errors.NotAllowed):
        services.decide_step(step, by=olivia, approve=True)
    event = AuditEvent.objects.get(action="step.reassigned")
    assert event.actor == site_admin
    assert event.payload["added_approvers"] == [camille.okta_id]
    assert event.payload["removed_approvers"] == [olivia.okta_id]
    assert event.payload["reason"] == "The owners of Figma changed."
    [notice] = mail.outbox
    assert notice.to == [camille.email]


def test_owner_added_notifies_only_new_owner(
    client, site_admin, django_capture_on_commit_callbacks
):
    olivia = make_user("olivia.bennett")
    camille = make_user("camille.laurent")
    figma = make_resource("Figma", approval_policy=Policy.OWNERS)
    figma.owners.add(olivia)
    step = submit(make_user("tariq.aziz"), figma).steps.get()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        save_in_admin(client, figma, owners=[olivia.pk, camille.pk])

    assert set(step.approvers.all()) == {olivia, camille}
    assert [notice.to for notice in mail.outbox] == [[camille.email]]


def test_owner_change_replans_queued_step(client, site_admin):
    manager = make_user("mia.manager")
    requester = make_user("ryan.murphy", manager=manager)
    old_owner = make_user("oscar.owner")
    new_owner = make_user("nina.owner")
    grafana = make_resource("Grafana", approval_policy=Policy.MANAGER_THEN_OWNERS)
    grafana.owners.add(old_owner)
    access_request = submit(requester, grafana)

    save_in_admin(client, grafana, owners=[new_owner.pk])

    manager_step, owner_step = access_request.steps.order_by("position")
    assert list(manager_step.approvers.all()) == [manager]
    assert manager_step.status == ApprovalStep.Status.WAITING
    assert owner_step.status == ApprovalStep.Status.QUEUED
    assert list(owner_step.approvers.all()) == [new_owner]


def test_removing_every_owner_falls_to_admins(client, site_admin):
    admin = make_user("ada.admin", is_admin=True)
    owner = make_user("oscar.owner")
    requester = make_user("rita.requester")
    ledger = make_resource("Ledger", approval_policy=Policy.OWNERS)
    ledger.owners.add(owner)
    step = submit(requester, ledger).steps.get()

    save_in_admin(client, ledger, owners=[])

    step.refresh_from_db()
    assert step.kind == Kind.ADMIN
    assert list(step.approvers.all()) == [admin]
    event = AuditEvent.objects.get(action="step.reassigned")
    assert event.payload["previous_kind"] == Kind.OWNER
    assert event.payload["kind"] == Kind.ADMIN


def test_admin_step_goes_to_new_owner(client, site_admin):
    admin = make_user("ada.admin", is_admin=True)
    owner = make_user("oscar.owner")
    ledger = make_resource("Ledger", approval_policy=Policy.OWNERS)
    step = submit(make_user("rita.requester"), ledger).steps.get()
    assert list(step.approvers.all()) == [admin]

    save_in_admin(client, ledger, owners=[owner.pk])

    step.refresh_from_db()
    assert step.kind == Kind.OWNER
    assert list(step.approvers.all()) == [owner]
    assert list(selectors.inbox(admin)) == []


def test_requester_made_owner_is_not_approver(client, site_admin):
    owner = make_user("oscar.owner")
    requester = make_user("rita.requester")
    ledger = make_resource("Ledger", approval_policy=Policy.OWNERS)
    ledger.owners.add(owner)
    step = submit(requester, ledger).steps.get()

    save_in_admin(client, ledger, owners=[owner.pk, requester.pk])

    assert list(step.approvers.all()) == [owner]
    assert not AuditEvent.objects.filter(action="step.reassigned").exists()


def test_no_approver_left_cancels_request(client, site_admin, django_capture_on_commit_callbacks):
    owner = make_user("oscar.owner")
    requester = make_user("rita.requester")
    ledger = make_resource("Ledger", approval_policy=Policy.OWNERS)
    ledger.owners.add(owner)
    access_request = submit(requester, ledger)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = save_in_admin(client, ledger, owners=[], follow=True)

    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.CANCELLED
    assert "step 1 has nobody left to approve it" in access_request.closed_reason
    assert "Ask your Okta administrator" in access_request.closed_reason
    assert access_request.steps.get().status == ApprovalStep.Status.CANCELLED
    assert "because nobody is left to approve them" in response.content.decode()
    [notice] = mail.outbox
    assert notice.to == [requester.email]
    assert access_request.closed_reason in notice.body


def test_clearing_requestable_cancels_pending(
    client, site_admin, django_capture_on_commit_callbacks
):
    manager = make_user("mia.manager")
    requester = make_user("ryan.murphy", manager=manager)
    salesforce = make_resource("Salesforce", approval_policy=Policy.MANAGER)
    access_request = submit(requester, salesforce)
    step = access_request.steps.get()
    holder = make_user("hana.holder")
    grant = Grant.objects.create(user=holder, resource=salesforce, status=Grant.Status.ACTIVE)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = save_in_admin(client, salesforce, requestable=False, follow=True)

    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.CANCELLED
    assert "turned off requests for Salesforce" in access_request.closed_reason
    with pytest.raises(errors.AlreadyDecided):
        services.decide_step(step, by=manager, approve=True)
    event = AuditEvent.objects.get(action="request.cancelled")
    assert event.actor == site_admin
    assert event.payload["reason"] == access_request.closed_reason
    [notice] = mail.outbox
    assert notice.to == [requester.email]
    assert "was cancelled" in notice.subject
    assert access_request.closed_reason in notice.body
    assert "Cancelled 1 pending request(s) for Salesforce" in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE


def test_form_warns_of_pending_requests(client, site_admin):
    manager = make_user("mia.manager")
    salesforce = make_resource("Salesforce", approval_policy=Policy.MANAGER)
    submit(make_user("ryan.murphy", manager=manager), salesforce)

    page = client.get(change_url(salesforce)).content.decode()

    assert "Warning: 1 pending request for this resource will be cancelled" in page
    assert "Access already granted is not changed" in page


def test_update_event_records_values(client, site_admin):
    olivia = make_user("olivia.bennett")
    camille = make_user("camille.laurent")
    grafana = make_resource(
        "Grafana", approval_policy=Policy.MANAGER_THEN_OWNERS, max_duration_days=90
    )
    grafana.owners.add(olivia)

    save_in_admin(
        client,
        grafana,
        owners=[camille.pk],
        approval_policy=Policy.AUTOMATIC,
        max_duration_days=30,
    )

    event = AuditEvent.objects.get(action="resource.updated")
    assert event.actor == site_admin
    assert event.payload["approval_policy"] == {
        "from": Policy.MANAGER_THEN_OWNERS,
        "to": Policy.AUTOMATIC,
    }
    assert event.payload["max_duration_days"] == {"from": 90, "to": 30}
    assert event.payload["owners"]["added"] == [
        {"okta_id": camille.okta_id, "login": camille.login, "name": "Camille Laurent"}
    ]
    assert event.payload["owners"]["removed"] == [
        {"okta_id": olivia.okta_id, "login": olivia.login, "name": "Olivia Bennett"}
    ]
    assert set(event.payload["changed"]) == {"owners", "approval_policy", "max_duration_days"}
    assert "requestable" not in event.payload


def test_unchanged_save_records_nothing(client, site_admin):
    response = save_in_admin(client, make_resource("Grafana"))

    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="resource.updated").exists()


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0, "Enter at least 1 day, or leave the field empty"),
        (-3, "Enter at least 1 day, or leave the field empty"),
        (101, "101 days is longer than the portal&#x27;s maximum of 100 days"),
        (100000, "100000 days is longer than the portal&#x27;s maximum of 100 days"),
    ],
)
def test_max_duration_out_of_range_rejected(client, site_admin, settings, days, message):
    settings.PORTAL_MAX_GRANT_DAYS = 100
    grafana = make_resource("Grafana", max_duration_days=30)

    response = save_in_admin(client, grafana, max_duration_days=days)

    assert response.status_code == 200
    assert message in response.content.decode()
    grafana.refresh_from_db()
    assert grafana.max_duration_days == 30


@pytest.mark.parametrize("days", [1, 100, None])
def test_max_duration_in_range_saved(client, site_admin, settings, days):
    settings.PORTAL_MAX_GRANT_DAYS = 100
    grafana = make_resource("Grafana", max_duration_days=30)

    response = save_in_admin(client, grafana, max_duration_days=days)

    assert response.status_code == 302
    grafana.refresh_from_db()
    assert grafana.max_duration_days == days


def test_max_duration_help_names_limit(client, site_admin, settings):
    settings.PORTAL_MAX_GRANT_DAYS = 100

    page = client.get(change_url(make_resource("Grafana"))).content.decode()

    assert "in days: from 1 to 100 (PORTAL_MAX_GRANT_DAYS)" in page


def test_two_owner_steps_merge_into_one(client, site_admin):
    from access_requests.services import offboarding
    from accounts.models import OktaStatus

    admin = make_user("ada.admin", is_admin=True)
    manager = make_user("mia.manager")
    requester = make_user("ryan.murphy", manager=manager)
    first_owner = make_user("oscar.owner")
    new_owner = make_user("nina.owner")
    grafana = make_resource("Grafana", approval_policy=Policy.MANAGER_THEN_OWNERS)
    access_request = submit(requester, grafana)
    # Step 2 went to the admins, because Grafana had no owner at submit. An owner added
    # outside the admin site, then the manager's departure, turn step 1 into an owner step.
    grafana.owners.add(first_owner)
    manager.okta_status = OktaStatus.SUSPENDED
    manager.is_active = False
    manager.save()
    offboarding.offboard_user(manager)
    first_step, second_step = access_request.steps.order_by("position")
    assert (first_step.kind, second_step.kind) == (Kind.OWNER, Kind.ADMIN)
    assert list(second_step.approvers.all()) == [admin]

    save_in_admin(client, grafana, owners=[new_owner.pk])

    first_step.refresh_from_db()
    second_step.refresh_from_db()
    assert first_step.status == ApprovalStep.Status.SKIPPED
    assert second_step.status == ApprovalStep.Status.WAITING
    assert second_step.kind == Kind.OWNER
    assert list(second_step.approvers.all()) == [new_owner]
    assert list(selectors.inbox(new_owner)) == [second_step]
    assert list(selectors.inbox(first_owner)) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the chain's advisory lock exists on PostgreSQL only"
)
@pytest.mark.parametrize("change", ["owners", "requestable"])
def test_row_locks_before_audit_events(change):
    owner = make_user("oscar.owner")
    ledger = make_resource("Ledger", approval_policy=Policy.OWNERS)
    ledger.owners.add(owner)
    for login in ("rita.requester", "ryan.requester"):
        submit(make_user(login), ledger)
    by = make_user("sam.siteadmin", is_staff=True, is_superuser=True)
    before = resource_settings.snapshot(ledger)
    if change == "owners":
        ledger.owners.set([make_user("nina.owner")])
    else:
        ledger.requestable = False
        ledger.save()

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        result = resource_settings.apply_settings_change(ledger, before, by=by)

    assert_row_locks_first(queries)
    assert result.steps_reassigned + result.requests_cancelled == 2


def test_save_cancels_leftover_pending(client, site_admin):
    manager = make_user("mia.manager")
    salesforce = make_resource("Salesforce", approval_policy=Policy.MANAGER)
    access_request = submit(make_user("ryan.murphy", manager=manager), salesforce)
    # A pending request of a resource that is already not requestable, as older versions
    # of the portal left them when an admin cleared "requestable".
    Resource.objects.filter(pk=salesforce.pk).update(requestable=False)

    response = save_in_admin(client, salesforce)

    assert response.status_code == 302
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.CANCELLED
    event = AuditEvent.objects.get(action="resource.updated")
    assert event.payload["changed"] == []
    assert event.payload["requests_cancelled"] == 1


def test_earlier_approver_not_made_owner_approver(client, site_admin):
    admin = make_user("ada.admin", is_admin=True)
    manager = make_user("mia.manager")
    requester = make_user("ryan.murphy", manager=manager)
    owner = make_user("oscar.owner")
    grafana = make_resource("Grafana", approval_policy=Policy.MANAGER_THEN_OWNERS)
    grafana.owners.add(owner)
    access_request = submit(requester, grafana)
    manager_step, owner_step = access_request.steps.order_by("position")
    services.decide_step(manager_step, by=manager, approve=True)

    save_in_admin(client, grafana, owners=[manager.pk])

    owner_step.refresh_from_db()
    assert owner_step.status == ApprovalStep.Status.WAITING
    assert owner_step.kind == Kind.ADMIN
    assert list(owner_step.approvers.all()) == [admin]


def test_extension_rejected_when_not_requestable(client, site_admin):
    import datetime

    from django.utils import timezone

    from access_requests.services import expiry

    holder = make_user("hana.holder")
    grafana = make_resource("Grafana", max_duration_days=90)
    grafana.owners.add(make_user("oscar.owner"))
    end = timezone.now() + datetime.timedelta(days=3)
    grant = Grant.objects.create(
        user=holder, resource=grafana, status=Grant.Status.ACTIVE, ends_at=end
    )
    save_in_admin(client, grafana, requestable=False)

    with pytest.raises(errors.NotExtendable) as raised:
        expiry.request_extension(
            grant, by=holder, ends_at=end + datetime.timedelta(days=7), justification="More time"
        )

    message = str(raised.value)
    assert message.startswith("Access to Grafana cannot be extended:")
    assert f"ends on {end:%Y-%m-%d}" in message
    assert not AccessRequest.objects.filter(extends_grant=grant).exists()
