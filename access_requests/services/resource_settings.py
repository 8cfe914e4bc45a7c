"""An admin's change of a resource's settings, applied to the requests already pending for it.

A submit plans its approval steps from the settings of that moment. When an admin changes the
owners, the open owner steps of pending requests are planned again, and when an admin turns
"requestable" off, the pending requests are cancelled. Both happen in the transaction of the
change, which is audited with the old and new value of every changed field. Grants are left
alone: access already given stays until it ends or someone revokes it.
"""

import functools
import logging
from dataclasses import dataclass, field

from django.db import transaction

from access_requests import notifications, policy
from access_requests.models import AccessRequest, ApprovalStep, Resource
from access_requests.services import approvals
from access_requests.services.events import record

logger = logging.getLogger(__name__)

# The settings an admin edits, as recorded in the resource.updated event. Owners are
# recorded separately, as the users added and removed.
SETTING_FIELDS = (
    "requestable",
    "description",
    "approval_policy",
    "max_duration_days",
    "allow_no_end",
    "justification_required",
    "enforcement",
)

# Step kinds whose approvers come from the owners: an owner step, and an admin step, which
# exists only because a step found no usable owner when it was planned.
OWNER_DERIVED_KINDS = (ApprovalStep.Kind.OWNER, ApprovalStep.Kind.ADMIN)


@dataclass(frozen=True)
class SettingsSnapshot:
    """A resource's admin settings and owner ids at one moment, to compare with a later state."""

    values: dict
    owner_ids: frozenset


@dataclass
class SettingsChange:
    """The effect of saving a resource's settings on its pending requests."""

    # Cancelled because the resource is no longer requestable.
    requests_cancelled: int = 0
    steps_reassigned: int = 0
    # Cancelled because no owner or portal admin other than the requester is left.
    requests_without_approver: int = 0
    changed: list = field(default_factory=list)


def snapshot(resource: Resource) -> SettingsSnapshot:
    """Read the stored settings and owners of `resource` from the database."""
    stored = Resource.objects.get(pk=resource.pk)
    return SettingsSnapshot(
        values={name: getattr(stored, name) for name in SETTING_FIELDS},
        owner_ids=frozenset(stored.owners.values_list("pk", flat=True)),
    )


def pending_requests(resource: Resource):
    return AccessRequest.objects.filter(resource=resource, status__in=AccessRequest.OPEN)


def apply_settings_change(
    resource: Resource,
    before: SettingsSnapshot,
    *,
    by,
    http_request=None,
    extra_payload: dict | None = None,
) -> SettingsChange:
    """Bring the pending requests of `resource` in line with its saved settings, and audit it.

    Call it after the resource and its owners are saved, inside the same transaction.
    NOTE: a submit that read the settings before this transaction commits keeps the approvers
    and requestable flag it read. Nothing re-plans such a request later.
    `before` is the snapshot taken before the save. `extra_payload` is added to the payload of
    the resource.updated event. Every row lock is taken before the first audit event, as
    audit.services.record_event requires.
    """
    after = snapshot(resource)
    result = SettingsChange()
    result.changed = [name for name in SETTING_FIELDS if before.values[name] != after.values[name]]
    owners_changed = before.owner_ids != after.owner_ids
    if owners_changed:
        result.changed.append("owners")
    if "requestable" in result.changed and resource.requestable:
        # The baseline is taken now instead of at the next hourly comparison. Okta additions
        # reported after the save are drift in any case (see Resource.managed_since).
        from access_requests.services import reconciliation

        transaction.on_commit(functools.partial(reconciliation.queue_comparison, resource.pk))
    # A resource that is not requestable loses its pending requests on any save, so that the
    # form's warning is true even when the admin changed nothing else.
    if not result.changed and resource.requestable:
        return result

    locked = list(
        AccessRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("requester", "requester__manager")
        .filter(resource=resource, status__in=AccessRequest.OPEN)
        .order_by("pk")
    )
    if not result.changed and not locked:
        return result
    list(
        ApprovalStep.objects.select_for_update(no_key=True)
        .filter(request__in=[request_obj.pk for request_obj in locked])
        .filter(status__in=ApprovalStep.OPEN)
        .order_by("pk")
    )

    if not resource.requestable:
        for request_obj in locked:
            _cancel_not_requestable(request_obj, resource, by=by, http_request=http_request)
            result.requests_cancelled += 1
    elif owners_changed:
        for request_obj in locked:
            _replan_owner_steps(request_obj, resource, result, by=by)

    payload = {**(extra_payload or {}), **_changed_values(before, after, result.changed)}
    payload["requests_cancelled"] = result.requests_cancelled
    payload["steps_reassigned"] = result.steps_reassigned
    payload["requests_without_approver"] = result.requests_without_approver
    from audit.services import record_event

    record_event(
        "resource.updated",
        actor=by,
        target=resource,
        resource=resource,
        payload=payload,
        http_request=http_request,
    )
    return result


def cancel_reason_not_requestable(resource: Resource) -> str:
    """Return the reason given to a requester whose pending request was cancelled."""
    return (
        f"Cancelled: a portal admin turned off requests for {resource.name}, so it can no "
        "longer be requested or approved. Access you already hold is not changed. Ask the "
        f"owners of {resource.name} or a portal admin if you still need it."
    )


def _cancel_not_requestable(
    request_obj: AccessRequest, resource: Resource, *, by, http_request=None
) -> None:
    reason = cancel_reason_not_requestable(resource)
    approvals.cancel_locked_request(
        request_obj, reason, actor=by, payload={"reason": reason}, http_request=http_request
    )


def _replan_owner_steps(
    request_obj: AccessRequest, resource: Resource, result: SettingsChange, *, by
) -> None:
    """Give the open owner and admin steps of one request the approvers the new owners give.

    Uses the fall-through of submit: the usable owners other than the requester and the
    approvers of earlier steps, else the portal admins. Cancels the request when that finds
    nobody. Counts both in `result`.
    """
    open_steps = request_obj.steps.filter(status__in=ApprovalStep.OPEN).order_by("position")
    owner_steps = [step for step in open_steps if step.kind in OWNER_DERIVED_KINDS]
    if not owner_steps:
        return
    # Approvers of earlier steps are passed over, as when approvals opens the next step.
    earlier_deciders = approvals._earlier_deciders(owner_steps[-1])
    planned = policy.resolve_step(
        ApprovalStep.Kind.OWNER, resource, request_obj.requester, exclude=earlier_deciders
    )
    if not planned.approvers:
        _cancel_without_approver(request_obj, resource, owner_steps[0], by=by)
        result.requests_without_approver += 1
        return

    if _reassign(request_obj, resource, owner_steps[-1], planned, by=by):
        result.steps_reassigned += 1
    # Two open steps that both go to the owners would ask the same people twice, which
    # plan_steps avoids by merging them. The earlier ones are skipped.
    for step in owner_steps[:-1]:
        _skip(request_obj, resource, step, by=by)
        result.steps_reassigned += 1


def _reassign(request_obj, resource, step: ApprovalStep, planned, *, by) -> bool:
    previous = list(step.approvers.all())
    previous_ids = {user.pk for user in previous}
    new_ids = {user.pk for user in planned.approvers}
    if step.kind == planned.kind and previous_ids == new_ids:
        return False

    previous_kind = step.kind
    step.kind = planned.kind
    step.save(update_fields=["kind"])
    step.approvers.set(planned.approvers)
    added = [user for user in planned.approvers if user.pk not in previous_ids]
    removed = [user for user in previous if user.pk not in new_ids]
    record(
        "step.reassigned",
        actor=by,
        target=step,
        access_request=request_obj,
        payload={
            "reason": f"The owners of {resource.name} changed.",
            "position": step.position,
            "previous_kind": previous_kind,
            "kind": step.kind,
            "added_approvers": [user.okta_id for user in added],
            "removed_approvers": [user.okta_id for user in removed],
            "approvers": [user.okta_id for user in planned.approvers],
        },
    )
    if step.status == ApprovalStep.Status.WAITING and added:
        transaction.on_commit(
            functools.partial(
                notifications.step_waiting, step.pk, only_to=[user.pk for user in added]
            )
        )
    return True


def _skip(request_obj, resource, step: ApprovalStep, *, by) -> None:
    approvals.skip_step(
        step,
        request_obj,
        actor=by,
        reason=f"The owners of {resource.name} changed, and a later step asks them.",
    )


def _cancel_without_approver(
    request_obj: AccessRequest, resource: Resource, step: ApprovalStep, *, by
) -> None:
    # A step without approvers can never be decided, so the request could only wait until it
    # expired. Cancelling it sends the requester the reason at once, with whom to ask.
    reason = (
        f"Cancelled: after the owners of {resource.name} changed, step {step.position} has "
        "nobody left to approve it. "
    )
    reason += policy.no_approver_message(resource, request_obj.requester)
    approvals.cancel_locked_request(
        request_obj, reason, actor=by, payload={"reason": reason, "position": step.position}
    )
    logger.warning(
        "Cancelled request %s: step %s has no approver after the owners of resource %s changed",
        request_obj.pk,
        step.pk,
        resource.pk,
    )


def _changed_values(before: SettingsSnapshot, after: SettingsSnapshot, changed: list) -> dict:
    """Return the resource.updated payload: each changed field with its old and new value."""
    payload: dict = {"changed": list(changed)}
    for name in changed:
        if name == "owners":
            continue
        payload[name] = {"from": before.values[name], "to": after.values[name]}
    if "owners" in changed:
        from accounts.models import User

        added = User.objects.filter(pk__in=after.owner_ids - before.owner_ids).order_by("login")
        removed = User.objects.filter(pk__in=before.owner_ids - after.owner_ids).order_by("login")
        payload["owners"] = {
            "added": [_describe_user(user) for user in added],
            "removed": [_describe_user(user) for user in removed],
        }
    return payload


def _describe_user(user) -> dict:
    return {"okta_id": user.okta_id, "login": user.login, "name": user.get_full_name()}
