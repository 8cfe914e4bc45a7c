"""Access to apps that users hold through Okta group assignments.

Okta gives an app to every member of a group assigned to it (assignment scope GROUP). The
catalog sync copies each app's assigned groups (AppGroupAssignment) and those groups' members
(GroupMembership), and the event hook adds and removes members between syncs. A user counts
as a member of such a group when the last sync or a later membership event listed them and no
portal grant of theirs on the group has ended since, or when they hold an active portal grant
on the group.
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from access_requests.models import AppGroupAssignment, Grant, GroupMembership, Resource

# Okta status of an app that gives nobody access.
INACTIVE = "INACTIVE"
# Grant statuses whose access to the group is in Okta now; a revoking grant's removal has not
# run yet.
GROUP_GRANT_STATUSES = (Grant.Status.ACTIVE, Grant.Status.REVOKING)
ENDED_GRANT_STATUSES = (Grant.Status.REVOKED, Grant.Status.EXPIRED)


def current_memberships() -> QuerySet[GroupMembership]:
    """Memberships from the last catalog sync, less those a portal grant has ended since.

    A grant that ends removes the user from the group in Okta, pre-existing grants included.
    """
    ended_since_sync = Grant.objects.filter(
        user=OuterRef("user"),
        resource=OuterRef("group"),
        status__in=ENDED_GRANT_STATUSES,
        updated_at__gt=OuterRef("synced_at"),
    )
    return GroupMembership.objects.exclude(Exists(ended_since_sync))


def apply_membership_event(user_okta_id: str, group_okta_id: str, present: bool) -> None:
    """Add or remove the user's GroupMembership for an Okta membership event, so that app
    access through the group follows the event and not only the next catalog sync.

    Only groups that the last sync found assigned to an app keep memberships, and users
    without a portal account get no row, as in the sync.
    """
    group = Resource.objects.filter(okta_id=group_okta_id, kind=Resource.Kind.GROUP).first()
    user = get_user_model().objects.filter(okta_id=user_okta_id).first()
    if group is None or user is None:
        return
    if not present:
        GroupMembership.objects.filter(group=group, user=user).delete()
        return
    if AppGroupAssignment.objects.filter(group=group).exists():
        # synced_at is now, so a portal grant on the group that ended before this event no
        # longer hides the membership (see current_memberships).
        GroupMembership.objects.update_or_create(
            group=group, user=user, defaults={"synced_at": timezone.now()}
        )


def groups_giving_app(user, app: Resource) -> list[Resource]:
    """Return the groups, by name, through which `user` has `app` in Okta.

    Empty for a group resource, an app deleted or inactive in Okta, or a user in none of the
    app's assigned groups.
    """
    if app.kind != Resource.Kind.APP or not _app_gives_access(app):
        return []
    assigned = AppGroupAssignment.objects.filter(app=app).values("group_id")
    synced = current_memberships().filter(user=user, group_id__in=assigned).values("group_id")
    granted = Grant.objects.filter(
        user=user, resource_id__in=assigned, status__in=GROUP_GRANT_STATUSES
    ).values("resource_id")
    return list(Resource.objects.filter(Q(pk__in=synced) | Q(pk__in=granted)).order_by("name"))


def describe_groups(groups: list[Resource]) -> str:
    """Return "the X group" or "the X, Y and Z groups" for a message."""
    names = [group.name for group in groups]
    if len(names) == 1:
        return f"the {names[0]} group"
    return f"the {', '.join(names[:-1])} and {names[-1]} groups"


def app_access_through_groups(app: Resource | None = None) -> QuerySet:
    """Return one row per app, user and group through which the user has the app, sorted by
    app name, user login and group name.

    Each row is a dict with app_name, app_okta_id, user_login, user_okta_id and group_name.
    Apps deleted or inactive in Okta are left out. With `app`, only that app's rows are returned.
    """
    apps = _apps_giving_access()
    if app is not None:
        apps = apps.filter(pk=app.pk)
    synced = _through_group_rows(current_memberships(), apps, group_path="group", user_path="user")
    granted = _through_group_rows(
        Grant.objects.filter(status__in=GROUP_GRANT_STATUSES, resource__kind=Resource.Kind.GROUP),
        apps,
        group_path="resource",
        user_path="user",
    )
    return synced.union(granted).order_by("app_name", "user_login", "group_name")


def _through_group_rows(
    queryset: QuerySet, apps: QuerySet[Resource], *, group_path: str, user_path: str
) -> QuerySet:
    # Filtering first creates the one join to the app assignments, and values() reuses it:
    # a second filter() call on that multi-valued relation would join it again.
    app_path = f"{group_path}__app_assignments__app"
    return (
        queryset.order_by()
        .filter(**{f"{app_path}__in": apps})
        .values(
            app_name=F(f"{app_path}__name"),
            app_okta_id=F(f"{app_path}__okta_id"),
            user_login=F(f"{user_path}__login"),
            user_okta_id=F(f"{user_path}__okta_id"),
            group_name=F(f"{group_path}__name"),
        )
    )


def _apps_giving_access() -> QuerySet[Resource]:
    return Resource.objects.filter(kind=Resource.Kind.APP, deleted_in_okta_at=None).exclude(
        okta_status=INACTIVE
    )


def _app_gives_access(app: Resource) -> bool:
    return app.deleted_in_okta_at is None and app.okta_status != INACTIVE
