"""Provisioning end to end: approval, a real worker, and the emulator's Management API."""

import pytest

from access_requests import services
from access_requests.models import Grant, OktaOperation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for

pytestmark = pytest.mark.slow


def grant_settled(grant_pk):
    grant = Grant.objects.get(pk=grant_pk)
    return grant if grant.status != Grant.Status.PROVISIONING else None


def test_approval_adds_group_member(provisioning_worker, okta_settings):
    okta_org = okta_settings
    requester_okta, owner_okta = okta_data.active_users(okta_org)[10:12]
    requester = okta_data.portal_user(requester_okta)
    owner = okta_data.portal_user(owner_okta)
    okta_group = next(
        group
        for group in okta_data.okta_groups(okta_org)
        if requester.okta_id not in okta_data.group_member_ids(okta_org, group["id"])
    )
    resource = okta_data.group_resource(okta_group)
    resource.owners.add(owner)
    since = okta_data.emulator_now(okta_org)

    request_obj, created = services.submit_request(
        requester, resource, justification="On call", ends_at=None
    )
    step = request_obj.steps.get()
    services.decide_step(step, by=owner, approve=True)

    grant = wait_for(lambda: grant_settled(request_obj.grant.pk), timeout=60, message="the grant")
    assert created
    assert grant.status == Grant.Status.ACTIVE
    assert grant.pre_existing is False
    assert requester.okta_id in okta_data.group_member_ids(okta_org, okta_group["id"])
    assert okta_data.membership_adds(okta_org, since)[(requester.okta_id, okta_group["id"])] == 1
    operation = grant.operations.get()
    assert operation.status == OktaOperation.Status.SUCCEEDED
    assert operation.okta_request_id
