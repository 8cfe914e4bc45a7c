"""Checking the hash chain from the first event to the head."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone

from audit.hashing import GENESIS_HASH, HASHED_FIELDS, compute_hash
from audit.models import AuditChainHead, AuditEvent, AuditVerification

# Rows fetched per round trip. The check keeps one chunk at a time, so memory stays constant
# however long the chain is.
CHUNK_SIZE = 2000

_COLUMNS = (*HASHED_FIELDS, "hash")


@dataclass(frozen=True)
class ChainProblem:
    sequence: int
    message: str


def verify_chain() -> AuditVerification:
    """Check every event's link and hash, store the result and return it."""
    started_at = timezone.now()
    # The newest sequence is read before the head. record_event commits an event and the head
    # together, so in this order an honest chain always has newest <= head.sequence, even
    # while writers append.
    newest = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    head = AuditChainHead.objects.filter(pk=1).first()
    end = head.sequence if head is not None else (newest or 0)

    checked, last_sequence, last_hash, problem = _walk(_events(up_to=end))
    if problem is None:
        problem = _compare_with_head(head, newest, last_sequence, last_hash)

    if problem is None:
        message = f"All {checked} events match; the chain ends at event {last_sequence or 0}."
    else:
        message = f"Event {problem.sequence}: {problem.message}"
    return AuditVerification.objects.create(
        started_at=started_at,
        finished_at=timezone.now(),
        ok=problem is None,
        events_checked=checked,
        head_sequence=last_sequence,
        head_hash=last_hash or "",
        first_bad_sequence=problem.sequence if problem else None,
        message=message,
    )


def _events(up_to: int) -> Iterator[dict]:
    # No transaction around the walk: on SQLite it would be BEGIN IMMEDIATE and block every
    # writer for the whole check. A single cursor reads one snapshot on both databases.
    rows = (
        AuditEvent.objects.filter(sequence__lte=up_to).order_by("sequence").values_list(*_COLUMNS)
    )
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield dict(zip(_COLUMNS, row, strict=True))


def _walk(events: Iterator[dict]) -> tuple[int, int | None, str | None, ChainProblem | None]:
    """Return (events checked, last good sequence, its hash, first problem or None)."""
    checked = 0
    expected_sequence = 1
    prev_hash = GENESIS_HASH
    last_sequence = None

    for event in events:
        sequence = event["sequence"]
        if sequence != expected_sequence:
            missing = expected_sequence
            return (
                checked,
                last_sequence,
                prev_hash,
                ChainProblem(
                    missing,
                    f"missing: the chain jumps from event {missing - 1} to event {sequence}.",
                ),
            )
        if event["prev_hash"] != prev_hash:
            return (
                checked,
                last_sequence,
                prev_hash,
                ChainProblem(
                    sequence,
                    "its prev_hash does not match the hash of the event before it.",
                ),
            )
        if compute_hash(event) != event["hash"]:
            return (
                checked,
                last_sequence,
                prev_hash,
                ChainProblem(
                    sequence,
                    "its content does not match its hash: the row was changed after it was written.",
                ),
            )
        checked += 1
        expected_sequence += 1
        prev_hash = event["hash"]
        last_sequence = sequence

    return checked, last_sequence, prev_hash if last_sequence else None, None


def _compare_with_head(head, newest, last_sequence, last_hash) -> ChainProblem | None:
    """Detect deleted newest events and events added outside record_event."""
    end = last_sequence or 0
    if head is None:
        if end == 0:
            return None
        return ChainProblem(
            end, "the chain head record is missing, so deleted newest events cannot be ruled out."
        )
    if head.sequence > end:
        return ChainProblem(
            end + 1,
            f"missing: the chain ends at event {end}, but event {head.sequence} was written.",
        )
    if newest is not None and newest > head.sequence:
        return ChainProblem(
            head.sequence + 1,
            f"not in the chain head, which ends at event {head.sequence}: events were added "
            "outside record_event.",
        )
    if end and head.hash != last_hash:
        return ChainProblem(end, "its hash differs from the one recorded in the chain head.")
    return None
