"""Grants reaching their end: the expiry sweep, reminders, extensions and renewals.

Beat runs `expire_grants` every minute: every active grant past its end starts its removal
through the outbox (see access_requests.services.revocation). `send_reminders` mails holders
before the end, once per threshold (PORTAL_GRANT_REMINDER_DAYS). A holder requests more time
with `request_extension`, which goes through approval again; an owner or admin can `renew_grant`
directly from the "expiring soon" page.
"""

import datetime
import functools
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from access_requests import errors, notifications
from access_requests.models import AccessRequest, ExpiryReminder, Grant
from access_requests.services import approvals, revocation
from access_requests.services import requests as requests_service
from access_requests.services.events import record
from access_requests.services.requests import (
    _check_end,
    _check_justification,
    _check_requester,
    end_of_day,
    last_allowed_day,
    max_duration_days,
    requester_time_zone,
)

logger = logging.getLogger(__name__)

DEFAULT_REMINDER_DAYS = (7, 1)
# How far ahead the owners' "expiring soon" page looks.
DEFAULT_EXPIRING_SOON_DAYS = 14

EXPIRY_REASON = "The access reached its end date."


def reminder_days() -> tuple[int, ...]:
    return tuple(sorted(getattr(settings, "PORTAL_GRANT_REMINDER_DAYS", DEFAULT_REMINDER_DAYS)))


def expire_grants(now: datetime.datetime | None = None) -> int:
    """Start the removal of every active grant whose end has passed; return how many."""
    now = now or timezone.now()
    started = 0
    due = Grant.objects.filter(status=Grant.Status.ACTIVE, ends_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                # Locks only the grant row: PostgreSQL cannot lock the nullable side of a join.
                Grant.objects.select_for_update(no_key=True, of=("self",))
                .select_related("resource", "user", "request")
                .filter(pk=pk)
                .first()
            )
            # Revoked, renewed or given up since the query above.
            if grant is None or grant.status != Grant.Status.ACTIVE:
                continue
            if not revocation.ends_by_expiry(grant, now):
                continue
            revocation.begin_removal(grant, actor=None, reason=EXPIRY_REASON)
            started += 1
    if started:
        logger.info("Expiry sweep: started the removal of %d grants", started)
    return started


def send_reminders(now: datetime.datetime | None = None) -> int:
    """Mail the holders of grants ending within a reminder threshold; return how many mails.

    A grant gets one mail per threshold. One that is already inside several thresholds when
    first seen (say 12 hours before its end) gets a single mail, and every threshold it is
    inside counts as reminded.
    """
    now = now or timezone.now()
    thresholds = reminder_days()
    if not thresholds:
        return 0
    horizon = now + datetime.timedelta(days=max(thresholds))
    sent = 0
    grants = Grant.objects.filter(
        status=Grant.Status.ACTIVE, ends_at__gt=now, ends_at__lte=horizon
    ).prefetch_related("reminders")
    for grant in grants:
        left = grant.ends_at - now
        inside = [days for days in thresholds if left <= datetime.timedelta(days=days)]
        done = {reminder.days_before for reminder in grant.reminders.all()}
        if min(inside) in done:
            continue
        try:
            with transaction.atomic():
                ExpiryReminder.objects.bulk_create(
                    ExpiryReminder(grant=grant, days_before=days, sent_at=now)
                    for days in inside
                    if days not in done
                )
                transaction.on_commit(functools.partial(notifications.grant_ending, grant.pk))
        except IntegrityError:
            # Another beat run recorded it first; that run sends the mail.
            continue
        sent += 1
    return sent


def request_extension(
    grant: Grant, *, by, ends_at: datetime.datetime | None, justification: str, http_request=None
) -> tuple[AccessRequest, bool]:
    """Ask for a later end of the holder's own grant; it goes through approval again.

    Returns (request, created). One extension of a grant may be pending at a time: the same
    extension submitted again (a double submit) is returned as is, a different one is refused.
    An extension that the automatic policy already applied is returned the same way.
    """
    justification = (justification or "").strip()
    with transaction.atomic():
        locked = (
            Grant.objects.select_for_update(no_key=True, of=("self",))
            .select_related("resource", "user")
            .get(pk=grant.pk)
        )
        if locked.user_id != by.pk:
            raise errors.NotAllowed("Only the holder of this access can ask to extend it.")
        if locked.status != Grant.Status.ACTIVE:
            raise errors.NotExtendable(
                f"Only active access can be extended; this one is {locked.status_text}."
            )
        pending = AccessRequest.objects.filter(
            requester=by, resource=locked.resource, status=AccessRequest.Status.PENDING
        ).first()
        if pending is not None:
            if pending.extends_grant_id == locked.pk:
                if (pending.requested_ends_at, pending.justification) == (ends_at, justification):
                    return pending, False
                raise errors.NotExtendable(
                    f"An extension of this access is already pending (asked on "
                    f"{pending.created_at:%Y-%m-%d}): follow that request, or cancel it to ask "
                    "for a different end."
                )
            raise errors.NotExtendable(
                f"You already have a pending request for {locked.resource.name}."
            )
        applied = _applied_automatic_extension(locked, ends_at, justification)
        if applied is not None:
            return applied, False
        _check_extendable(locked)
        _check_requester(by)
        _check_justification(locked.resource, justification)
        _check_end(locked.resource, by, ends_at)
        if locked.ends_at is None or (ends_at is not None and ends_at <= locked.ends_at):
            raise errors.InvalidDuration("An extension must end later than the current access.")
        request_obj = AccessRequest.objects.create(
            requester=by,
            resource=locked.resource,
            justification=justification,
            requested_ends_at=ends_at,
            extends_grant=locked,
        )
        record(
            "request.submitted",
            actor=by,
            target=request_obj,
            access_request=request_obj,
            payload={
                "ends_at": ends_at.isoformat() if ends_at else None,
                "extends_grant": locked.pk,
                "justification": justification,
            },
            http_request=http_request,
        )
        approvals.start(request_obj, http_request=http_request)
    return request_obj, True


def _check_extendable(grant: Grant) -> None:
    # Turning "requestable" off cancels pending extensions too, so a new one is rejected.
    message = not_extendable_message(grant)
    if message is not None:
        raise errors.NotExtendable(message)


def not_extendable_message(grant: Grant) -> str | None:
    """Return why the holder cannot ask to extend `grant` because of its resource, else None.

    The extend page shows it in place of the form, and request_extension rejects with it.
    """
    reason = grant.resource.not_requestable_reason
    if reason is None:
        return None
    message = f"Access to {grant.resource.name} cannot be extended: {reason}"
    if grant.ends_at is not None:
        message += f" Your current access is not changed and ends on {grant.ends_at:%Y-%m-%d}."
    return message


def _applied_automatic_extension(
    grant: Grant, ends_at: datetime.datetime | None, justification: str
) -> AccessRequest | None:
    """Return the automatically approved extension that gave `grant` its end `ends_at`, if any.

    The automatic policy applies an extension at once, so it is never pending. The same
    extension submitted twice would otherwise get "must end later than the current access".
    """
    if grant.ends_at != ends_at:
        return None
    return (
        AccessRequest.objects.filter(
            extends_grant=grant,
            status=AccessRequest.Status.APPROVED,
            requested_ends_at=ends_at,
            justification=justification,
            steps__isnull=True,
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def apply_extension(request_obj: AccessRequest, *, actor, http_request=None) -> Grant:
    """Move the end of the extended grant; called when an extension request is approved.

    The caller holds the grant's row lock, taken before the transaction's first audit event.
    """
    grant = Grant.objects.get(pk=request_obj.extends_grant_id)
    if grant.status != Grant.Status.ACTIVE:
        # The access ended while the extension waited for approval: nothing left to extend.
        raise errors.NotExtendable(f"The access to extend is {grant.status_text}; request it anew.")
    previous = grant.ends_at
    grant.ends_at = request_obj.requested_ends_at
    grant.save(update_fields=["ends_at", "updated_at"])
    record(
        "grant.extended",
        actor=actor,
        target=grant,
        grant=grant,
        access_request=request_obj,
        payload={
            "previous_ends_at": previous.isoformat() if previous else None,
            "ends_at": grant.ends_at.isoformat() if grant.ends_at else None,
        },
        http_request=http_request,
    )
    return grant


def renew_grant(grant: Grant, *, by, days: int, http_request=None) -> Grant:
    """Push the end of a grant `days` days past its end (or now, if later), for an owner or admin.

    The new end may be at most max_duration_days(resource) days from now, as for an extension.
    Pending extensions that the new end already reaches are cancelled after commit.
    """
    if days < 1:
        raise errors.InvalidDuration("Renew for at least one day.")
    with transaction.atomic():
        locked = (
            Grant.objects.select_for_update(no_key=True, of=("self",))
            .select_related("resource", "user")
            .get(pk=grant.pk)
        )
        resource = locked.resource
        if not (by.is_admin or resource.owners.filter(pk=by.pk).exists()):
            raise errors.NotAllowed(
                f"Only owners of {resource.name} and portal admins can renew this access."
            )
        if locked.user_id == by.pk and not by.is_admin:
            raise errors.NotAllowed("You cannot renew your own access: ask for an extension.")
        if locked.status != Grant.Status.ACTIVE or locked.ends_at is None:
            raise errors.NotExtendable("Only active access with an end date can be renewed.")
        now = timezone.now()
        previous = locked.ends_at
        new_end = max(previous, now) + datetime.timedelta(days=days)
        _check_renewal_end(locked, new_end, now)
        locked.ends_at = new_end
        locked.save(update_fields=["ends_at", "updated_at"])
        # The reminders start over for the new end date.
        locked.reminders.all().delete()
        # After commit, because cancelling locks each request before its grant, the order
        # decide_step uses, and this transaction already holds the grant.
        transaction.on_commit(
            functools.partial(requests_service.cancel_overtaken_extensions, locked.pk)
        )
        record(
            "grant.extended",
            actor=by,
            target=locked,
            grant=locked,
            payload={
                "previous_ends_at": previous.isoformat(),
                "ends_at": locked.ends_at.isoformat(),
                "renewed_by_owner": True,
            },
            http_request=http_request,
        )
    return locked


def _check_renewal_end(grant: Grant, new_end: datetime.datetime, now: datetime.datetime) -> None:
    """Raise InvalidDuration when `new_end` is more than max_duration_days whole days from now.

    Days are counted in the holder's time zone, the same limit an extension request has.
    """
    resource = grant.resource
    last_day = last_allowed_day(resource, grant.user, now)
    latest_end = end_of_day(last_day, requester_time_zone(grant.user))
    if new_end <= latest_end:
        return
    limit = (
        f"Access to {resource.name} can last at most {max_duration_days(resource)} days, "
        f"so it can end on {last_day.isoformat()} at the latest"
    )
    allowed_days = (latest_end - max(grant.ends_at, now)).days
    if allowed_days < 1:
        raise errors.InvalidDuration(f"{limit}: it cannot be renewed further today.")
    raise errors.InvalidDuration(f"{limit}: renew by at most {allowed_days} days.")


def expiring_soon(user, now: datetime.datetime | None = None):
    """Active grants ending soon on resources `user` owns (every resource for admins)."""
    now = now or timezone.now()
    days = getattr(settings, "PORTAL_EXPIRING_SOON_DAYS", DEFAULT_EXPIRING_SOON_DAYS)
    grants = Grant.objects.filter(
        status=Grant.Status.ACTIVE,
        ends_at__gt=now,
        ends_at__lte=now + datetime.timedelta(days=days),
    ).select_related("user", "resource")
    if not user.is_admin:
        grants = grants.filter(resource__owners=user)
    return grants.order_by("ends_at", "pk")
