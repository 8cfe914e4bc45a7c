"""Provisioning through the outbox: grants, their Okta operations, and running them.

The decision that needs a change in Okta writes a Grant and an OktaOperation in its own
transaction and sends the Celery task on commit. The task claims the operation with a
conditional UPDATE, calls Okta outside any transaction, and records the outcome. A message
lost on the way (broker down, worker killed) is recovered by `sweep_operations`, which beat
runs every minute.

Running an operation twice changes Okta once: adding a group member that is already a member
and assigning an app to a user who already has it are no-ops in Okta, and removing access that
is already gone counts as done. That is what makes reclaiming an operation from a dead worker
safe.
"""

import datetime
import functools
import logging
import random
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from access_requests import errors, notifications
from access_requests.models import AccessRequest, Grant, OktaOperation, Resource
from access_requests.services import revocation
from access_requests.services.events import record
from portal.okta_api import (
    CallInfo,
    OktaError,
    OktaNotFoundError,
    OktaPermanentError,
    OktaTransientError,
    get_client,
)

logger = logging.getLogger(__name__)

Action = OktaOperation.Action
OpStatus = OktaOperation.Status

# Defaults of the settings read by the functions below (see docs/operations.md).
DEFAULT_RETRY_BASE_SECONDS = 2.0
DEFAULT_RETRY_MAX_SECONDS = 600.0
# An operation still in flight after this long belongs to a worker that died mid-call. It must
# exceed the facade's request timeout, or a slow but live call would be run a second time.
DEFAULT_CLAIM_TIMEOUT_SECONDS = 300
# A due operation gets its message re-sent by the sweep only when it has been due this long,
# so the sweep does not duplicate messages that are merely queued behind others.
DEFAULT_RESEND_AFTER_SECONDS = 60
# Transient failures stop being retried after this long; the grant then fails visibly.
DEFAULT_GIVE_UP_HOURS = 24

BROKER_DEFAULT_PORTS = {"redis": 6379, "rediss": 6380, "amqp": 5672, "amqps": 5671, "pyamqp": 5672}
BROKER_PROBE_TIMEOUT_SECONDS = 0.5

GRANT_ACTIONS = {Resource.Kind.GROUP: Action.ADD_MEMBER, Resource.Kind.APP: Action.ASSIGN_APP}
REMOVE_ACTIONS = (Action.REMOVE_MEMBER, Action.UNASSIGN_APP)


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- Writing and sending ---------------------------------------------------------------------


def create_grant(request_obj: AccessRequest, *, actor, http_request=None) -> Grant:
    """Write the grant of an approved request and its operation; send the task on commit.

    An approved extension moves the end of the grant it extends instead.
    """
    if request_obj.extends_grant_id is not None:
        from access_requests.services import expiry

        return expiry.apply_extension(request_obj, actor=actor, http_request=http_request)
    grant = Grant.objects.create(
        user=request_obj.requester,
        resource=request_obj.resource,
        request=request_obj,
        ends_at=request_obj.requested_ends_at,
    )
    operation = OktaOperation.objects.create(
        grant=grant, action=GRANT_ACTIONS[request_obj.resource.kind]
    )
    record(
        "grant.created",
        actor=actor,
        target=grant,
        grant=grant,
        payload={"operation": operation.pk, "action": operation.action},
        http_request=http_request,
    )
    transaction.on_commit(functools.partial(send_operation, operation.pk))
    return grant


def send_operation(operation_id: int, eta: datetime.datetime | None = None) -> bool:
    """Send the task that runs the operation; return False when the broker cannot be reached.

    Never raises for a broker failure: the operation stays pending in the database and the
    sweep sends it again, so the caller (often a web request) is not held up.
    """
    from access_requests.tasks import run_operation

    if not _broker_accepts_connections():
        logger.warning(
            "The broker refuses connections; operation %s stays pending for the sweep", operation_id
        )
        return False
    try:
        # retry=False: with the broker down, publishing fails at once instead of retrying.
        run_operation.apply_async(args=[operation_id], eta=eta, retry=False)
    except (BrokerError, OSError) as error:
        logger.warning(
            "Could not send operation %s to the broker (%s); the sweep will re-send it",
            operation_id,
            error,
        )
        return False
    return True


def _broker_accepts_connections() -> bool:
    """Probe a network broker's TCP port before publishing to it.

    With the broker down, publishing blocks for seconds (redis-py 8.2 retries a refused
    connection with backoff: about 5 s measured on loopback), which would hold up the web
    request that approved. The probe fails within BROKER_PROBE_TIMEOUT_SECONDS instead.
    """
    parts = urlsplit(settings.CELERY_BROKER_URL)
    default_port = BROKER_DEFAULT_PORTS.get(parts.scheme)
    # Other transports (the embedded filesystem broker) and failover lists are not probed.
    if default_port is None or ";" in settings.CELERY_BROKER_URL:
        return True
    try:
        with socket.create_connection(
            (parts.hostname or "localhost", parts.port or default_port),
            timeout=BROKER_PROBE_TIMEOUT_SECONDS,
        ):
            return True
    except OSError:
        return False


def retry_grant(grant: Grant, *, by, http_request=None) -> Grant:
    """Queue a failed grant for provisioning again; portal admins only."""
    if not by.is_admin:
        raise errors.NotAllowed("Only portal admins can retry a failed grant.")
    with transaction.atomic():
        locked = (
            # Locks only this row: PostgreSQL cannot lock the nullable side of the outer join.
            Grant.objects.select_for_update(no_key=True, of=("self",))
            .select_related("resource", "user", "request")
            .get(pk=grant.pk)
        )
        if locked.status != Grant.Status.FAILED:
            raise errors.NotRetryable(
                f"Only failed grants can be retried; this one is {locked.status_text}."
            )
        other = Grant.objects.filter(
            user=locked.user, resource=locked.resource, status__in=Grant.HELD
        )
        if other.exists():
            raise errors.NotRetryable(
                f"{locked.user} already has another grant for {locked.resource.name}; there is nothing to retry."
            )
        previous_reason = locked.failure_reason
        locked.status = Grant.Status.PROVISIONING
        locked.failure_reason = ""
        locked.save(update_fields=["status", "failure_reason", "updated_at"])
        operation = OktaOperation.objects.create(
            grant=locked, action=GRANT_ACTIONS[locked.resource.kind]
        )
        record(
            "grant.retried",
            actor=by,
            target=locked,
            grant=locked,
            payload={"operation": operation.pk, "previous_failure": previous_reason},
            http_request=http_request,
        )
        transaction.on_commit(functools.partial(send_operation, operation.pk))
    return locked


# --- Running ---------------------------------------------------------------------------------


def run_operation(operation_id: int) -> str:
    """Claim and run one operation; return its resulting status, or "skipped" if not claimed.

    Not claimed means: already done, not yet due, or in flight in another worker.
    """
    operation = claim(operation_id)
    if operation is None:
        return "skipped"

    client = get_client()
    try:
        # Only the first attempt checks Okta first. A later attempt may follow one that
        # changed Okta before its worker died or its response was lost, and would wrongly
        # find the access "pre-existing".
        if operation.attempts == 1 and _already_applied(client, operation):
            _succeed(operation, client.last_call, pre_existing=True)
            return OpStatus.SUCCEEDED
        call = _perform(client, operation)
    except OktaTransientError as error:
        _reschedule(operation, error)
        return OpStatus.PENDING
    except OktaNotFoundError as error:
        if operation.action in REMOVE_ACTIONS:
            # The access is already gone, which is what the operation wanted.
            _succeed(operation, client.last_call, pre_existing=False)
            return OpStatus.SUCCEEDED
        _fail(operation, error)
        return OpStatus.FAILED
    except OktaPermanentError as error:
        _fail(operation, error)
        return OpStatus.FAILED
    _succeed(operation, call, pre_existing=False)
    return OpStatus.SUCCEEDED


def claim(operation_id: int) -> OktaOperation | None:
    """Move a due pending operation to in_flight; return it, or None if it was not claimable."""
    now = timezone.now()
    with transaction.atomic():
        claimed = OktaOperation.objects.filter(
            pk=operation_id, status=OpStatus.PENDING, next_attempt_at__lte=now
        ).update(
            status=OpStatus.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        if not claimed:
            return None
        operation = OktaOperation.objects.select_related(
            "grant__user", "grant__resource", "grant__request"
        ).get(pk=operation_id)
        record(
            "operation.claimed",
            actor=None,
            target=operation,
            grant=operation.grant,
            payload={"action": operation.action, "attempt": operation.attempts},
        )
    return operation


def _already_applied(client, operation: OktaOperation) -> bool:
    grant = operation.grant
    user_id = grant.user.okta_id
    if operation.action == Action.ADD_MEMBER:
        return any(
            group.id == grant.resource.okta_id
            for group in client.list_user_groups(user_id, wait=False)
        )
    if operation.action == Action.ASSIGN_APP:
        try:
            assignment = client.get_app_assignment(grant.resource.okta_id, user_id)
        except OktaNotFoundError:
            return False
        # NOTE: access through a group assignment (scope GROUP) is not counted: the portal
        # still assigns the user directly, so the access survives the group's removal.
        return assignment.scope == "USER"
    return False


def _perform(client, operation: OktaOperation) -> CallInfo:
    resource_id = operation.grant.resource.okta_id
    user_id = operation.grant.user.okta_id
    calls = {
        Action.ADD_MEMBER: client.add_group_member,
        Action.REMOVE_MEMBER: client.remove_group_member,
        Action.ASSIGN_APP: client.assign_app,
        Action.UNASSIGN_APP: client.unassign_app,
    }
    return calls[operation.action](resource_id, user_id)


def _still_ours(operation: OktaOperation):
    # Matches only while this worker's claim stands. The sweep may have reclaimed an
    # operation whose call took longer than the claim timeout; the later run then records it.
    return OktaOperation.objects.filter(
        pk=operation.pk, status=OpStatus.IN_FLIGHT, claimed_at=operation.claimed_at
    )


def _succeed(operation: OktaOperation, call: CallInfo, *, pre_existing: bool) -> None:
    now = timezone.now()
    request_id = call.request_id or ""
    with transaction.atomic():
        # Row locks come before the first audit event (see audit.services.record_event).
        grant = Grant.objects.select_for_update(no_key=True).get(pk=operation.grant_id)
        updated = _still_ours(operation).update(
            status=OpStatus.SUCCEEDED,
            completed_at=now,
            okta_request_id=request_id,
            last_error="",
            updated_at=now,
        )
        if not updated:
            logger.warning(
                "Operation %s succeeded after its claim was taken over; not recording it twice",
                operation.pk,
            )
            return
        record(
            "operation.succeeded",
            actor=None,
            target=operation,
            grant=operation.grant,
            payload={
                "action": operation.action,
                "attempt": operation.attempts,
                "pre_existing": pre_existing,
            },
            okta_request_id=request_id,
        )
        if operation.action in REMOVE_ACTIONS:
            revocation.removal_confirmed(grant, operation, request_id=request_id)
        elif grant.status == Grant.Status.PROVISIONING:
            # A grant revoked while its add was in flight stays revoking: its removal follows.
            _activate(grant, pre_existing=pre_existing, request_id=request_id)
    logger.info(
        "Operation %s (%s) succeeded on attempt %d",
        operation.pk,
        operation.action,
        operation.attempts,
    )


def _activate(grant: Grant, *, pre_existing: bool, request_id: str) -> None:
    grant.status = Grant.Status.ACTIVE
    grant.pre_existing = pre_existing
    grant.failure_reason = ""
    grant.save(update_fields=["status", "pre_existing", "failure_reason", "updated_at"])
    if pre_existing:
        record(
            "grant.pre_existing", actor=None, target=grant, grant=grant, okta_request_id=request_id
        )
    record(
        "grant.applied",
        actor=None,
        target=grant,
        grant=grant,
        payload={"pre_existing": pre_existing},
        okta_request_id=request_id,
    )
    transaction.on_commit(lambda: notifications.grant_applied(grant.pk))


def _reschedule(operation: OktaOperation, error: OktaTransientError) -> None:
    now = timezone.now()
    give_up_at = operation.created_at + datetime.timedelta(
        hours=_setting("PORTAL_OKTA_GIVE_UP_HOURS", DEFAULT_GIVE_UP_HOURS)
    )
    if now >= give_up_at:
        _fail(
            operation,
            error,
            reason=f"Okta kept failing for {_setting('PORTAL_OKTA_GIVE_UP_HOURS', DEFAULT_GIVE_UP_HOURS)} hours; last error: {error}",
        )
        return

    # Never before Okta's reset time (error.retry_at), and later with every attempt.
    retry_at = max(
        now + datetime.timedelta(seconds=retry_delay(operation.attempts)),
        datetime.datetime.fromtimestamp(error.retry_at, tz=datetime.UTC),
    )
    with transaction.atomic():
        updated = _still_ours(operation).update(
            status=OpStatus.PENDING,
            next_attempt_at=retry_at,
            last_error=str(error),
            okta_request_id=error.request_id or "",
            updated_at=now,
        )
        if not updated:
            return
        record(
            "operation.retry_scheduled",
            actor=None,
            target=operation,
            grant=operation.grant,
            outcome="failure",
            payload={
                "attempt": operation.attempts,
                "error": str(error),
                "retry_at": retry_at.isoformat(),
            },
            okta_request_id=error.request_id,
        )
        transaction.on_commit(functools.partial(send_operation, operation.pk, retry_at))
    logger.info(
        "Operation %s failed transiently (%s); retry %d at %s",
        operation.pk,
        error,
        operation.attempts,
        retry_at.isoformat(),
    )


def retry_delay(attempts: int) -> float:
    """Return the backoff in seconds after `attempts` failed attempts, with jitter."""
    base = _setting("PORTAL_OKTA_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS)
    ceiling = _setting("PORTAL_OKTA_RETRY_MAX_SECONDS", DEFAULT_RETRY_MAX_SECONDS)
    delay = min(ceiling, base * 2 ** max(attempts - 1, 0))
    # Jitter spreads the retries of operations that failed together (one 429 burst).
    return delay * random.uniform(0.5, 1.0)


def _fail(operation: OktaOperation, error: OktaError, *, reason: str | None = None) -> None:
    now = timezone.now()
    reason = reason or str(error)
    with transaction.atomic():
        # Row locks come before the first audit event (see audit.services.record_event).
        grant = Grant.objects.select_for_update(no_key=True).get(pk=operation.grant_id)
        updated = _still_ours(operation).update(
            status=OpStatus.FAILED,
            completed_at=now,
            last_error=reason,
            okta_request_id=error.request_id or "",
            updated_at=now,
        )
        if not updated:
            return
        record(
            "operation.failed",
            actor=None,
            target=operation,
            grant=operation.grant,
            outcome="failure",
            payload={"action": operation.action, "error": reason, "error_code": error.error_code},
            okta_request_id=error.request_id,
        )
        if operation.action in REMOVE_ACTIONS:
            revocation.removal_failed(grant, operation, reason=reason, request_id=error.request_id)
        elif grant.status == Grant.Status.PROVISIONING:
            grant.status = Grant.Status.FAILED
            grant.failure_reason = reason
            grant.save(update_fields=["status", "failure_reason", "updated_at"])
            record(
                "grant.failed",
                actor=None,
                target=grant,
                grant=grant,
                outcome="failure",
                payload={"reason": reason},
                okta_request_id=error.request_id,
            )
            transaction.on_commit(lambda: notifications.grant_failed(grant.pk))
    logger.warning("Operation %s failed permanently: %s", operation.pk, reason)


# --- Recovery --------------------------------------------------------------------------------


def sweep_operations(now: datetime.datetime | None = None) -> dict:
    """Reclaim operations from dead workers and re-send due operations whose message was lost.

    Returns the counts {"reclaimed": n, "resent": m}.
    """
    now = now or timezone.now()
    reclaimed = _reclaim_stale(now)
    resend_before = now - datetime.timedelta(
        seconds=_setting("PORTAL_OKTA_RESEND_AFTER_SECONDS", DEFAULT_RESEND_AFTER_SECONDS)
    )
    # updated_at is the time of the last send or claim, so an operation whose message is still
    # queued behind a backlog is re-sent once per resend period, not at every sweep.
    due = OktaOperation.objects.filter(
        status=OpStatus.PENDING,
        next_attempt_at__lte=resend_before,
        updated_at__lte=resend_before,
    )
    resent = 0
    for operation_id in due.values_list("pk", flat=True):
        if not send_operation(operation_id):
            break
        OktaOperation.objects.filter(pk=operation_id, status=OpStatus.PENDING).update(
            updated_at=now
        )
        resent += 1
    if reclaimed or resent:
        logger.info("Outbox sweep: reclaimed %d operations, re-sent %d", reclaimed, resent)
    return {"reclaimed": reclaimed, "resent": resent}


def _reclaim_stale(now: datetime.datetime) -> int:
    stale_before = now - datetime.timedelta(
        seconds=_setting("PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS", DEFAULT_CLAIM_TIMEOUT_SECONDS)
    )
    reclaimed = 0
    stale = OktaOperation.objects.filter(status=OpStatus.IN_FLIGHT, claimed_at__lt=stale_before)
    for operation in stale.select_related("grant__user", "grant__resource", "grant__request"):
        with transaction.atomic():
            # Safe to run again: the Okta calls are idempotent (see the module docstring).
            updated = OktaOperation.objects.filter(
                pk=operation.pk, status=OpStatus.IN_FLIGHT, claimed_at=operation.claimed_at
            ).update(
                status=OpStatus.PENDING,
                next_attempt_at=now,
                updated_at=now,
                last_error="The worker stopped before recording the outcome; running it again.",
            )
            if not updated:
                continue
            record(
                "operation.retry_scheduled",
                actor=None,
                target=operation,
                grant=operation.grant,
                outcome="failure",
                payload={
                    "attempt": operation.attempts,
                    "error": "claim timed out",
                    "retry_at": now.isoformat(),
                },
            )
            transaction.on_commit(functools.partial(send_operation, operation.pk))
        reclaimed += 1
    return reclaimed
