"""Filtering and keyset paging of audit events for the review pages and the benchmark."""

import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from audit.models import AuditEvent

PAGE_SIZE = 50


@dataclass
class Page:
    events: list[AuditEvent]
    # Keyset cursors for the links: sequence numbers, or None when there is no such page.
    older_than: int | None
    newer_than: int | None


def search_text_condition(text: str) -> Q | RawSQL:
    """Match `text` against the payload's justification and comment.

    PostgreSQL matches whole words through the GIN index of migration 0002, whose expression
    must stay identical to the one here. SQLite matches substrings without an index.
    """
    if connection.vendor == "postgresql":
        return RawSQL(
            "to_tsvector('simple'::regconfig, coalesce(payload ->> 'justification', '') || ' ' "
            "|| coalesce(payload ->> 'comment', '')) @@ plainto_tsquery('simple'::regconfig, %s)",
            [text],
            output_field=BooleanField(),
        )
    return Q(payload__justification__icontains=text) | Q(payload__comment__icontains=text)


def sequence_range_for_dates(
    since: datetime.datetime | None, until: datetime.datetime | None
) -> tuple[int | None, int | None]:
    """Return the (first, last) sequence numbers of the events in [since, until).

    record_event never lets created_at decrease along the chain, so a time range is a sequence
    range, and filtering by sequence keeps the keyset query on the primary key.
    """
    first = last = None
    if since is not None:
        first = (
            AuditEvent.objects.filter(created_at__gte=since)
            .order_by("created_at")
            .values_list("sequence", flat=True)
            .first()
        )
        if first is None:
            # Nothing at or after `since`: an empty range.
            return 1, 0
    if until is not None:
        last = (
            AuditEvent.objects.filter(created_at__lt=until)
            .order_by("-created_at")
            .values_list("sequence", flat=True)
            .first()
        )
        if last is None:
            return 1, 0
    return first, last


def keyset_page(
    events: QuerySet[AuditEvent],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """Return one page of events, newest first, after or before a sequence number.

    Each page is one index range scan of `size + 1` rows, whatever its depth, because the
    cursor is a sequence number rather than an offset.
    """
    if newer_than is not None:
        rows = list(events.filter(sequence__gt=newer_than).order_by("sequence")[: size + 1])
        has_more_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        return Page(
            events=rows,
            older_than=rows[-1].sequence if rows else None,
            newer_than=rows[0].sequence if rows and has_more_newer else None,
        )

    if older_than is not None:
        events = events.filter(sequence__lt=older_than)
    rows = list(events.order_by("-sequence")[: size + 1])
    has_more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        events=rows,
        older_than=rows[-1].sequence if rows and has_more_older else None,
        newer_than=rows[0].sequence if rows and older_than is not None else None,
    )
