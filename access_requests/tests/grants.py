"""Grants in a known state against the test emulator, for the expiry, revocation,
offboarding and reconciliation tests."""

import datetime

from django.utils import timezone

from access_requests.models import AccessRequest, Grant, Resource
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for


def add_member(okta_org, group_id: str, user_id: str) -> None:
    response = okta_org.request("PUT", f"/api/v1/groups/{group_id}/users/{user_id}")
    assert response.status == 204, response


def is_member(okta_org, group_id: str, user_id: str) -> bool:
    return user_id in okta_data.group_member_ids(okta_org, group_id)


def group_without(okta_org, *user_ids: str) -> dict:
    """An Okta group (membership writable) that none of the users belongs to."""
    return next(
        group
        for group in okta_data.okta_groups(okta_org)
        if not set(user_ids) & okta_data.group_member_ids(okta_org, group["id"])
    )


def active_grant(okta_org, user, resource: Resource, *, ends_in=None, pre_existing=False) -> Grant:
    """An active grant whose access is in Okta, as provisioning leaves it.

    `ends_in` is a timedelta from now (negative: already ended); None means no end.
    """
    add_member(okta_org, resource.okta_id, user.okta_id)
    ends_at = timezone.now() + ends_in if ends_in is not None else None
    request_obj = AccessRequest.objects.create(
        requester=user,
        resource=resource,
        status=AccessRequest.Status.APPROVED,
        requested_ends_at=ends_at,
        decided_at=timezone.now(),
    )
    return Grant.objects.create(
        user=user,
        resource=resource,
        request=request_obj,
        ends_at=ends_at,
        status=Grant.Status.ACTIVE,
        pre_existing=pre_existing,
        starts_at=timezone.now() - datetime.timedelta(days=1),
    )


def settled(grant_pk: int, *statuses) -> Grant | None:
    grant = Grant.objects.get(pk=grant_pk)
    return grant if grant.status in statuses else None


def wait_until_closed(grant: Grant, timeout: float = 60) -> Grant:
    return wait_for(
        lambda: settled(grant.pk, *Grant.TERMINAL),
        timeout=timeout,
        message=f"grant {grant.pk} to close",
    )


def app_resource(okta_org, **fields) -> Resource:
    """A Resource for the first active app of the org."""
    app = next(
        app
        for app in okta_data.get_all(okta_org, "/api/v1/apps?limit=200")
        if app["status"] == "ACTIVE"
    )
    # Managed for a while already: its Okta members were compared before (the baseline).
    defaults = {
        "baseline_taken_at": timezone.now(),
        "kind": Resource.Kind.APP,
        "name": app["label"],
        "sign_on_mode": app.get("signOnMode") or "",
        "okta_status": app["status"],
        "requestable": True,
        "approval_policy": Resource.ApprovalPolicy.OWNERS,
        "allow_no_end": True,
    }
    defaults.update(fields)
    return Resource.objects.create(okta_id=app["id"], **defaults)


def assign_app(okta_org, app_id: str, user_id: str) -> None:
    response = okta_org.request(
        "POST", f"/api/v1/apps/{app_id}/users", {"id": user_id, "scope": "USER"}
    )
    assert response.status == 200, response


def app_scope(okta_org, app_id: str, user_id: str) -> str | None:
    """The user's assignment scope for the app (USER or GROUP), or None when unassigned."""
    response = okta_org.request("GET", f"/api/v1/apps/{app_id}/users/{user_id}")
    if response.status == 404:
        return None
    assert response.status == 200, response
    return response.json()["scope"]
