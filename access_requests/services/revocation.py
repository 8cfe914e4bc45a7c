"""Ending grants: removing the access in Okta through the outbox, and closing the grant.

Every way a grant ends goes through `begin_removal`: its end date, an owner or admin revoking
it, the holder giving it up, the holder leaving the company. The grant becomes "revoking", and
a remove operation for the provisioning worker is written in the same transaction. The grant
is closed only when Okta confirms the removal (a 404 counts as already removed). The worker
retries transient failures. A removal that fails permanently leaves the grant revoking, with
the reason, for an admin to retry.

Pre-existing grants (access the user held in Okta before the portal recorded it) end the same
way: an owner's revoke, a holder's give-up, an end date or offboarding removes the access from
Okta, because a managed resource should hold no access without a grant.
"""

import datetime
import functools
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access_requests import errors, notifications
from access_requests.models import Grant, OktaOperation, Resource
from access_requests.services import provisioning
from access_requests.services.events import record
from portal.okta_api import OktaError, OktaNotFoundError

logger = logging.getLogger(__name__)

Action = OktaOperation.Action

REMOVE_ACTIONS = {Resource.Kind.GROUP: Action.REMOVE_MEMBER, Resource.Kind.APP: Action.UNASSIGN_APP}
# Grants that still hold, or are about to hold, access in Okta.
REMOVABLE = (Grant.Status.PROVISIONING, Grant.Status.ACTIVE)


def begin_removal(grant: Grant, *, actor, reason: str, http_request=None) -> Grant:
    """Start ending a held grant; call inside a transaction with the grant row locked.

    Returns the grant, now revoking. When Okta confirms, it closes as expired if its end had
    passed when the removal started, else as revoked.
    """
    if grant.status not in REMOVABLE:
        raise errors.NotRevocable(f"This access cannot be removed: it is {grant.status_text}.")
    grant.revoke_reason = reason
    # An add still waiting for a worker is dropped. An add already in flight could land after
    # the removal, so the removal waits until that claim has timed out.
    now = timezone.now()
    grant.operations.filter(
        status=OktaOperation.Status.PENDING, action__in=provisioning.GRANT_ACTIONS.values()
    ).update(
        status=OktaOperation.Status.FAILED,
        last_error="Cancelled: the grant is being removed.",
        completed_at=now,
        updated_at=now,
    )
    in_flight = grant.operations.filter(status=OktaOperation.Status.IN_FLIGHT).first()
    start_at = now
    if in_flight is not None:
        start_at = in_flight.claimed_at + datetime.timedelta(
            seconds=getattr(
                settings,
                "PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS",
                provisioning.DEFAULT_CLAIM_TIMEOUT_SECONDS,
            )
        )

    grant.status = Grant.Status.REVOKING
    grant.failure_reason = ""
    grant.save(update_fields=["status", "revoke_reason", "failure_reason", "updated_at"])
    operation = OktaOperation.objects.create(
        grant=grant, action=REMOVE_ACTIONS[grant.resource.kind], next_attempt_at=start_at
    )
    record(
        "grant.revoking",
        actor=actor,
        target=grant,
        grant=grant,
        payload={"operation": operation.pk, "action": operation.action, "reason": reason},
        http_request=http_request,
    )
    eta = start_at if start_at > now else None
    transaction.on_commit(functools.partial(provisioning.send_operation, operation.pk, eta))
    _cancel_extensions_after_commit(grant)
    return grant


def _cancel_extensions_after_commit(grant: Grant) -> None:
    # After commit, in its own transactions: locking the extension's request here, with the grant
    # locked, would invert the order of decide_step, which locks the request before the grant.
    # Imported here: requests imports approvals, approvals imports provisioning, and provisioning
    # imports this module.
    from access_requests.services.requests import cancel_extensions_of_ended_grants

    transaction.on_commit(functools.partial(cancel_extensions_of_ended_grants, grant.pk))


def revoke_grant(grant: Grant, *, by, reason: str, http_request=None) -> Grant:
    """Remove a grant now: the resource's owners and portal admins, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.ReasonRequired("Say why the access is removed: the holder will see it.")
    with transaction.atomic():
        locked = _lock(grant)
        if not (by.is_admin or locked.resource.owners.filter(pk=by.pk).exists()):
            raise errors.NotAllowed(
                f"Only owners of {locked.resource.name} and portal admins can revoke this access."
            )
        return begin_removal(
            locked, actor=by, reason=f"Revoked by {by}: {reason}", http_request=http_request
        )


def give_up_grant(grant: Grant, *, by, http_request=None) -> Grant:
    """Remove the holder's own access at their request."""
    with transaction.atomic():
        locked = _lock(grant)
        if locked.user_id != by.pk:
            raise errors.NotAllowed("Only the holder of this access can give it up.")
        return begin_removal(
            locked, actor=by, reason="Given up by the holder.", http_request=http_request
        )


def retry_revocation(grant: Grant, *, by, http_request=None) -> Grant:
    """Queue the removal of a grant whose removal failed again; portal admins only."""
    if not by.is_admin:
        raise errors.NotAllowed("Only portal admins can retry a removal.")
    with transaction.atomic():
        locked = _lock(grant)
        if locked.status != Grant.Status.REVOKING:
            raise errors.NotRetryable(
                f"Only access being removed can be retried; this one is {locked.status_text}."
            )
        if locked.operations.filter(status__in=OktaOperation.OPEN).exists():
            raise errors.NotRetryable("The removal is still queued or running; wait for it.")
        operation = OktaOperation.objects.create(
            grant=locked, action=REMOVE_ACTIONS[locked.resource.kind]
        )
        previous = locked.failure_reason
        locked.failure_reason = ""
        locked.save(update_fields=["failure_reason", "updated_at"])
        record(
            "grant.retried",
            actor=by,
            target=locked,
            grant=locked,
            payload={"operation": operation.pk, "previous_failure": previous},
            http_request=http_request,
        )
        transaction.on_commit(functools.partial(provisioning.send_operation, operation.pk))
    return locked


def removal_confirmed(grant: Grant, operation: OktaOperation, *, request_id: str) -> None:
    """Close the grant after Okta confirmed its removal; runs in the worker's transaction."""
    if grant.status != Grant.Status.REVOKING:
        logger.warning("Grant %s is %s, not revoking; removal not recorded", grant.pk, grant.status)
        return
    _close(grant, actor=None, payload={"operation": operation.pk}, request_id=request_id)
    if operation.action == Action.UNASSIGN_APP:
        transaction.on_commit(functools.partial(note_access_through_groups, grant.pk))


def note_access_through_groups(grant_id: int, client=None) -> list[str]:
    """Record when a user keeps an app they were unassigned from, through a group.

    Removing the direct assignment is right: the grant ended. The app stays with the user as
    long as a group assigned to it has them as a member, which the audit trail should say.
    Returns the names of those groups.
    """
    from portal.okta_api import get_client

    client = client or get_client()
    grant = Grant.objects.select_related("user", "resource", "request").get(pk=grant_id)
    try:
        assignment = client.get_app_assignment(grant.resource.okta_id, grant.user.okta_id)
    except OktaNotFoundError:
        return []
    except OktaError as error:
        logger.warning("Could not check grant %s's app access after removal: %s", grant_id, error)
        return []
    if assignment.scope != "GROUP":
        return []
    try:
        app_groups = set(client.list_app_group_ids(grant.resource.okta_id))
        groups = [
            group for group in client.list_user_groups(grant.user.okta_id) if group.id in app_groups
        ]
    except OktaError as error:
        logger.warning(
            "Could not list the groups behind grant %s's app access: %s", grant_id, error
        )
        groups = []
    names = [group.name for group in groups]
    through = ", ".join(names) if names else "a group assigned to the app"
    with transaction.atomic():
        record(
            "grant.access_continues",
            actor=None,
            target=grant,
            grant=grant,
            payload={
                "note": f"The direct assignment was removed; {grant.user} still has "
                f"{grant.resource.name} through {through}.",
                "groups": [{"id": group.id, "name": group.name} for group in groups],
            },
        )
    return names


def removal_failed(grant: Grant, operation: OktaOperation, *, reason: str, request_id) -> None:
    """Keep the grant revoking, with the reason, for an admin to see and retry."""
    grant.failure_reason = reason
    grant.save(update_fields=["failure_reason", "updated_at"])
    record(
        "grant.revocation_failed",
        actor=None,
        target=grant,
        grant=grant,
        outcome="failure",
        payload={"operation": operation.pk, "reason": reason},
        okta_request_id=request_id,
    )
    transaction.on_commit(functools.partial(notifications.removal_failed, grant.pk))


def ends_by_expiry(grant: Grant, at: datetime.datetime) -> bool:
    return grant.ends_at is not None and grant.ends_at <= at


def _close(
    grant: Grant,
    *,
    actor,
    payload: dict,
    request_id: str | None = None,
    expired: bool | None = None,
) -> None:
    if expired is None:
        # The removal started when its operation was written: a grant whose end had passed
        # by then expired, any other was revoked.
        started = (
            grant.operations.filter(action__in=REMOVE_ACTIONS.values()).order_by("-pk").first()
        )
        expired = ends_by_expiry(grant, started.created_at if started else timezone.now())
    grant.status = Grant.Status.EXPIRED if expired else Grant.Status.REVOKED
    grant.save(update_fields=["status", "revoke_reason", "updated_at"])
    record(
        "grant.expired" if expired else "grant.revoked",
        actor=actor,
        target=grant,
        grant=grant,
        payload={**payload, "reason": grant.revoke_reason},
        okta_request_id=request_id,
    )
    transaction.on_commit(functools.partial(notifications.grant_ended, grant.pk))


def _lock(grant: Grant) -> Grant:
    return (
        # Locks only this row: PostgreSQL cannot lock the nullable side of the outer join.
        Grant.objects.select_for_update(no_key=True, of=("self",))
        .select_related("resource", "user", "request")
        .get(pk=grant.pk)
    )
