"""Copying Okta's groups and apps into the catalog of resources."""

import logging

from django.db import transaction
from django.utils import timezone

from access_requests.models import Resource
from portal.okta_api import OktaApp, OktaGroup, get_client

logger = logging.getLogger(__name__)

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
    Okta manages itself (APP_GROUP, BUILT_IN) are never requestable. Returns the counts
    {"created", "updated", "deleted"}. Okta errors propagate: a partial listing must not mark
    the rest as deleted.
    """
    client = client or get_client()
    groups = client.list_groups()
    apps = client.list_apps()
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
        Resource.objects.bulk_create(created, batch_size=500)
        Resource.objects.bulk_update(updated, SYNCED_FIELDS, batch_size=500)

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
        from audit.services import record_event

        record_event(
            "catalog.synced",
            actor=None,
            payload={**counts, "groups": len(groups), "apps": len(apps)},
        )
    logger.info(
        "Catalog sync: %(created)d created, %(updated)d updated, %(deleted)d deleted in Okta",
        counts,
    )
    return counts


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
