"""Copy every Okta user's status, profile, manager and admin membership into the portal.

One run reads the whole directory through the Okta facade (which drains the pages and waits
out 429s), then writes the differences in one transaction. Users who are no longer ACTIVE
lose their portal sessions when the transaction has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import OktaStatus, User, UserSession
from audit.services import record_event
from portal.okta_api import OktaClient, OktaUser

logger = logging.getLogger(__name__)

SYNCED_FIELDS = (
    "login",
    "email",
    "first_name",
    "last_name",
    "okta_status",
    "is_active",
    "department",
    "title",
    "manager",
    "manager_okta_id",
    "time_zone",
    "is_admin",
    "is_staff",
    "is_superuser",
)
BULK_BATCH_SIZE = 500


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    deactivated: list[str] = field(default_factory=list)
    missing_from_okta: list[str] = field(default_factory=list)
    unknown_managers: int = 0
    sessions_ended: int = 0

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "deactivated": len(self.deactivated),
            "missing_from_okta": len(self.missing_from_okta),
            "unknown_managers": self.unknown_managers,
            "sessions_ended": self.sessions_ended,
        }


def sync_users(client: OktaClient | None = None) -> SyncResult:
    """Run one directory sync; raises the facade's OktaError when Okta cannot be read."""
    if client is None:
        from portal.okta_api import get_client

        client = get_client()
    okta_users = client.list_all_users()
    admin_ids = admin_member_ids(client)

    result = SyncResult()
    with transaction.atomic():
        apply_directory(okta_users, admin_ids, result)
    result.sessions_ended = services.end_sessions(
        User.objects.filter(is_active=False).values_list("pk", flat=True)
    )
    prune_expired_session_records()
    logger.info("User sync finished: %s", result.as_dict())
    return result


def admin_member_ids(client: OktaClient) -> set[str]:
    """Return the Okta ids of the members of the PORTAL_ADMIN_GROUP group.

    A missing group means no admins, and is logged: a renamed group would otherwise strip
    every admin without a trace.
    """
    name = settings.PORTAL_ADMIN_GROUP
    matches = [group for group in client.list_groups() if group.name == name]
    if not matches:
        logger.warning("Okta has no group named %r (PORTAL_ADMIN_GROUP): no portal admins", name)
        return set()
    member_ids: set[str] = set()
    for group in matches:
        member_ids.update(client.list_group_member_ids(group.id))
    return member_ids


def apply_directory(okta_users: list[OktaUser], admin_ids: set[str], result: SyncResult) -> None:
    """Write the directory's differences and their audit events, inside the caller's transaction."""
    now = timezone.now()
    existing = {user.okta_id: user for user in User.objects.select_for_update(no_key=True)}
    created_ids = create_missing_users(okta_users, existing, result)
    pk_by_okta_id = {okta_id: user.pk for okta_id, user in existing.items()}

    changed_users = []
    for okta_user in okta_users:
        user = existing[okta_user.id]
        manager_pk = pk_by_okta_id.get(okta_user.manager_id) if okta_user.manager_id else None
        if okta_user.manager_id and manager_pk is None:
            # A manager id that names no Okta user: keep the raw id and leave manager empty.
            result.unknown_managers += 1
        fields = directory_fields(okta_user, okta_user.id in admin_ids, manager_pk)
        previous = {"okta_status": user.okta_status}
        changed = services.set_fields(user, fields)
        if okta_user.id in created_ids:
            record_event(
                "user.synced",
                target=user,
                subject_user=user,
                payload={"source": "sync", "created": True, "login": user.login},
            )
            changed_users.append(user)
        elif changed:
            services.record_changes(user, changed, source="sync", previous=previous)
            result.updated += 1
            changed_users.append(user)
            if not user.is_active and "okta_status" in changed:
                result.deactivated.append(user.okta_id)

    seen = {okta_user.id for okta_user in okta_users}
    for okta_id, user in existing.items():
        if okta_id not in seen and mark_missing(user):
            result.missing_from_okta.append(okta_id)
            changed_users.append(user)

    User.objects.bulk_update(changed_users, SYNCED_FIELDS, batch_size=BULK_BATCH_SIZE)
    seen_ids = sorted(seen)
    for start in range(0, len(seen_ids), BULK_BATCH_SIZE):
        batch = seen_ids[start : start + BULK_BATCH_SIZE]
        User.objects.filter(okta_id__in=batch).update(last_synced_at=now)


def create_missing_users(
    okta_users: list[OktaUser], existing: dict[str, User], result: SyncResult
) -> set[str]:
    """Insert a row for each Okta user the portal has not seen; return their Okta ids."""
    new_users = [
        User(okta_id=okta_user.id, login=okta_user.login or okta_user.id)
        for okta_user in okta_users
        if okta_user.id not in existing
    ]
    if not new_users:
        return set()
    for user in new_users:
        user.set_unusable_password()
    # A first sign-in may create the same user during the sync: skip it and read it back.
    User.objects.bulk_create(new_users, ignore_conflicts=True, batch_size=BULK_BATCH_SIZE)
    for user in User.objects.filter(okta_id__in=[user.okta_id for user in new_users]):
        existing[user.okta_id] = user
    result.created += len(new_users)
    return {user.okta_id for user in new_users}


def directory_fields(okta_user: OktaUser, is_admin: bool, manager_pk: int | None) -> dict:
    return {
        "login": okta_user.login or okta_user.id,
        "email": okta_user.email,
        "first_name": okta_user.first_name,
        "last_name": okta_user.last_name,
        "okta_status": okta_user.status,
        "is_active": okta_user.status == OktaStatus.ACTIVE,
        "department": okta_user.department,
        "title": okta_user.title,
        "manager_id": manager_pk,
        "manager_okta_id": okta_user.manager_id,
        "time_zone": services.known_time_zone(okta_user.timezone, okta_id=okta_user.id),
        **services.admin_fields(is_admin),
    }


def mark_missing(user: User) -> bool:
    """Deprovision a user that Okta no longer lists (deleted there); return True if changed.

    Users with a usable password are local accounts made with createsuperuser, which Okta
    never knew, and stay as they are.
    """
    if user.has_usable_password() or user.okta_status == OktaStatus.DEPROVISIONED:
        return False
    previous = {"okta_status": user.okta_status}
    changed = services.set_fields(
        user,
        {
            "okta_status": OktaStatus.DEPROVISIONED,
            "is_active": False,
            **services.admin_fields(False),
        },
    )
    services.record_changes(user, changed, source="sync: not found in Okta", previous=previous)
    return True


def prune_expired_session_records() -> int:
    """Delete the records of sessions older than the session cookie's lifetime."""
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    deleted, _ = UserSession.objects.filter(created_at__lt=cutoff).delete()
    return deleted
