import datetime
from contextlib import contextmanager
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from access_requests.models import AccessRequest, Resource
from audit.services import record_event


@pytest.fixture
def make_user(db):
    """Create users with readable logins: make_user("ada") -> ada@example.com."""

    def make(name: str, **fields):
        return get_user_model().objects.create_user(
            f"00u{name}", login=f"{name}@example.com", email=f"{name}@example.com", **fields
        )

    return make


@contextmanager
def clock(when: datetime.datetime):
    """Make timezone.now() return `when`, so events get a chosen created_at."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def record_at(when: datetime.datetime | None, action: str, **kwargs):
    """Record an event as if at `when` (now when None). Record in time order: record_event
    never lets created_at go back along the chain."""
    if when is None:
        with transaction.atomic():
            return record_event(action, **kwargs)
    with clock(when), transaction.atomic():
        return record_event(action, **kwargs)


@pytest.fixture
def resource(db):
    return Resource.objects.create(
        kind=Resource.Kind.GROUP,
        okta_id="00gfinance0000000001",
        name="Finance reports",
        group_type=Resource.GroupType.OKTA_GROUP,
        requestable=True,
    )


@pytest.fixture
def personas(make_user):
    """admin, manager, subject (reports to manager) and outsider (reports to nobody here)."""
    admin = make_user("admin", is_admin=True)
    manager = make_user("manager")
    subject = make_user("subject", manager=manager)
    outsider = make_user("outsider")
    return {"admin": admin, "manager": manager, "subject": subject, "outsider": outsider}


@pytest.fixture
def history(personas, resource):
    """The subject's request, approved by the manager, with the events it produced."""
    subject, manager = personas["subject"], personas["manager"]
    request = AccessRequest.objects.create(
        requester=subject,
        resource=resource,
        justification="quarterly close needs the ledger",
        status=AccessRequest.Status.APPROVED,
    )
    common = {"subject_user": subject, "resource": resource, "access_request": request}
    submitted = record_at(
        None,
        "request.submitted",
        actor=subject,
        target=request,
        payload={"justification": request.justification},
        **common,
    )
    approved = record_at(
        None,
        "step.approved",
        actor=manager,
        target=request,
        payload={"comment": "fine for the audit season"},
        **common,
    )
    unrelated = record_at(
        None,
        "user.synced",
        actor=None,
        target=personas["outsider"],
        subject_user=personas["outsider"],
    )
    return {
        "request": request,
        "submitted": submitted,
        "approved": approved,
        "unrelated": unrelated,
    }
