"""Approval steps: creating them from the policy and recording decisions under a row lock."""

import functools
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

# The closed_reason that cancel_request stores; approvers are shown that the requester cancelled.
CANCELLED_BY_REQUESTER = "Cancelled by the requester."


def close_request(request_obj: AccessRequest, status: str, reason: str) -> None:
    """Close a locked open request with `status` and `reason`, and cancel its open steps."""
    request_obj.status = status
    request_obj.closed_reason = reason
    request_obj.decided_at = timezone.now()
    request_obj.save(update_fields=["status", "closed_reason", "decided_at"])
    request_obj.steps.filter(status__in=ApprovalStep.OPEN).update(status=Status.CANCELLED)


def cancel_locked_request(
    request_obj: AccessRequest,
    reason: str,
    *,
    actor,
    payload: dict | None = None,
    http_request=None,
    notify: bool = True,
) -> None:
    """Cancel a request locked in the caller's transaction, audit it and tell the requester.

    `notify=False` skips the e-mail, for a requester who cancelled or left. Call it after the
    transaction's row locks, because it records an audit event.
    """
    close_request(request_obj, AccessRequest.Status.CANCELLED, reason)
    record(
        "request.cancelled",
        actor=actor,
        target=request_obj,
        access_request=request_obj,
        payload=payload,
        http_request=http_request,
    )
    if notify:
        transaction.on_commit(functools.partial(notifications.request_decided, request_obj.pk))


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
        extended_grant = None
        if request_obj.extends_grant_id is not None:
            # The last approval moves this grant's end. Every row lock comes before the first
            # audit event (see audit.services.record_event), so it is locked now.
            extended_grant = (
                Grant.objects.select_for_update(no_key=True)
                .filter(pk=request_obj.extends_grant_id)
                .first()
            )
        _check_decision(request_obj, locked, by=by, approve=approve, comment=comment)
        if approve and extended_grant is not None and extended_grant.status == Grant.Status.ACTIVE:
            _check_extension_still_extends(request_obj, extended_grant)

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


def closed_request_message(request_obj: AccessRequest, subject: str = "This request") -> str:
    """Return why a request that is no longer pending cannot be decided, for its approvers.

    `subject` starts the sentence, such as "Request #12" where several requests are listed.
    """
    if request_obj.status == AccessRequest.Status.CANCELLED:
        if request_obj.closed_reason == CANCELLED_BY_REQUESTER:
            return f"{subject} was cancelled by the requester."
        return f"{subject} was cancelled: {request_obj.closed_reason}"
    if request_obj.status == AccessRequest.Status.EXPIRED:
        return f"{subject} expired before a decision."
    return f"{subject} was already decided: it is {request_obj.get_status_display().lower()}."


def _check_decision(
    request_obj: AccessRequest, step: ApprovalStep, *, by, approve: bool, comment: str
) -> None:
    if by.pk == request_obj.requester_id:
        raise errors.NotAllowed("You cannot decide on your own request.")
    if not request_obj.is_open:
        raise errors.AlreadyDecided(closed_request_message(request_obj))
    if step.status != Status.WAITING:
        raise errors.AlreadyDecided(
            f"This approval step is not waiting for a decision: it is {step.get_status_display().lower()}."
        )
    if not step.approvers.filter(pk=by.pk).exists():
        raise errors.NotAllowed("You are not one of the approvers of this step.")
    if by.pk in _earlier_deciders(step):
        raise errors.NotAllowed(
            "You approved an earlier step of this request, so another approver decides this one."
        )
    if not approve and not comment:
        raise errors.CommentRequired("A denial needs a comment that tells the requester why.")
    if approve and request_obj.requested_end_has_passed:
        raise errors.InvalidDuration(
            "This request asked for access until "
            f"{request_obj.requested_ends_at:%Y-%m-%d %H:%M} UTC, which has passed, so it "
            "cannot be approved. Deny it with a comment, and the requester can ask again with "
            "a later end date."
        )


def _check_extension_still_extends(request_obj: AccessRequest, grant: Grant) -> None:
    """Raise NotExtendable when approving the extension would not move the grant's end later."""
    if not request_obj.extension_is_overtaken(grant.ends_at):
        return
    requested_end = request_obj.requested_ends_at
    if requested_end is None:
        requested_text = "with no end date"
    else:
        requested_text = f"until {requested_end:%Y-%m-%d %H:%M} UTC"
    if grant.ends_at is None:
        current = "has no end date"
    else:
        current = f"already lasts until {grant.ends_at:%Y-%m-%d %H:%M} UTC"
    raise errors.NotExtendable(
        f"This extension asks for access {requested_text}, but the access {current} (an owner "
        "or admin may have renewed it since), so approving it would not make the access last "
        "any longer. Deny it with a comment that says the access already lasts that long."
    )


def _earlier_deciders(step: ApprovalStep) -> set:
    """Return the primary keys of the users who approved the steps before `step`."""
    return set(
        ApprovalStep.objects.filter(
            request_id=step.request_id, position__lt=step.position, status=Status.APPROVED
        )
        .exclude(decided_by=None)
        .values_list("decided_by", flat=True)
    )


def skip_step(step: ApprovalStep, request_obj: AccessRequest, *, actor, reason: str) -> None:
    """Skip an open step, and open the next queued one when the skipped step was waiting."""
    was_waiting = step.status == Status.WAITING
    step.status = Status.SKIPPED
    step.save(update_fields=["status"])
    record(
        "step.skipped",
        actor=actor,
        target=step,
        access_request=request_obj,
        payload={"reason": reason, "position": step.position},
    )
    if was_waiting:
        next_step = request_obj.steps.filter(status=Status.QUEUED).order_by("position").first()
        _open(next_step)


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
        if _exclude_earlier_deciders(request_obj, next_step, http_request=http_request):
            _open(next_step, http_request=http_request)
        return
    _approve(request_obj, actor=by, http_request=http_request)


def _exclude_earlier_deciders(
    request_obj: AccessRequest, step: ApprovalStep, *, http_request=None
) -> bool:
    """Take those who approved an earlier step off `step`; return whether it can still open.

    A step left without approvers falls through like a planned step: to the other owners,
    then to the portal admins. When nobody is left at all, the request is cancelled with the
    reason, and False is returned.
    """
    deciders = _earlier_deciders(step)
    approvers = list(step.approvers.all())
    if not deciders.intersection(approver.pk for approver in approvers):
        return True
    previous_kind = step.kind
    remaining = [approver for approver in approvers if approver.pk not in deciders]
    if not remaining:
        planned = policy.resolve_step(
            step.kind, request_obj.resource, request_obj.requester, exclude=deciders
        )
        if not planned.approvers:
            _cancel_without_second_approver(request_obj, step, http_request=http_request)
            return False
        step.kind = planned.kind
        step.save(update_fields=["kind"])
        remaining = planned.approvers
    step.approvers.set(remaining)
    record(
        "step.reassigned",
        actor=None,
        target=step,
        access_request=request_obj,
        payload={
            "reason": "Approvers of an earlier step cannot approve a later one.",
            "position": step.position,
            "previous_kind": previous_kind,
            "kind": step.kind,
            "approvers": [approver.okta_id for approver in remaining],
        },
        http_request=http_request,
    )
    return True


def _cancel_without_second_approver(
    request_obj: AccessRequest, step: ApprovalStep, *, http_request=None
) -> None:
    reason = (
        f"Cancelled: step {step.position} needs an approver other than the one who approved "
        "the earlier step, and nobody else can approve it. "
    )
    reason += policy.no_approver_message(request_obj.resource, request_obj.requester)
    cancel_locked_request(
        request_obj,
        reason,
        actor=None,
        payload={"reason": reason, "position": step.position},
        http_request=http_request,
    )
    logger.warning(
        "Cancelled request %s: step %s has no approver besides those of earlier steps",
        request_obj.pk,
        step.pk,
    )


def _approve(request_obj: AccessRequest, *, actor, http_request=None) -> None:
    now = timezone.now()
    request_obj.status = AccessRequest.Status.APPROVED
    request_obj.decided_at = now
    # A preset duration counts from now, so a request that waited keeps its full length.
    request_obj.requested_ends_at = request_obj.end_if_approved_at(now)
    request_obj.save(update_fields=["status", "decided_at", "requested_ends_at"])
    record(
        "request.approved",
        actor=actor,
        target=request_obj,
        access_request=request_obj,
        payload={
            "ends_at": (
                request_obj.requested_ends_at.isoformat() if request_obj.requested_ends_at else None
            )
        },
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
