"""Approval steps: creating them from the policy and recording decisions under a row lock."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from access_requests import errors, notifications, policy
from access_requests.models import AccessRequest, ApprovalStep, Grant
from access_requests.services import provisioning
from access_requests.services.events import record

logger = logging.getLogger(__name__)

Status = ApprovalStep.Status


@dataclass(frozen=True)
class BulkResult:
    """The outcome of one step of a bulk approval: `error` is None when it was approved."""

    step: ApprovalStep
    error: errors.AccessRequestError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def start(request_obj: AccessRequest, *, http_request=None) -> None:
    """Create the request's steps and open the first; approve at once when there are none.

    Runs inside the submit transaction. Raises NotRequestable, saying whom to ask, when a step
    has nobody but the requester to approve it.
    """
    planned = policy.plan_steps(request_obj.resource, request_obj.requester)
    if not planned:
        _approve(request_obj, actor=None, http_request=http_request)
        return
    if any(not step.approvers for step in planned):
        raise errors.NotRequestable(
            policy.no_approver_message(request_obj.resource, request_obj.requester)
        )
    steps = []
    for position, planned_step in enumerate(planned, start=1):
        step = ApprovalStep.objects.create(
            request=request_obj, position=position, kind=planned_step.kind
        )
        step.approvers.set(planned_step.approvers)
        steps.append(step)
    _open(steps[0], http_request=http_request)


def decide_step(
    step: ApprovalStep, *, by, approve: bool, comment: str = "", http_request=None
) -> ApprovalStep:
    """Approve or deny a waiting step; return the step as decided.

    The request row is locked first, so of two approvers deciding at once the second waits,
    then finds the step decided and gets AlreadyDecided. Target and duration are taken from
    the stored request, never from the caller.
    """
    comment = (comment or "").strip()
    with transaction.atomic():
        request_obj = (
            # Only this row: a lock on the joined requester would block the foreign-key check
            # of an audit event that names them (see audit.services.record_event).
            AccessRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("resource", "requester")
            .get(pk=step.request_id)
        )
        locked = ApprovalStep.objects.select_for_update(no_key=True).get(pk=step.pk)
        if request_obj.extends_grant_id is not None:
            # The last approval moves this grant's end. Every row lock comes before the first
            # audit event (see audit.services.record_event), so it is locked now.
            Grant.objects.select_for_update(no_key=True).filter(
                pk=request_obj.extends_grant_id
            ).first()
        _check_decision(request_obj, locked, by=by, approve=approve, comment=comment)

        locked.status = Status.APPROVED if approve else Status.DENIED
        locked.decided_by = by
        locked.comment = comment
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "comment", "decided_at"])
        record(
            "step.approved" if approve else "step.denied",
            actor=by,
            target=locked,
            access_request=request_obj,
            payload={"position": locked.position, "kind": locked.kind, "comment": comment},
            http_request=http_request,
        )
        if approve:
            _advance(request_obj, by=by, http_request=http_request)
        else:
            _deny(request_obj, locked, by=by, http_request=http_request)
    return locked


def bulk_approve(steps, *, by, http_request=None) -> list[BulkResult]:
    """Approve each step in its own transaction; one refusal does not stop the others."""
    results = []
    for step in steps:
        try:
            decided = decide_step(step, by=by, approve=True, http_request=http_request)
        except errors.AccessRequestError as error:
            results.append(BulkResult(step=step, error=error))
            continue
        results.append(BulkResult(step=decided))
    return results


def _check_decision(
    request_obj: AccessRequest, step: ApprovalStep, *, by, approve: bool, comment: str
) -> None:
    if by.pk == request_obj.requester_id:
        raise errors.NotAllowed("You cannot decide on your own request.")
    if not request_obj.is_open:
        raise errors.AlreadyDecided(
            f"This request was already decided: it is {request_obj.get_status_display().lower()}."
        )
    if step.status != Status.WAITING:
        raise errors.AlreadyDecided(
            f"This approval step is not waiting for a decision: it is {step.get_status_display().lower()}."
        )
    if not step.approvers.filter(pk=by.pk).exists():
        raise errors.NotAllowed("You are not one of the approvers of this step.")
    if not approve and not comment:
        raise errors.CommentRequired("A denial needs a comment that tells the requester why.")


def _open(step: ApprovalStep, *, http_request=None) -> None:
    step.status = Status.WAITING
    step.save(update_fields=["status"])
    record(
        "step.waiting",
        actor=None,
        target=step,
        access_request=step.request,
        payload={"position": step.position, "kind": step.kind},
        http_request=http_request,
    )
    transaction.on_commit(lambda: notifications.step_waiting(step.pk))


def _advance(request_obj: AccessRequest, *, by, http_request=None) -> None:
    next_step = request_obj.steps.filter(status=Status.QUEUED).order_by("position").first()
    if next_step is not None:
        _open(next_step, http_request=http_request)
        return
    _approve(request_obj, actor=by, http_request=http_request)


def _approve(request_obj: AccessRequest, *, actor, http_request=None) -> None:
    request_obj.status = AccessRequest.Status.APPROVED
    request_obj.decided_at = timezone.now()
    request_obj.save(update_fields=["status", "decided_at"])
    record(
        "request.approved",
        actor=actor,
        target=request_obj,
        access_request=request_obj,
        http_request=http_request,
    )
    provisioning.create_grant(request_obj, actor=actor, http_request=http_request)
    transaction.on_commit(lambda: notifications.request_decided(request_obj.pk))


def _deny(request_obj: AccessRequest, step: ApprovalStep, *, by, http_request=None) -> None:
    request_obj.status = AccessRequest.Status.DENIED
    request_obj.decided_at = timezone.now()
    request_obj.closed_reason = step.comment
    request_obj.save(update_fields=["status", "decided_at", "closed_reason"])
    request_obj.steps.filter(status__in=ApprovalStep.OPEN).update(status=Status.CANCELLED)
    record(
        "request.denied",
        actor=by,
        target=request_obj,
        access_request=request_obj,
        payload={"comment": step.comment},
        http_request=http_request,
    )
    transaction.on_commit(lambda: notifications.request_decided(request_obj.pk))
