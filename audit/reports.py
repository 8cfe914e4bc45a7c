"""Access reports built from Grant rows and the audit trail.

"Ended at" — when a grant's access actually ended — is the time of the grant's first
`grant.revoked` or `grant.expired` audit event. The Grant row has no column for it: `ends_at`
is the planned end (an extension moves it, and removal in Okta happens after it, when the
worker runs), and `updated_at` changes with any save. The event is written in the transaction
that moves the grant to revoked or expired, and the hash chain protects it. A revoked or
expired grant without such an event (data from before the audit trail) falls back to
`updated_at`, and its row records that in `ended_at_source`.

Access starts at `Grant.starts_at`. Only grants that reached Okta count as access: grants still
provisioning, and grants whose provisioning failed, never gave any.

The current-access report also lists apps that users hold through an Okta group assignment,
as known from the last catalog sync (access_requests.group_access). Those rows have no grant,
and `through_group` names the group. The portal keeps only the current group memberships, not
their history, so the access-on-day report lists such rows for today only. For an earlier day
its `through_groups_listed` column is "no".

The portal knows who holds a resource in Okta only from its first comparison with Okta, the
baseline (`Resource.baseline_taken_at`, the `tracked_since` column). Access found then became
`pre_existing` grants that start at the baseline, although the access is older: the
user-changes report lists them as "held when tracking began", not as gained. Before the
baseline, only access granted through the portal is known.

Approvers come from the audit trail too: the actors of `step.approved` events of the grant's
request and of its approved extension requests. A request approved with no such event was
approved automatically by its resource's policy.

The justification comes from the request's `request.submitted` event, which the hash chain
protects. Requests whose event has no justification (recorded before events carried it) fall
back to the editable `AccessRequest.justification` column.
"""

import datetime
import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator

from django.db.models import (
    Case,
    DateTimeField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from access_requests import group_access
from access_requests.models import AccessRequest, Grant, Resource
from audit.models import AuditEvent

ENDING_ACTIONS = ("grant.revoked", "grant.expired")
ENDED_STATUSES = (Grant.Status.REVOKED, Grant.Status.EXPIRED)
# Statuses of grants whose access reached Okta at some point.
APPLIED_STATUSES = (Grant.Status.ACTIVE, Grant.Status.REVOKING, *ENDED_STATUSES)
# Statuses of grants whose access is in Okta now; a revoking grant's removal has not run yet.
CURRENT_STATUSES = (Grant.Status.ACTIVE, Grant.Status.REVOKING)

# Grants handled per round of approval look-ups in the streaming reports.
CHUNK_SIZE = 500

COLUMNS = (
    "user_login",
    "user_okta_id",
    "resource_name",
    "resource_okta_id",
    "grant_id",
    "status",
    "pre_existing",
    "starts_at",
    "ends_at",
    "ended_at",
    "ended_at_source",
    "request_id",
    "justification",
    "approved_by",
    "approval_comments",
    "extension_request_ids",
    "tracked_since",
)
CHANGE_COLUMNS = ("change", "at", *COLUMNS)
CURRENT_ACCESS_COLUMNS = (*COLUMNS, "through_group")
# `through_groups_listed` is "no" when the resource is an app and the day is before today, so
# the rows leave out access through Okta group assignments.
ACCESS_ON_DAY_COLUMNS = (*CURRENT_ACCESS_COLUMNS, "through_groups_listed")


def grants_with_end() -> QuerySet[Grant]:
    """Grants annotated with `ended_at` (None while the access lasts) as the docstring defines."""
    end_event = (
        AuditEvent.objects.filter(grant_id=OuterRef("pk"), action__in=ENDING_ACTIONS)
        .order_by("sequence")
        .values("created_at")[:1]
    )
    return (
        Grant.objects.filter(status__in=APPLIED_STATUSES)
        .annotate(end_event_at=Subquery(end_event))
        .annotate(
            ended_at=Case(
                When(status__in=ENDED_STATUSES, then=Coalesce(F("end_event_at"), F("updated_at"))),
                default=Value(None),
                output_field=DateTimeField(),
            )
        )
        .select_related("user", "resource", "request")
    )


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """Return the start of `day` and of the next day in the portal's time zone."""
    zone = timezone.get_current_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def access_on_day(resource, day: datetime.date) -> QuerySet[Grant]:
    """Grants that gave access to `resource` at any moment of `day`."""
    start, end = day_bounds(day)
    return (
        grants_with_end()
        .filter(resource=resource, starts_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
        .order_by("user__login", "pk")
    )


def tracking_note(resource, day: datetime.date) -> str:
    """Return what the access-on-day report for `resource` on `day` cannot know, or ""."""
    start, end = day_bounds(day)
    since = resource.baseline_taken_at
    if since is None:
        return (
            f"The portal has not compared {resource.name} with Okta yet, so only access granted "
            "through the portal is listed: others may have held it."
        )
    since_text = format_time(since)
    if since <= start:
        return ""
    if since >= end:
        return (
            f"The portal began tracking {resource.name} in Okta at {since_text}. Who held it on "
            f"{day.isoformat()} is unknown: only access granted through the portal is listed."
        )
    return (
        f"The portal began tracking {resource.name} in Okta at {since_text}. Before that time, "
        "only access granted through the portal is known. Rows marked pre_existing were "
        "already held then, since an unknown time."
    )


def format_time(value: datetime.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def current_access() -> QuerySet[Grant]:
    """Grants whose access is in Okta now, for every user and resource the portal manages."""
    return (
        grants_with_end()
        .filter(status__in=CURRENT_STATUSES)
        .order_by("resource__name", "user__login", "pk")
    )


def lists_groups_on_day(resource, day: datetime.date) -> bool:
    """Return whether the access-on-day report can list access to `resource` through groups.

    Only apps are given through group assignments, and group memberships are known as they
    are now, so the report lists them for today only.
    """
    return resource.kind != Resource.Kind.APP or day == timezone.localdate()


def access_on_day_rows(resource, day: datetime.date) -> Iterator[dict]:
    """Rows of the grants on `day`, then, for an app on today, of access through groups."""
    _, end = day_bounds(day)
    listed = "yes" if lists_groups_on_day(resource, day) else "no"
    grants = (
        {**row, "through_group": "", "through_groups_listed": listed}
        for row in grant_rows(access_on_day(resource, day), approvals_before=end)
    )
    if resource.kind != Resource.Kind.APP or listed == "no":
        return grants
    through_groups = (
        {**_through_group_row(row), "through_groups_listed": listed}
        for row in group_access.app_access_through_groups(resource).iterator(chunk_size=CHUNK_SIZE)
    )
    return heapq.merge(grants, through_groups, key=lambda row: row["user_login"])


def through_group_note(resource, day: datetime.date) -> str:
    """Return the access-on-day page's note on access through groups, or "" for a group."""
    if resource.kind != Resource.Kind.APP:
        return ""
    if lists_groups_on_day(resource, day):
        return (
            f"Access to {resource.name} through Okta group assignments is listed as the portal "
            "knows it now (rows with through_group), which can lag behind Okta until the next "
            "catalog sync. Someone who left such a group earlier today is not listed."
        )
    return (
        f"Access to {resource.name} through Okta group assignments is not listed: the portal "
        "keeps only the current group memberships, not their history, so it cannot tell who "
        f"was in the app's groups on {day.isoformat()}. Today's report and the current-access "
        "report list it."
    )


def current_access_rows() -> Iterator[dict]:
    """Rows of current grants and of apps held through groups, by resource name and login."""
    grants = ({**row, "through_group": ""} for row in grant_rows(current_access()))
    through_groups = (
        _through_group_row(row)
        for row in group_access.app_access_through_groups().iterator(chunk_size=CHUNK_SIZE)
    )
    # NOTE: a database collation other than code-point order (PostgreSQL's locale collations)
    # sorts names differently from Python, so the merged rows may then be out of order, but
    # none is lost.
    return heapq.merge(
        grants, through_groups, key=lambda row: (row["resource_name"], row["user_login"])
    )


def _through_group_row(row: dict) -> dict:
    return {
        **dict.fromkeys(COLUMNS, ""),
        "user_login": row["user_login"],
        "user_okta_id": row["user_okta_id"],
        "resource_name": row["app_name"],
        "resource_okta_id": row["app_okta_id"],
        "grant_id": None,
        "status": Grant.Status.ACTIVE,
        "starts_at": None,
        "ends_at": None,
        "ended_at": None,
        "request_id": None,
        "approved_by": f"through group {row['group_name']}",
        "through_group": row["group_name"],
    }


def user_changes_rows(user, first_day: datetime.date, last_day: datetime.date) -> Iterator[dict]:
    """Rows for every grant `user` gained or lost from `first_day` to `last_day` inclusive,
    in time order, with `change` ("gained" or "lost") and `at`."""
    start, _ = day_bounds(first_day)
    _, end = day_bounds(last_day)
    grants = grants_with_end().filter(user=user)

    gained = grants.filter(starts_at__gte=start, starts_at__lt=end).order_by("starts_at", "pk")
    lost = grants.filter(ended_at__gte=start, ended_at__lt=end).order_by("ended_at", "pk")
    gained_rows = (
        {"change": _start_label(row), "at": row["starts_at"], **row} for row in grant_rows(gained)
    )
    lost_rows = ({"change": "lost", "at": row["ended_at"], **row} for row in grant_rows(lost))
    return heapq.merge(gained_rows, lost_rows, key=lambda row: row["at"])


# The `change` of a grant's start in the user-changes report.
GAINED = "gained"
# A baseline grant: the user held the access in Okta when the portal began tracking the
# resource, since a time the portal does not know.
HELD_AT_BASELINE = "held when tracking began"
# An approved grant whose access the user already had in Okta, since an unknown time.
ALREADY_HELD = "granted, already held in Okta"


def _start_label(row: dict) -> str:
    if not row["pre_existing"]:
        return GAINED
    return HELD_AT_BASELINE if row["request_id"] is None else ALREADY_HELD


def grant_rows(
    grants: QuerySet[Grant], *, approvals_before: datetime.datetime | None = None
) -> Iterator[dict]:
    """Yield one report row per grant, streaming: memory contains one chunk of grants at a time."""
    for chunk in _chunks(grants.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
        request_ids = [grant.request_id for grant in chunk if grant.request_id]
        extensions = _approved_extensions([grant.pk for grant in chunk], approvals_before)
        all_request_ids = request_ids + [ext.pk for exts in extensions.values() for ext in exts]
        approvals = _approvals(all_request_ids, approvals_before)
        justifications = _submitted_justifications(request_ids)
        for grant in chunk:
            yield _row(grant, extensions.get(grant.pk, []), approvals, justifications)


def _row(
    grant: Grant, extensions: list[AccessRequest], approvals: dict, justifications: dict
) -> dict:
    request_ids = ([grant.request_id] if grant.request_id else []) + [ext.pk for ext in extensions]
    approved_by, comments = [], []
    for request_id in request_ids:
        for event in approvals.get(request_id, []):
            approved_by.append(f"{event['actor_label']} ({_iso(event['created_at'])})")
            if event["comment"]:
                comments.append(f"{event['actor_label']}: {event['comment']}")
        if request_id not in approvals:
            approved_by.append(f"automatic (request {request_id})")

    ended_source = ""
    if grant.ended_at is not None:
        ended_source = "audit event" if grant.end_event_at is not None else "grant updated_at"
    return {
        "user_login": grant.user.login,
        "user_okta_id": grant.user.okta_id,
        "resource_name": grant.resource.name,
        "resource_okta_id": grant.resource.okta_id,
        "grant_id": grant.pk,
        "status": grant.status,
        "pre_existing": grant.pre_existing,
        "starts_at": grant.starts_at,
        "ends_at": grant.ends_at,
        "ended_at": grant.ended_at,
        "ended_at_source": ended_source,
        "request_id": grant.request_id,
        "justification": _justification(grant, justifications),
        "approved_by": "; ".join(approved_by) if request_ids else "no portal request",
        "approval_comments": "; ".join(comments),
        "extension_request_ids": " ".join(str(ext.pk) for ext in extensions),
        "tracked_since": grant.resource.baseline_taken_at,
    }


def _approved_extensions(grant_ids, before) -> dict[int, list[AccessRequest]]:
    requests = AccessRequest.objects.filter(
        extends_grant_id__in=grant_ids, status=AccessRequest.Status.APPROVED
    )
    if before is not None:
        requests = requests.filter(decided_at__lt=before)
    found = defaultdict(list)
    for request in requests.order_by("decided_at", "pk").only("pk", "extends_grant_id"):
        found[request.extends_grant_id].append(request)
    return found


def _approvals(request_ids, before) -> dict[int, list[dict]]:
    """Return the step.approved events of each request, oldest first."""
    events = AuditEvent.objects.filter(access_request_id__in=request_ids, action="step.approved")
    if before is not None:
        events = events.filter(created_at__lt=before)
    found = defaultdict(list)
    for event in events.order_by("sequence").values(
        "access_request_id", "actor_label", "created_at", "payload"
    ):
        payload = event.pop("payload")
        event["comment"] = str(payload.get("comment", "")) if isinstance(payload, dict) else ""
        found[event["access_request_id"]].append(event)
    return found


def _submitted_justifications(request_ids) -> dict[int, str]:
    """Return the justification in each request's `request.submitted` event, where it has one."""
    found = {}
    events = AuditEvent.objects.filter(
        access_request_id__in=request_ids, action="request.submitted"
    ).order_by("sequence")
    for request_id, payload in events.values_list("access_request_id", "payload"):
        if isinstance(payload, dict) and "justification" in payload:
            found.setdefault(request_id, str(payload["justification"] or ""))
    return found


def _justification(grant: Grant, justifications: dict[int, str]) -> str:
    if not grant.request_id:
        return ""
    if grant.request_id in justifications:
        return justifications[grant.request_id]
    return grant.request.justification


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="seconds")
