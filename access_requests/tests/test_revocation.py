"""Revoking and giving up access through the pages, a real worker and the emulator."""

import datetime

import pytest
from django.utils import timezone

from access_requests.models import Grant, OktaOperation
from access_requests.services import expiry, revocation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.grants import (
    active_grant,
    add_member,
    app_resource,
    app_scope,
    assign_app,
    group_without,
    is_member,
    wait_until_closed,
)
from access_requests.tests.personas import sign_in
from audit.models import AuditEvent

pytestmark = pytest.mark.slow


@pytest.fixture
def cast(okta_settings, transactional_db):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    holder = okta_data.portal_user(users[17])
    owner = okta_data.portal_user(users[18])
    outsider = okta_data.portal_user(users[19])
    admin = okta_data.portal_user(users[20], is_admin=True)
    resource = okta_data.group_resource(group_without(okta_org, holder.okta_id))
    resource.owners.add(owner)
    grant = active_grant(okta_org, holder, resource)
    return okta_org, holder, owner, outsider, admin, resource, grant


def test_owner_revokes_with_a_reason(provisioning_worker, cast, client):
    okta_org, holder, owner, outsider, _admin, resource, grant = cast
    url = f"/grants/{grant.pk}/revoke/"

    sign_in(client, outsider)
    assert client.post(url, {"reason": "Left the project"}).status_code == 403
    sign_in(client, owner)
    assert client.get(url).status_code == 200
    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 400
    assert Grant.objects.get(pk=grant.pk).status == Grant.Status.ACTIVE
    assert client.post(url, {"reason": "Left the project"}).status_code == 302

    grant = wait_until_closed(grant)
    assert grant.status == Grant.Status.REVOKED
    assert "Left the project" in grant.revoke_reason
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    revoking = AuditEvent.objects.get(action="grant.revoking", target_id=str(grant.pk))
    assert revoking.actor == owner


def test_holder_gives_up_access(provisioning_worker, cast, client):
    okta_org, holder, owner, _outsider, _admin, resource, grant = cast

    sign_in(client, owner)
    assert client.post(f"/grants/{grant.pk}/give-up/").status_code == 403
    sign_in(client, holder)
    assert client.post(f"/grants/{grant.pk}/give-up/").status_code == 302

    grant = wait_until_closed(grant)
    assert grant.status == Grant.Status.REVOKED
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    # Giving up twice is refused with a reason, not a crash.
    again = client.post(f"/grants/{grant.pk}/give-up/")
    assert again.status_code == 409
    assert b"revoked" in again.content


def test_permanently_refused_removal_is_shown_and_retried(provisioning_worker, cast, client):
    okta_org, holder, _owner, _outsider, admin, resource, grant = cast
    okta_org.set_fault("/api/v1/groups/*/users/*", status=403, methods=["DELETE"])

    revocation.revoke_grant(grant, by=admin, reason="Audit finding")
    wait_for(
        lambda: Grant.objects.filter(pk=grant.pk).exclude(failure_reason="").first(),
        timeout=60,
        message="the removal to fail",
    )

    grant.refresh_from_db()
    assert grant.status == Grant.Status.REVOKING
    assert "403" in grant.failure_reason
    assert AuditEvent.objects.filter(action="grant.revocation_failed").count() == 1
    sign_in(client, admin)
    page = client.get("/drift/")
    assert grant.failure_reason in page.content.decode()

    okta_org.clear_faults()
    assert client.post(f"/grants/{grant.pk}/retry-removal/").status_code == 302
    grant = wait_until_closed(grant)
    assert grant.status == Grant.Status.REVOKED
    assert not is_member(okta_org, resource.okta_id, holder.okta_id)
    assert grant.operations.filter(status=OktaOperation.Status.FAILED).count() == 1


def test_app_kept_through_group_is_noted(provisioning_worker, okta_settings):
    okta_org = okta_settings
    holder = okta_data.portal_user(okta_data.active_users(okta_org)[21])
    resource = app_resource(okta_org)
    group = group_without(okta_org, holder.okta_id)
    assign_app(okta_org, resource.okta_id, holder.okta_id)
    response = okta_org.request("PUT", f"/api/v1/apps/{resource.okta_id}/groups/{group['id']}")
    assert response.status == 200, response
    add_member(okta_org, group["id"], holder.okta_id)
    grant = Grant.objects.create(
        user=holder,
        resource=resource,
        status=Grant.Status.ACTIVE,
        ends_at=timezone.now() - datetime.timedelta(seconds=1),
    )

    expiry.expire_grants()
    grant = wait_until_closed(grant)

    assert grant.status == Grant.Status.EXPIRED
    assert app_scope(okta_org, resource.okta_id, holder.okta_id) == "GROUP"
    event = wait_for(
        lambda: AuditEvent.objects.filter(
            action="grant.access_continues", target_id=str(grant.pk)
        ).first(),
        timeout=30,
        message="the note about the group",
    )
    assert group["profile"]["name"] in event.payload["note"]
