"""What the requester is told once a request is decided: a pre-existing grant given up, and an
approved extension."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from access_requests import errors, services
from access_requests.models import AccessRequest, Grant, OktaOperation, Resource
from access_requests.services import expiry
from access_requests.tests.personas import make_resource, make_user, sign_in

STOP_POLLING = 286


def approved_grant(user, resource, **fields) -> Grant:
    request_obj = AccessRequest.objects.create(
        requester=user,
        resource=resource,
        status=AccessRequest.Status.APPROVED,
        decided_at=timezone.now(),
        justification="Needed",
    )
    return Grant.objects.create(
        user=user, resource=resource, request=request_obj, status=Grant.Status.ACTIVE, **fields
    )


@pytest.mark.django_db
def test_giving_up_pre_existing_access_removes_it(client):
    holder = make_user("petra.preexisting")
    grant = approved_grant(holder, make_resource("Design Review"), pre_existing=True)
    sign_in(client, holder)

    form = client.get(f"/grants/{grant.pk}/give-up/").content.decode()
    assert "removes the access from Okta now, including access you had" in form
    response = client.post(f"/grants/{grant.pk}/give-up/", follow=True)
    assert "Your access to Design Review is being removed from Okta." in response.content.decode()
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REVOKING
    assert grant.operations.filter(action=OktaOperation.Action.REMOVE_MEMBER).exists()

    detail = client.get(f"/requests/{grant.request_id}/").content.decode()
    assert "Being removed in Okta" in detail
    assert "stays in Okta" not in detail


@pytest.mark.django_db
def test_approved_extension_shows_the_new_end_and_stops_polling(client):
    owner = make_user("olga.owner")
    holder = make_user("hugo.holder")
    resource = make_resource("Data Lake", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(owner)
    old_end = timezone.now() + datetime.timedelta(days=2)
    grant = approved_grant(holder, resource, ends_at=old_end)
    new_end = old_end + datetime.timedelta(days=10)
    extension, _ = expiry.request_extension(grant, by=holder, ends_at=new_end, justification="x")
    services.decide_step(extension.steps.get(), by=owner, approve=True)

    holder.time_zone = "Asia/Tokyo"
    holder.save(update_fields=["time_zone"])

    sign_in(client, holder)
    detail = client.get(f"/requests/{extension.pk}/").content.decode()
    tokyo_end = new_end.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    expected = f"Extension applied: access until {tokyo_end:%-d %b %Y %H:%M} (Asia/Tokyo)"
    assert expected in detail
    assert "being applied" not in detail
    poll = client.get(f"/requests/{extension.pk}/status/", HTTP_HX_REQUEST="true")
    assert poll.status_code == STOP_POLLING


@pytest.mark.django_db
def test_a_second_pending_extension_is_refused():
    holder = make_user("eva.extender")
    resource = make_resource("Build Farm", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(make_user("otto.owner"))
    grant = approved_grant(holder, resource, ends_at=timezone.now() + datetime.timedelta(days=3))
    first_end = grant.ends_at + datetime.timedelta(days=7)
    first, created = expiry.request_extension(
        grant, by=holder, ends_at=first_end, justification="Release"
    )
    assert created

    again, created_again = expiry.request_extension(
        grant, by=holder, ends_at=first_end, justification="Release"
    )
    assert (again, created_again) == (first, False)
    with pytest.raises(errors.NotExtendable, match="extension of this access is already pending"):
        expiry.request_extension(
            grant,
            by=holder,
            ends_at=first_end + datetime.timedelta(days=7),
            justification="Release",
        )
    assert AccessRequest.objects.filter(extends_grant=grant).count() == 1
