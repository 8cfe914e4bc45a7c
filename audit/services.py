"""Writing audit events: `record_event` is the only way in."""

import logging
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from audit.actions import ACTIONS, OUTCOMES
from audit.hashing import GENESIS_HASH, canonical_value
from audit.models import AuditChainHead, AuditEvent
from portal.client_address import IPAddress, client_ip

logger = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock that serialises writers of the chain. Any fixed 64-bit
# number works; this one is "audit" in ASCII, so it is recognisable in pg_locks.
CHAIN_LOCK_KEY = 0x6175646974

MASK = "********"
# A payload key containing any of these words has its value replaced by MASK, at any depth.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd|phrase)?|secret|token|authori[sz]ation|cookie|api[_-]?key|private[_-]?key"
    r"|credential|session|signature|pkce|verifier",
    re.IGNORECASE,
)
# Values that are credentials whatever their key: Okta API tokens in headers and bearer tokens.
SECRET_VALUE_PATTERN = re.compile(r"^\s*(SSWS|Bearer|Basic)\s+\S+", re.IGNORECASE)

MAX_USER_AGENT = 512
MAX_LABEL = 255


class AuditError(Exception):
    """Raised when record_event is called incorrectly."""


def record_event(
    action: str,
    *,
    actor=None,
    target: models.Model | None = None,
    subject_user=None,
    resource=None,
    access_request=None,
    payload: dict[str, Any] | None = None,
    outcome: str = "success",
    okta_request_id: str | None = None,
    http_request=None,
) -> AuditEvent:
    """Append one event to the audit trail and return it.

    Call it inside the transaction.atomic() block of the state change it records, so that the
    event and the change commit or roll back together. On PostgreSQL it takes a
    transaction-scoped advisory lock before reading the chain's head, so concurrent writers
    queue from that point until their transaction ends. Call it after the transaction's last
    row lock, taken with select_for_update(no_key=True): a transaction that waits for a row
    lock while holding the chain lock can deadlock with one that holds the row and waits for
    the chain. A plain FOR UPDATE would also block the event's foreign-key checks. On SQLite the
    portal's settings open every transaction with BEGIN IMMEDIATE, which serialises writers
    already.
    """
    _check_arguments(action, outcome, payload)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        raise AuditError(
            f"record_event({action!r}) was called outside a transaction: wrap the state change "
            "and the event in one transaction.atomic() block."
        )

    fields = _event_fields(
        action=action,
        actor=actor,
        target=target,
        subject_user=subject_user,
        resource=resource,
        access_request=access_request,
        payload=payload or {},
        outcome=outcome,
        okta_request_id=okta_request_id,
        http_request=http_request,
    )
    # On SQLite outside a transaction this block is the transaction (BEGIN IMMEDIATE); inside
    # one it is a savepoint.
    with transaction.atomic():
        return _append(fields)


def _append(fields: dict[str, Any]) -> AuditEvent:
    _share_users(fields["actor"], fields["subject_user"])
    _lock_chain()
    head = _chain_head()
    now = timezone.now()

    event = AuditEvent(
        sequence=head.sequence + 1,
        # The chain lock makes created_at non-decreasing along the chain unless the host clock
        # steps back; the review pages rely on that to turn date ranges into sequence ranges.
        created_at=max(now, head.updated_at),
        prev_hash=head.hash,
        **fields,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)

    head.sequence = event.sequence
    head.hash = event.hash
    head.updated_at = event.created_at
    head.save(update_fields=["sequence", "hash", "updated_at"])
    return event


def _lock_chain() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def _share_users(*users) -> None:
    """Take now the key-share locks that the event's foreign-key checks take at commit.

    PostgreSQL checks the event's user references when the transaction commits, with the
    chain lock still taken. A check that waited there for a row that another writer locked FOR
    UPDATE would deadlock once that writer waited for the chain. A wait here comes before the
    chain lock, so it cannot close a cycle through that lock.
    """
    if connection.vendor != "postgresql":
        return
    pks = sorted({user.pk for user in users if user is not None})
    if not pks:
        return
    meta = get_user_model()._meta
    table = connection.ops.quote_name(meta.db_table)
    key = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {key} = ANY(%s) FOR KEY SHARE", [pks])


def _chain_head() -> AuditChainHead:
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None:
        return head

    # No head row: a fresh database, or one whose tables were emptied together. If events
    # exist the row was removed on its own, which verify_audit cannot see afterwards, so log it.
    last = AuditEvent.objects.order_by("-sequence").first()
    if last is not None:
        logger.error(
            "Audit chain head row is missing while events exist; rebuilding it from event %s",
            last.sequence,
        )
        return AuditChainHead.objects.create(
            pk=1, sequence=last.sequence, hash=last.hash, updated_at=last.created_at
        )
    return AuditChainHead.objects.create(
        pk=1, sequence=0, hash=GENESIS_HASH, updated_at=timezone.now()
    )


def _check_arguments(action: str, outcome: str, payload: Any) -> None:
    if action not in ACTIONS:
        raise AuditError(
            f"Unknown audit action {action!r}: add it with its meaning to audit/actions.py."
        )
    if outcome not in OUTCOMES:
        raise AuditError(f"Invalid audit outcome {outcome!r}: expected one of {OUTCOMES}.")
    if payload is not None and not isinstance(payload, dict):
        raise AuditError(f"The audit payload must be a dict, got {type(payload).__name__}.")


def _event_fields(
    *,
    action,
    actor,
    target,
    subject_user,
    resource,
    access_request,
    payload,
    outcome,
    okta_request_id,
    http_request,
) -> dict[str, Any]:
    ip, user_agent = _client_of(http_request)
    return {
        "actor": actor,
        "actor_label": _user_label(actor) if actor is not None else "system",
        "action": action,
        "outcome": outcome,
        "target_type": target._meta.label if target is not None else "",
        "target_id": str(target.pk) if target is not None else "",
        "target_label": _truncate(str(target), MAX_LABEL) if target is not None else "",
        "subject_user": subject_user,
        "resource_okta_id": resource.okta_id if resource is not None else "",
        "resource_name": _truncate(resource.name, MAX_LABEL) if resource is not None else "",
        "access_request_id": _request_id_of(access_request, target),
        "grant_id": _grant_id_of(target),
        "payload": mask_secrets(canonical_value(payload)),
        "okta_request_id": okta_request_id or "",
        "ip": ip,
        "user_agent": user_agent,
    }


def _user_label(user) -> str:
    return _truncate(getattr(user, "login", "") or str(user), MAX_LABEL)


def _request_id_of(access_request, target) -> int | None:
    """Return the request's pk, from the argument or else from the target itself."""
    if access_request is not None:
        return access_request.pk
    if target is None:
        return None
    label = target._meta.label
    if label == "access_requests.AccessRequest":
        return target.pk
    # ApprovalStep.request and Grant.request point at the request.
    if label in ("access_requests.ApprovalStep", "access_requests.Grant"):
        return getattr(target, "request_id", None)
    return None


def _grant_id_of(target) -> int | None:
    if target is None:
        return None
    if target._meta.label == "access_requests.Grant":
        return target.pk
    # OktaOperation.grant points at the grant the operation applies.
    if target._meta.label == "access_requests.OktaOperation":
        return getattr(target, "grant_id", None)
    return None


def _client_of(http_request) -> tuple[str | None, str]:
    if http_request is None:
        return None, ""
    address = client_ip(http_request)
    ip = None if address is None else _normalise_ip(address)
    user_agent = _truncate(http_request.META.get("HTTP_USER_AGENT", ""), MAX_USER_AGENT)
    return ip, user_agent


def _normalise_ip(address: IPAddress) -> str:
    """Return the address in the form the database returns it, so the hash covers that form.

    IPv6 goes through Django's clean_ipv6_address, as GenericIPAddressField does on save: it
    keeps IPv4-mapped addresses as ::ffff:a.b.c.d, which Python's ipaddress would not.
    """
    if address.version == 6:
        return clean_ipv6_address(str(address))
    return str(address)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mask_secrets(value: Any) -> Any:
    """Return a copy of a JSON value with secrets replaced by MASK.

    A dict entry is masked when its key looks like a secret (password, token, secret, cookie,
    authorization…), and any string is masked when it looks like an Authorization header value.
    """
    if isinstance(value, dict):
        return {
            key: MASK
            if SECRET_KEY_PATTERN.search(str(key)) and item not in (None, "")
            else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    if isinstance(value, str) and SECRET_VALUE_PATTERN.match(value):
        return MASK
    return value
