"""What the requester is told once a request is decided."""

import pytest
from django.utils import timezone

from access_requests.models import AccessRequest, Grant
from access_requests.tests.personas import make_resource, make_user, sign_in


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
def test_giving_up_pre_existing_access_says_it_stays_in_okta(client):
    holder = make_user("petra.preexisting")
    grant = approved_grant(holder, make_resource("Design Review"), pre_existing=True)
    sign_in(client, holder)

    assert "stays in Okta" in client.get(f"/grants/{grant.pk}/give-up/").content.decode()
    response = client.post(f"/grants/{grant.pk}/give-up/", follow=True)
    page = response.content.decode()
    assert "is being removed" not in page
    assert "The portal&#x27;s grant for Design Review has ended" in page
    assert "ask a portal admin or the resource&#x27;s owner" in page
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REVOKED

    detail = client.get(f"/requests/{grant.request_id}/").content.decode()
    assert "Grant ended; the access you had before stays in Okta" in detail
    assert "Access ended" not in detail
