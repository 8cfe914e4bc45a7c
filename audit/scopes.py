"""Which audit events a user may see.

Admins see every event. Everyone else sees the events about themselves (as subject or actor),
the events about their direct reports (as subject), and the events of resources they own.
Of those, they see the client IP address and user agent only of the events they caused.
"""

from django.db.models import Q, QuerySet

from audit.models import AuditEvent


def visible_events(user) -> QuerySet[AuditEvent]:
    if user.is_admin:
        return AuditEvent.objects.all()
    return AuditEvent.objects.filter(_visibility(user))


def _visibility(user) -> Q:
    # The id lists are small (one person's reports and owned resources), and literal lists keep
    # the event query on the (subject_user, sequence) and (resource_okta_id, sequence) indexes.
    subject_ids = [user.pk, *user.reports.values_list("pk", flat=True)]
    condition = Q(subject_user_id__in=subject_ids) | Q(actor_id=user.pk)
    owned = list(user.owned_resources.values_list("okta_id", flat=True))
    if owned:
        condition |= Q(resource_okta_id__in=owned)
    return condition


def may_view_user(viewer, subject) -> bool:
    """Whether `viewer` may open `subject`'s timeline: admins, the user, their manager."""
    return viewer.is_admin or viewer.pk == subject.pk or subject.manager_id == viewer.pk


def user_timeline(viewer, subject) -> QuerySet[AuditEvent]:
    events = visible_events(viewer)
    return events.filter(Q(subject_user_id=subject.pk) | Q(actor_id=subject.pk))


# Columns of an event that identify the client of the person who caused it.
CLIENT_FIELDS = ("ip", "user_agent")


def may_view_client(viewer, actor_id: int | None) -> bool:
    """Whether `viewer` may see the IP address and user agent of an event by `actor_id`.

    Admins see every client. Everyone else sees only their own, because a manager or an owner
    has no need for where and with which browser other people sign in or make requests.
    """
    return viewer.is_admin or (actor_id is not None and actor_id == viewer.pk)


def without_others_clients(viewer, rows):
    """Yield event rows (dicts with `actor_id`) with the client fields blanked where
    `may_view_client` is false."""
    for row in rows:
        if not may_view_client(viewer, row.get("actor_id")):
            row = {**row, **dict.fromkeys(CLIENT_FIELDS, "")}
        yield row
