"""Changes to users and their sessions; each writes its audit events in the same transaction."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils.module_loading import import_string

from accounts.models import OktaStatus, User, UserSession
from audit.services import record_event

logger = logging.getLogger(__name__)


def profile_from_claims(claims: dict) -> dict:
    """Return the User fields that OIDC claims set (Okta's profile, openid and email scopes)."""
    login = claims.get("preferred_username") or claims.get("email") or claims["sub"]
    fields = {
        "login": str(login),
        "email": str(claims.get("email") or ""),
        "first_name": str(claims.get("given_name") or ""),
        "last_name": str(claims.get("family_name") or ""),
    }
    # The zoneinfo claim is not used: Okta sends "America/Los_Angeles" when the profile has no
    # timezone, so it cannot tell a real zone from that default. The user sync stores the
    # profile's timezone for everyone, signed in or not.
    return fields


def known_time_zone(name, *, okta_id: str) -> str:
    """Return `name` when it is in this system's IANA time zone database, else "" with a
    warning (the portal's default then applies), so that a typo in Okta never breaks a request."""
    name = str(name or "").strip()
    if not name:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning(
            "User %s has unknown time zone %r in Okta; the portal's default time zone applies",
            okta_id,
            name,
        )
        return ""
    return name


def admin_fields(is_admin: bool) -> dict:
    """Return the flags that follow portal admin rights: admins also get Django's admin."""
    return {"is_admin": is_admin, "is_staff": is_admin, "is_superuser": is_admin}


def update_user_from_claims(claims: dict, *, http_request: HttpRequest | None = None) -> User:
    """Create or update the user whose Okta id is the `sub` claim; return it.

    The row is found by `sub` only. Two first sign-ins of one person at once create one row:
    okta_id is unique and get_or_create reads the other transaction's row after losing the
    insert.
    """
    okta_id = str(claims["sub"])
    fields = profile_from_claims(claims)
    groups = claims.get("groups")
    if isinstance(groups, list):
        fields["okta_groups"] = sorted(str(name) for name in groups)
        fields.update(admin_fields(settings.PORTAL_ADMIN_GROUP in groups))
    else:
        # Without the claim the admin flag cannot be decided here; the sync keeps it true.
        logger.warning(
            "ID token of user %s has no groups claim; admin rights left unchanged. Add a "
            "groups claim to the Okta authorization server to fix this.",
            okta_id,
        )

    with transaction.atomic():
        user, created = User.objects.select_for_update(no_key=True).get_or_create(
            okta_id=okta_id, defaults={**fields, "password": _unusable_password()}
        )
        if created:
            logger.info("Created user %s (%s) at first sign-in", okta_id, fields["login"])
            record_event(
                "user.synced",
                target=user,
                subject_user=user,
                payload={"source": "sign-in", "created": True, "login": user.login},
                http_request=http_request,
            )
            return user
        changed = set_fields(user, fields)
        if changed:
            user.save(update_fields=changed)
            record_changes(user, changed, source="sign-in", http_request=http_request)
    return user


def _unusable_password() -> str:
    user = User()
    user.set_unusable_password()
    return user.password


def set_fields(user: User, fields: dict) -> list[str]:
    """Set the fields that differ on `user`; return their names."""
    changed = []
    for name, value in fields.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    return changed


def record_changes(
    user: User,
    changed: Iterable[str],
    *,
    source: str,
    previous: dict | None = None,
    http_request: HttpRequest | None = None,
) -> None:
    """Write the audit events of a user update: role and status changes get their own."""
    changed = set(changed)
    if "is_admin" in changed:
        record_event(
            "user.role_changed",
            target=user,
            subject_user=user,
            payload={"role": "admin", "granted": user.is_admin, "source": source},
            http_request=http_request,
        )
    if "okta_status" in changed:
        record_event(
            "user.status_changed",
            target=user,
            subject_user=user,
            payload={
                "from": (previous or {}).get("okta_status"),
                "to": user.okta_status,
                "source": source,
            },
            http_request=http_request,
        )
    profile_changes = sorted(changed - {"is_admin", "is_staff", "is_superuser", "okta_status"})
    if profile_changes:
        record_event(
            "user.synced",
            target=user,
            subject_user=user,
            payload={"source": source, "changed": profile_changes},
            http_request=http_request,
        )


def apply_okta_status(user: User, status: str) -> None:
    """Store the user's current Okta status; ending sessions follows when it is not ACTIVE."""
    fields = {"okta_status": status, "is_active": status == OktaStatus.ACTIVE}
    previous = {"okta_status": user.okta_status}
    with transaction.atomic():
        changed = set_fields(user, fields)
        if not changed:
            return
        user.save(update_fields=changed)
        record_changes(user, changed, source="okta", previous=previous)
    if not user.is_active:
        end_sessions([user.pk])


def apply_admin_membership(user: User, is_member: bool, *, source: str) -> bool:
    """Set the user's admin rights from their PORTAL_ADMIN_GROUP membership; True if changed.

    Called when Okta reports a membership change (event hook). The flags are read from the
    database on every request, so an open session loses or gains admin rights on its next
    request. Audited as `user.role_changed`.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        changed = set_fields(locked, admin_fields(is_member))
        if not changed:
            return False
        locked.save(update_fields=changed)
        record_changes(locked, changed, source=source)
    logger.info(
        "User %s %s portal admin rights (%s)",
        locked.okta_id,
        "gained" if is_member else "lost",
        source,
    )
    return True


def session_store_class() -> type[SessionBase]:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")


def remember_session(user: User, session_key: str) -> None:
    UserSession.objects.update_or_create(session_key=session_key, defaults={"user": user})


def forget_session(session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def end_sessions(user_ids: Iterable[int]) -> int:
    """Delete every recorded session of these users from the session store; return the count.

    Works with every session backend, the cache ones included, because it deletes by key.
    """
    store = session_store_class()
    ended = 0
    for session in UserSession.objects.filter(user_id__in=list(user_ids)):
        store(session.session_key).delete()
        session.delete()
        ended += 1
    if ended:
        logger.info("Ended %d sessions of users who are no longer active in Okta", ended)
    return ended
