"""Copying Okta's groups and apps into the catalog of resources."""

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from access_requests.models import AppGroupAssignment, GroupMembership, Resource
from portal.okta_api import OktaApp, OktaGroup, OktaNotFoundError, get_client

logger = logging.getLogger(__name__)

BATCH_SIZE = 500

SYNCED_FIELDS = [
    "kind",
    "name",
    "okta_description",
    "group_type",
    "sign_on_mode",
    "okta_status",
    "requestable",
    "deleted_in_okta_at",
    "last_synced_at",
]


def sync_catalog(client=None) -> dict:
    """Create and update a Resource for every Okta group and app; mark the vanished ones.

    Admin settings (requestable, owners, policy...) are kept, except that groups whose members
    Okta manages itself (APP_GROUP, BUILT_IN) are never requestable. Also copies each active
    app's assigned groups and their members (see replace_group_access). Returns the counts
    {"created", "updated", "deleted"}. Okta errors propagate: a partial listing must not mark
    the rest as deleted.
    """
    client = client or get_client()
    groups = client.list_groups()
    apps = client.list_apps()
    app_group_ids = list_app_group_ids(client, apps)
    group_ids = {group.id for group in groups}
    assigned_group_ids = {
        group_id for ids in app_group_ids.values() for group_id in ids if group_id in group_ids
    }
    member_ids = list_member_ids(client, assigned_group_ids)
    now = timezone.now()
    incoming = [_group_fields(group) for group in groups] + [_app_fields(app) for app in apps]

    with transaction.atomic():
        existing = {
            resource.okta_id: resource
            for resource in Resource.objects.select_for_update(no_key=True)
        }
        created, updated = [], []
        for fields in incoming:
            resource = existing.get(fields["okta_id"])
            if resource is None:
                created.append(Resource(**fields, last_synced_at=now))
                continue
            for name, value in fields.items():
                setattr(resource, name, value)
            if resource.group_type in Resource.GroupType.not_writable():
                resource.requestable = False
            resource.deleted_in_okta_at = None
            resource.last_synced_at = now
            updated.append(resource)
        Resource.objects.bulk_create(created, batch_size=BATCH_SIZE)
        Resource.objects.bulk_update(updated, SYNCED_FIELDS, batch_size=BATCH_SIZE)

        seen = {fields["okta_id"] for fields in incoming}
        vanished = [
            okta_id
            for okta_id, resource in existing.items()
            if okta_id not in seen and resource.deleted_in_okta_at is None
        ]
        Resource.objects.filter(okta_id__in=vanished).update(
            deleted_in_okta_at=now, requestable=False
        )

        counts = {"created": len(created), "updated": len(updated), "deleted": len(vanished)}
        group_access = replace_group_access(app_group_ids, member_ids, now)
        from audit.services import record_event

        record_event(
            "catalog.synced",
            actor=None,
            payload={**counts, "groups": len(groups), "apps": len(apps), **group_access},
        )
    logger.info(
        "Catalog sync: %(created)d created, %(updated)d updated, %(deleted)d deleted in Okta",
        counts,
    )
    return counts


def list_app_group_ids(client, apps: list[OktaApp]) -> dict[str, list[str]]:
    """Return the ids of the groups assigned to each active app, one listing per app.

    Inactive apps give nobody access, so they are not listed. An app deleted in Okta since
    list_apps is left out too.
    """
    found = {}
    for app in apps:
        if app.status == "INACTIVE":
            continue
        try:
            found[app.id] = client.list_app_group_ids(app.id)
        except OktaNotFoundError:
            logger.info("App %s was deleted in Okta during the catalog sync", app.id)
    return found


def list_member_ids(client, group_ids: set[str]) -> dict[str, list[str]]:
    """Return the member ids of each group, one listing per group.

    A group deleted in Okta since list_groups is left out.
    """
    found = {}
    for group_id in sorted(group_ids):
        try:
            found[group_id] = client.list_group_member_ids(group_id)
        except OktaNotFoundError:
            logger.info("Group %s was deleted in Okta during the catalog sync", group_id)
    return found


def replace_group_access(
    app_group_ids: dict[str, list[str]], member_ids: dict[str, list[str]], now
) -> dict:
    """Store the listed app-to-group assignments and group members, inside the caller's
    transaction; return the counts for the audit event.

    Apps and groups that were not listed (inactive, deleted in Okta, or no longer assigned to
    an app) lose their rows. Members the portal has no user row for are skipped.
    """
    resource_pks = dict(Resource.objects.values_list("okta_id", "pk"))
    user_pks = dict(get_user_model().objects.values_list("okta_id", "pk"))
    assignments, assignments_added = _replace_listing(
        AppGroupAssignment, app_group_ids, resource_pks, resource_pks, ("app_id", "group_id"), now
    )
    memberships, memberships_added = _replace_listing(
        GroupMembership, member_ids, resource_pks, user_pks, ("group_id", "user_id"), now
    )
    return {
        "app_group_assignments": assignments,
        "app_group_assignments_added": assignments_added,
        "group_memberships": memberships,
        "group_memberships_added": memberships_added,
    }


def _replace_listing(model, listing: dict, owner_pks: dict, member_pks: dict, fields, now):
    """Make `model`'s rows match `listing` (an Okta id to the Okta ids listed under it).

    Owners that were not listed lose all their rows, and ids without a portal row are skipped.
    Returns the number of listed pairs and how many of them were added.
    """
    owner_field, _member_field = fields
    listed_owners = {owner_pks[okta_id] for okta_id in listing if okta_id in owner_pks}
    expected = {
        (owner_pks[owner_id], member_pks[member_id])
        for owner_id, member_ids in listing.items()
        for member_id in member_ids
        if owner_id in owner_pks and member_id in member_pks
    }
    added = _replace_pairs(
        model.objects.filter(**{f"{owner_field}__in": listed_owners}), expected, fields, now
    )
    model.objects.exclude(**{f"{owner_field}__in": listed_owners}).delete()
    return len(expected), added


def _replace_pairs(queryset, expected: set[tuple[int, int]], fields: tuple[str, str], now) -> int:
    """Make the rows of `queryset` equal `expected`, pairs of the two foreign keys in `fields`;
    mark every kept row synced at `now`. Returns the number of rows added."""
    existing = {tuple(row[1:]): row[0] for row in queryset.values_list("pk", *fields)}
    stale = [pk for pair, pk in existing.items() if pair not in expected]
    for start in range(0, len(stale), BATCH_SIZE):
        queryset.model.objects.filter(pk__in=stale[start : start + BATCH_SIZE]).delete()
    queryset.update(synced_at=now)
    added = [
        queryset.model(**dict(zip(fields, pair, strict=True)), synced_at=now)
        for pair in expected
        if pair not in existing
    ]
    queryset.model.objects.bulk_create(added, batch_size=BATCH_SIZE)
    return len(added)


def _group_fields(group: OktaGroup) -> dict:
    return {
        "okta_id": group.id,
        "kind": Resource.Kind.GROUP,
        "name": group.name,
        "okta_description": group.description,
        "group_type": group.type,
        "sign_on_mode": "",
        "okta_status": "",
    }


def _app_fields(app: OktaApp) -> dict:
    return {
        "okta_id": app.id,
        "kind": Resource.Kind.APP,
        "name": app.label or app.name,
        "okta_description": "",
        "group_type": "",
        "sign_on_mode": app.sign_on_mode,
        "okta_status": app.status,
    }
