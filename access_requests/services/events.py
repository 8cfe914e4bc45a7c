"""Audit events for access-request state changes, with the request's context filled in."""

from typing import Any

from django.db import models

from access_requests.models import AccessRequest, Grant


def record(
    action: str,
    *,
    actor,
    target: models.Model,
    access_request: AccessRequest | None = None,
    grant: Grant | None = None,
    payload: dict[str, Any] | None = None,
    outcome: str = "success",
    okta_request_id: str | None = None,
    http_request=None,
):
    """Write one audit event; the subject user and resource come from the request or grant.

    Call it inside the transaction of the change it records.
    """
    from audit.services import record_event

    if access_request is None and grant is not None:
        access_request = grant.request
    subject = grant or access_request
    return record_event(
        action,
        actor=actor,
        target=target,
        subject_user=_subject_user(subject),
        resource=subject.resource if subject is not None else None,
        access_request=access_request,
        payload=payload or {},
        outcome=outcome,
        okta_request_id=okta_request_id or None,
        http_request=http_request,
    )


def _subject_user(subject):
    if isinstance(subject, Grant):
        return subject.user
    if isinstance(subject, AccessRequest):
        return subject.requester
    return None
