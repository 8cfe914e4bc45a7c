"""Okta changes that failed for good and wait for a portal admin: grants and removals.

A failed grant is open while its user is active and has no newer grant for the resource,
because a retry could still give them the access. A failed removal is a revoking grant with a
failure reason; the worker has stopped retrying it.
"""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from access_requests.models import Grant

# Rows each list shows on a page; the count covers them all.
SHOWN_PER_LIST = 50


@dataclass
class OpenFailures:
    grants: list[Grant]
    grants_count: int
    removals: list[Grant]
    removals_count: int

    @property
    def count(self) -> int:
        return self.grants_count + self.removals_count


def failed_grants() -> QuerySet[Grant]:
    newer = Grant.objects.filter(
        user_id=OuterRef("user_id"), resource_id=OuterRef("resource_id"), pk__gt=OuterRef("pk")
    )
    return (
        Grant.objects.filter(status=Grant.Status.FAILED, user__is_active=True)
        .exclude(Exists(newer))
        .select_related("user", "resource")
        .order_by("-updated_at", "-pk")
    )


def failed_removals() -> QuerySet[Grant]:
    return (
        Grant.objects.filter(status=Grant.Status.REVOKING)
        .exclude(failure_reason="")
        .select_related("user", "resource")
        .order_by("-updated_at", "-pk")
    )


def open_failures() -> OpenFailures:
    """Return the newest open failures of each kind (at most SHOWN_PER_LIST) and the counts."""
    grants = failed_grants()
    removals = failed_removals()
    return OpenFailures(
        grants=list(grants[:SHOWN_PER_LIST]),
        grants_count=grants.count(),
        removals=list(removals[:SHOWN_PER_LIST]),
        removals_count=removals.count(),
    )
