"""Telling people about ended access and failed Okta changes: e-mails and the admin lists."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access_requests.models import AccessRequest, Grant
from access_requests.services import expiry, provisioning, revocation
from access_requests.services.provisioning import run_operation
from access_requests.tests import okta_data
from access_requests.tests.grants import active_grant, group_without
from access_requests.tests.personas import build_cast, sign_in
from accounts.models import OktaStatus


@pytest.fixture
def people(okta_settings, transactional_db, settings):
    settings.PORTAL_URL = "http://127.0.0.1:8000"
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    holder = okta_data.portal_user(users[22])
    owner = okta_data.portal_user(users[23])
    admin = okta_data.portal_user(users[24], is_admin=True)
    resource = okta_data.group_resource(group_without(okta_org, holder.okta_id))
    resource.owners.add(owner)
    request_obj = AccessRequest.objects.create(
        requester=holder, resource=resource, status=AccessRequest.Status.APPROVED
    )
    grant = active_grant(okta_org, holder, resource)
    Grant.objects.filter(pk=grant.pk).update(request=request_obj)
    grant.refresh_from_db()
    yield okta_org, holder, owner, admin, grant
    # The emulator serves the whole session: a fault left behind would break later tests.
    okta_org.clear_faults()


def run_queued_operation(grant) -> str:
    """Run the grant's one queued operation in this process.

    Tests run without a broker, so committing the change queued no task, and the after-commit
    callbacks (the e-mails) run as each transaction of the operation commits.
    """
    operation = grant.operations.filter(status="pending").get()
    return run_operation(operation.pk)


def mails_to(user) -> list:
    return [message for message in mail.outbox if message.to == [user.email]]


def test_revoke_mails_holder_the_reason(people):
    _okta_org, holder, owner, _admin, grant = people
    revocation.revoke_grant(grant, by=owner, reason="Project Falcon ended")
    assert run_queued_operation(grant) == "succeeded"

    (message,) = mails_to(holder)
    assert message.subject == f"Your access to {grant.resource.name} was removed"
    assert "Project Falcon ended" in message.body
    assert "request it again" in message.body


def test_expiry_mails_holder(people):
    _okta_org, holder, _owner, _admin, grant = people
    Grant.objects.filter(pk=grant.pk).update(ends_at=timezone.now() - datetime.timedelta(minutes=1))
    assert expiry.expire_grants() == 1
    run_queued_operation(grant)

    (message,) = mails_to(holder)
    assert message.subject == f"Your access to {grant.resource.name} has expired"
    assert expiry.EXPIRY_REASON in message.body


def test_departed_holder_gets_no_mail(people):
    _okta_org, holder, owner, _admin, grant = people
    revocation.revoke_grant(grant, by=owner, reason="Left the company")
    holder.okta_status = OktaStatus.DEPROVISIONED
    holder.is_active = False
    holder.save()
    run_queued_operation(grant)

    assert mails_to(holder) == []


def test_failed_removal_mails_admins_and_holder(people):
    okta_org, holder, owner, admin, grant = people
    okta_org.set_fault("/api/v1/groups/*/users/*", status=403, methods=["DELETE"])
    revocation.revoke_grant(grant, by=owner, reason="Audit finding 12")
    assert run_queued_operation(grant) == "failed"

    (to_admin,) = mails_to(admin)
    assert to_admin.subject == f"Removal failed in Okta: {grant.resource.name} for {holder}"
    assert "Audit finding 12" in to_admin.body
    assert "http://127.0.0.1:8000/#failed-okta-changes" in to_admin.body
    (to_holder,) = mails_to(holder)
    assert "may still have this access" in to_holder.body
    assert mails_to(owner) == []


def test_failed_grant_mails_admins_with_link(people):
    okta_org, holder, _owner, admin, _grant = people
    resource = okta_data.group_resource(
        group_without(okta_org, holder.okta_id, admin.okta_id), name="Failing Group"
    )
    request_obj = AccessRequest.objects.create(
        requester=holder, resource=resource, status=AccessRequest.Status.APPROVED
    )
    okta_org.set_fault("/api/v1/groups/*/users/*", status=403, methods=["PUT"])
    with transaction.atomic():
        grant = provisioning.create_grant(request_obj, actor=None)
    assert run_queued_operation(grant) == "failed"

    (to_admin,) = mails_to(admin)
    assert to_admin.subject == f"Failed in Okta: Failing Group for {holder}"
    assert f"http://127.0.0.1:8000/requests/{request_obj.pk}/" in to_admin.body
    assert "403" in to_admin.body
    assert len(mails_to(holder)) == 1


# --- Pages ------------------------------------------------------------------------------------


@pytest.fixture
def cast(db):
    return build_cast()


def test_admin_home_lists_failures_with_retry(client, cast):
    sign_in(client, cast.admin)
    page = client.get(reverse("landing")).content.decode()

    assert 'id="failed-okta-changes"' in page
    assert cast.failed_grant.failure_reason in page
    assert reverse("access_requests:retry_grant", args=[cast.failed_grant.pk]) in page
    assert cast.revoking_grant.failure_reason in page
    assert reverse("access_requests:retry_revocation", args=[cast.revoking_grant.pk]) in page


def test_employee_home_has_no_failure_list(client, cast):
    sign_in(client, cast.requester)
    page = client.get(reverse("landing")).content.decode()

    assert "failed-okta-changes" not in page


def test_failure_list_skips_superseded_grant(client, cast):
    Grant.objects.create(
        user=cast.failed_grant.user, resource=cast.failed_grant.resource, status="active"
    )
    sign_in(client, cast.admin)
    page = client.get(reverse("landing")).content.decode()

    assert reverse("access_requests:retry_grant", args=[cast.failed_grant.pk]) not in page
    assert reverse("access_requests:retry_revocation", args=[cast.revoking_grant.pk]) in page


def test_dashboard_links_failed_count(client, cast):
    sign_in(client, cast.admin)
    response = client.get(reverse("audit:dashboard"))

    assert response.context["failures"].count == 2
    page = response.content.decode()
    assert '<a href="#failed-okta-changes">2</a>' in page
    assert reverse("access_requests:retry_grant", args=[cast.failed_grant.pk]) in page


def test_request_page_shows_revoke_reason(client, cast):
    request_obj = cast.access_request
    Grant.objects.create(
        user=cast.requester,
        resource=cast.resource,
        request=request_obj,
        status=Grant.Status.REVOKED,
        revoke_reason="Revoked by Olga Owner: Project Falcon ended",
    )
    AccessRequest.objects.filter(pk=request_obj.pk).update(status=AccessRequest.Status.APPROVED)
    sign_in(client, cast.requester)

    detail = client.get(reverse("access_requests:request_detail", args=[request_obj.pk]))
    assert "Why it ended: Revoked by Olga Owner: Project Falcon ended" in detail.content.decode()
    listing = client.get(reverse("access_requests:my_requests"))
    assert "Project Falcon ended" in listing.content.decode()
