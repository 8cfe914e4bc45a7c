"""Figures for the admin dashboard, each computed by one or two queries."""

import datetime
import math
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from access_requests.models import AccessRequest, Drift, Grant, OktaOperation
from audit.models import AuditEvent

WINDOW_DAYS = 30
EXPIRING_WITHIN_DAYS = 7
LIST_LENGTH = 10


@dataclass(frozen=True)
class Durations:
    count: int
    median: datetime.timedelta | None
    p90: datetime.timedelta | None


def percentile(sorted_values: list, fraction: float):
    """Return the nearest-rank percentile of an ascending list, or None for an empty list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def durations(values: list[datetime.timedelta]) -> Durations:
    ordered = sorted(values)
    return Durations(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


def requests_per_day(now: datetime.datetime, days: int = WINDOW_DAYS) -> list[tuple]:
    """Return (date, count) for each of the last `days` days, oldest first, zeros included."""
    today = timezone.localdate(now)
    first = today - datetime.timedelta(days=days - 1)
    counts = dict(
        AccessRequest.objects.filter(created_at__date__gte=first)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
    )
    return [
        (first + datetime.timedelta(days=n), counts.get(first + datetime.timedelta(days=n), 0))
        for n in range(days)
    ]


def time_to_decision(since: datetime.datetime) -> Durations:
    pairs = AccessRequest.objects.filter(
        decided_at__gte=since,
        status__in=[AccessRequest.Status.APPROVED, AccessRequest.Status.DENIED],
    ).values_list("created_at", "decided_at")
    return durations([decided - created for created, decided in pairs])


def time_to_applied(since: datetime.datetime) -> Durations:
    """Request creation to the grant.applied event, for grants applied since `since`."""
    applied = dict(
        AuditEvent.objects.filter(
            action="grant.applied", created_at__gte=since, access_request_id__isnull=False
        ).values_list("access_request_id", "created_at")
    )
    created = dict(
        AccessRequest.objects.filter(pk__in=list(applied)).values_list("pk", "created_at")
    )
    return durations([applied[pk] - created[pk] for pk in created])


def provisioning_success(since: datetime.datetime) -> dict:
    """Okta operations finished since `since`: counts and the success rate in percent."""
    finished = OktaOperation.objects.filter(
        completed_at__gte=since, status__in=OktaOperation.TERMINAL
    )
    counts = dict(finished.values("status").annotate(n=Count("pk")).values_list("status", "n"))
    succeeded = counts.get(OktaOperation.Status.SUCCEEDED, 0)
    failed = counts.get(OktaOperation.Status.FAILED, 0)
    total = succeeded + failed
    rate = round(100 * succeeded / total, 1) if total else None
    return {"succeeded": succeeded, "failed": failed, "rate": rate}


def oldest_pending(limit: int = LIST_LENGTH):
    return (
        AccessRequest.objects.filter(status__in=AccessRequest.OPEN)
        .select_related("requester", "resource")
        .order_by("created_at", "pk")[:limit]
    )


def expiring_soon(now: datetime.datetime, limit: int = LIST_LENGTH):
    return (
        Grant.objects.filter(
            status=Grant.Status.ACTIVE,
            ends_at__isnull=False,
            ends_at__lt=now + datetime.timedelta(days=EXPIRING_WITHIN_DAYS),
        )
        .select_related("user", "resource")
        .order_by("ends_at", "pk")[:limit]
    )


def drift_found(since: datetime.datetime, limit: int = LIST_LENGTH) -> dict:
    """Drift records found since `since`: counts by kind, the open total and the newest."""
    recent = Drift.objects.filter(found_at__gte=since)
    by_kind = dict(recent.values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    return {
        "count": sum(by_kind.values()),
        "by_kind": [(Drift.Kind(kind).label, n) for kind, n in sorted(by_kind.items())],
        "open": Drift.objects.filter(resolution=Drift.Resolution.OPEN).count(),
        "latest": list(recent.select_related("resource", "user").order_by("-found_at")[:limit]),
    }


def summary(now: datetime.datetime | None = None) -> dict:
    now = now or timezone.now()
    since = now - datetime.timedelta(days=WINDOW_DAYS)
    return {
        "window_days": WINDOW_DAYS,
        "expiring_within_days": EXPIRING_WITHIN_DAYS,
        "requests_per_day": requests_per_day(now),
        "time_to_decision": time_to_decision(since),
        "time_to_applied": time_to_applied(since),
        "provisioning": provisioning_success(since),
        "oldest_pending": oldest_pending(),
        "expiring_soon": expiring_soon(now),
        "drift": drift_found(since),
    }


def bar_chart(points: list[tuple], *, width: int = 600, height: int = 160) -> dict:
    """Return bar geometry in SVG user units for the template to draw.

    Each bar gets `x`, `y`, `w`, `h`, its `label` and `value`; the tallest bar fills the height.
    """
    top = max((value for _, value in points), default=0) or 1
    slot = width / max(len(points), 1)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = round(height * value / top, 1)
        bars.append(
            {
                "x": round(index * slot + 1, 1),
                "y": round(height - bar_height, 1),
                "w": round(max(slot - 2, 1), 1),
                "h": bar_height,
                "label": label,
                "value": value,
            }
        )
    return {"bars": bars, "width": width, "height": height, "max": top}
