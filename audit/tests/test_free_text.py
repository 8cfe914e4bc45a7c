"""Free text that people type (justifications, comments, revoke reasons) in the audit trail."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import AccessRequest, Grant
from access_requests.services import submit_request
from access_requests.services.expiry import request_extension
from access_requests.services.revocation import revoke_grant
from access_requests.tests.personas import build_cast, make_resource, sign_in
from audit import reports
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(db):
    return build_cast()


def searched(client, text: str) -> list[str]:
    response = client.get(reverse("audit:events"), {"q": text})
    assert response.status_code == 200
    return [event.action for event in response.context["page"].events]


def test_submitted_event_contains_justification(cast):
    event = AuditEvent.objects.get(
        action="request.submitted", access_request_id=cast.access_request.pk
    )
    assert event.payload["justification"] == "Needed for the quarterly report."


def test_search_finds_justification(client, cast):
    sign_in(client, cast.admin)
    assert searched(client, "quarterly report") == ["request.submitted"]


def test_extension_event_contains_justification(client, cast):
    extension, created = request_extension(
        cast.active_grant,
        by=cast.requester,
        ends_at=timezone.now() + datetime.timedelta(days=20),
        justification="The migration slipped by two weeks.",
    )
    assert created
    event = AuditEvent.objects.get(action="request.submitted", access_request_id=extension.pk)
    assert event.payload["justification"] == "The migration slipped by two weeks."
    assert event.payload["extends_grant"] == cast.active_grant.pk

    sign_in(client, cast.admin)
    assert searched(client, "migration slipped") == ["request.submitted"]


def test_search_finds_revoke_reason(client, cast):
    revoke_grant(cast.active_grant, by=cast.owner, reason="Project ended in May")

    sign_in(client, cast.admin)
    assert searched(client, "Project ended") == ["grant.revoking"]


def test_justification_looking_like_a_secret_is_masked(cast):
    resource = make_resource("Payroll Export")
    resource.owners.add(cast.owner)
    request_obj, _ = submit_request(
        cast.requester,
        resource,
        justification="Bearer abc.def.ghi",
        ends_at=timezone.now() + datetime.timedelta(days=3),
    )
    event = AuditEvent.objects.get(action="request.submitted", access_request_id=request_obj.pk)
    assert event.payload["justification"] == "********"


def test_report_justification_survives_row_edit(cast):
    request_obj = cast.access_request
    Grant.objects.create(
        user=cast.requester,
        resource=cast.resource,
        request=request_obj,
        status=Grant.Status.ACTIVE,
        starts_at=timezone.now(),
    )
    AccessRequest.objects.filter(pk=request_obj.pk).update(
        justification="Approved by the CISO verbally"
    )

    (row,) = [row for row in reports.current_access_rows() if row["request_id"] == request_obj.pk]
    assert row["justification"] == "Needed for the quarterly report."
