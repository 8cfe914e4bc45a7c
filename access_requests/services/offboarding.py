"""Offboarding: what happens to a user's access when Okta suspends or deactivates them.

Their pending requests are cancelled, every grant they hold is removed through the outbox,
and approval steps waiting on them go to the next approver the policy gives. A request whose
step finds no approver at all that way is cancelled, with the reason and whom to ask. New requests
from them are refused by submit_request, which requires an ACTIVE Okta status.

`offboard_departed_users` finds every user in such a status who still has something to
undo, whichever way the status arrived (user sync, event hook, sign-in). Beat runs it every
minute, and the event hook task runs it at once.
"""

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from access_requests import notifications, policy
from access_requests.models import AccessRequest, ApprovalStep, Grant
from access_requests.services import approvals, revocation
from access_requests.services.events import record
from accounts.models import OktaStatus

logger = logging.getLogger(__name__)

# Okta statuses that end a user's access. LOCKED_OUT and PASSWORD_EXPIRED are temporary
# sign-in problems, not a departure.
DEPARTED_STATUSES = (OktaStatus.SUSPENDED, OktaStatus.DEPROVISIONED)


def departed_users_with_access():
    """Users in a departed status who still hold grants, requests or approval steps."""
    held = Grant.objects.filter(user=OuterRef("pk"), status__in=revocation.REMOVABLE)
    pending = AccessRequest.objects.filter(requester=OuterRef("pk"), status__in=AccessRequest.OPEN)
    approving = ApprovalStep.objects.filter(approvers=OuterRef("pk"), status__in=ApprovalStep.OPEN)
    return (
        get_user_model()
        .objects.filter(okta_status__in=DEPARTED_STATUSES)
        .filter(Q(Exists(held)) | Q(Exists(pending)) | Q(Exists(approving)))
    )


def offboard_departed_users() -> int:
    """Offboard every departed user with something left to undo; return how many users."""
    users = list(departed_users_with_access())
    for user in users:
        offboard_user(user)
    return len(users)


def offboarding_reason(user, status: str) -> str:
    """Return the reason that offboarding stores on the grants and requests it ends."""
    return f"{user} is {OktaStatus(status).label.lower()} in Okta."


def offboard_user(user) -> dict:
    """Cancel the user's requests, remove their grants, and pass on their approval steps."""
    reason = offboarding_reason(user, user.okta_status)
    counts = {"requests_cancelled": 0, "grants_revoked": 0, "steps_reassigned": 0}
    pending = AccessRequest.objects.filter(requester=user, status__in=AccessRequest.OPEN)
    for pk in pending.values_list("pk", flat=True):
        if cancel_open_request(pk, reason):
            counts["requests_cancelled"] += 1

    held = Grant.objects.filter(user=user, status__in=revocation.REMOVABLE)
    for pk in held.values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                # Locks only the grant row: PostgreSQL cannot lock the nullable side of a join.
                Grant.objects.select_for_update(no_key=True, of=("self",))
                .select_related("resource", "user", "request")
                .get(pk=pk)
            )
            if grant.status not in revocation.REMOVABLE:
                continue
            revocation.begin_removal(grant, actor=None, reason=reason)
            counts["grants_revoked"] += 1

    steps = ApprovalStep.objects.filter(approvers=user, status__in=ApprovalStep.OPEN)
    for step_id in steps.values_list("pk", flat=True):
        with transaction.atomic():
            if _pass_on(step_id, user):
                counts["steps_reassigned"] += 1
    logger.info("Offboarded %s: %s", user, counts)
    return counts


def cancel_open_request(pk: int, reason: str) -> bool:
    """Cancel a request for the system, with `reason`; False when it is no longer open."""
    with transaction.atomic():
        request_obj = AccessRequest.objects.select_for_update(no_key=True).get(pk=pk)
        if not request_obj.is_open:
            return False
        approvals.cancel_locked_request(
            request_obj, reason, actor=None, payload={"reason": reason}, notify=False
        )
    return True


def _pass_on(step_id: int, departed) -> bool:
    """Take `departed` off a step. When no approver is left, give the step to the approvers the
    policy falls through to, or cancel the request when there are none."""
    step = ApprovalStep.objects.select_related("request__resource", "request__requester").get(
        pk=step_id
    )
    request_obj = AccessRequest.objects.select_for_update(no_key=True).get(pk=step.request_id)
    step = ApprovalStep.objects.select_for_update(no_key=True).get(pk=step_id)
    if step.status not in ApprovalStep.OPEN or not request_obj.is_open:
        return False
    step.approvers.remove(departed)
    if step.approvers.exists():
        record(
            "step.reassigned",
            actor=None,
            target=step,
            access_request=request_obj,
            payload={"removed_approver": departed.okta_id, "position": step.position},
        )
        return True

    # The same fall-through as when the steps were planned: manager, then owners, then admins.
    # The departed user is no longer ACTIVE, so the policy passes over them, and approvers of
    # earlier steps are passed over as when approvals opens the next step.
    planned = policy.resolve_step(
        step.kind,
        request_obj.resource,
        request_obj.requester,
        exclude=approvals._earlier_deciders(step),
    )
    later = request_obj.steps.filter(position__gt=step.position, status=ApprovalStep.Status.QUEUED)
    same_kind_later = later.filter(kind=planned.kind).order_by("position").first()
    if same_kind_later is not None:
        # Those approvers decide in a later step anyway: skip this one.
        approvals.skip_step(
            step, request_obj, actor=None, reason=f"Its only approver {departed} left."
        )
        return True

    if not planned.approvers:
        _cancel_without_approver(request_obj, step, departed)
        return True

    previous_kind = step.kind
    step.kind = planned.kind
    step.save(update_fields=["kind"])
    step.approvers.set(planned.approvers)
    record(
        "step.reassigned",
        actor=None,
        target=step,
        access_request=request_obj,
        payload={
            "removed_approver": departed.okta_id,
            "previous_kind": previous_kind,
            "kind": step.kind,
            "approvers": [approver.okta_id for approver in planned.approvers],
        },
    )
    if step.status == ApprovalStep.Status.WAITING:
        transaction.on_commit(lambda: notifications.step_waiting(step.pk))
    return True


def _cancel_without_approver(request_obj: AccessRequest, step: ApprovalStep, departed) -> None:
    """Cancel a request whose step lost its last approver and found no other by falling through.

    A step without approvers can never be decided, so the request could only wait until it
    expires. Cancelling it tells the requester at once, with whom to ask.
    """
    reason = f"Cancelled: {departed}, the last approver of step {step.position}, left. "
    reason += policy.no_approver_message(request_obj.resource, request_obj.requester)
    approvals.cancel_locked_request(
        request_obj,
        reason,
        actor=None,
        payload={
            "reason": reason,
            "removed_approver": departed.okta_id,
            "position": step.position,
        },
    )
    logger.warning(
        "Cancelled request %s: step %s has no approver left after user %s left",
        request_obj.pk,
        step.pk,
        departed.pk,
    )
