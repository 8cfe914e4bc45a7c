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
    """Match `text` against the payload's justification, comment and reason.

    PostgreSQL matches whole words through the GIN index of migration 0003, whose expression
    must stay identical to the one here. SQLite matches substrings without an index.
    """
    if connection.vendor == "postgresql":
        return RawSQL(
            "to_tsvector('simple'::regconfig, coalesce(payload ->> 'justification', '') || ' ' "
            "|| coalesce(payload ->> 'comment', '') || ' ' || coalesce(payload ->> 'reason', '')) "
            "@@ plainto_tsquery('simple'::regconfig, %s)",
            [text],
            output_field=BooleanField(),
        )
    return (
        Q(payload__justification__icontains=text)
        | Q(payload__comment__icontains=text)
        | Q(payload__reason__icontains=text)
    )


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


def within(events: QuerySet[AuditEvent], lowest: int | None, highest: int | None):
    """Return `events` restricted to sequence numbers from `lowest` to `highest` inclusive."""
    if lowest is not None:
        events = events.filter(sequence__gte=lowest)
    if highest is not None:
        events = events.filter(sequence__lte=highest)
    return events


def keyset_page(
    events: QuerySet[AuditEvent],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    lowest: int | None = None,
    highest: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """Return one page of events, newest first, before `older_than` or after `newer_than`.

    Each page is one index range scan of `size + 1` rows, whatever its depth, because the
    cursor is a sequence number rather than an offset. `lowest` and `highest` (inclusive)
    restrict the whole list, as a date range does. They are merged with the cursor into one
    bound per side, because SQLite uses only one upper and one lower bound of a column for
    its index range and would scan the rows between two upper bounds one by one.
    """
    upper = _tighter(older_than, None if highest is None else highest + 1, min)
    lower = _tighter(newer_than, None if lowest is None else lowest - 1, max)
    if newer_than is not None:
        return _page_after(events, lower, upper, size)
    return _page_before(events, lower, upper, size, paged=older_than is not None)


def _tighter(first: int | None, second: int | None, pick) -> int | None:
    if first is None or second is None:
        return second if first is None else first
    return pick(first, second)


def _bounded(events, lower: int | None, upper: int | None):
    """Restrict to lower < sequence < upper (exclusive bounds, None for none)."""
    if lower is not None:
        events = events.filter(sequence__gt=lower)
    if upper is not None:
        events = events.filter(sequence__lt=upper)
    return events


def _page_before(events, lower, upper, size, *, paged: bool) -> Page:
    rows = list(_bounded(events, lower, upper).order_by("-sequence")[: size + 1])
    has_more_older = len(rows) > size
    rows = rows[:size]
    return Page(
        events=rows,
        older_than=rows[-1].sequence if rows and has_more_older else None,
        newer_than=rows[0].sequence if rows and paged else None,
    )


def _page_after(events, lower, upper, size) -> Page:
    rows = list(_bounded(events, lower, upper).order_by("sequence")[: size + 1])
    has_more_newer = len(rows) > size
    rows = list(reversed(rows[:size]))
    return Page(
        events=rows,
        older_than=rows[-1].sequence if rows else None,
        newer_than=rows[0].sequence if rows and has_more_newer else None,
    )
