"""Submitting, cancelling and expiring access requests."""

import datetime
import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from access_requests import errors, group_access
from access_requests.models import AccessRequest, Grant, Resource
from access_requests.services import approvals
from access_requests.services.events import record
from accounts.models import OktaStatus

logger = logging.getLogger(__name__)

# Durations the request form offers, in days.
DURATION_PRESETS = (1, 7, 30, 90)

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_EXPIRY_DAYS = 14
DEFAULT_MAX_GRANT_DAYS = 365


def end_of_day(date: datetime.date, tz_name: str) -> datetime.datetime:
    """Return the last microsecond of `date` in the IANA time zone `tz_name`, as an aware datetime.

    Raises ValueError for an unknown time zone name.
    """
    try:
        zone = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"Unknown time zone {tz_name!r}: expected an IANA name such as Europe/Paris."
        ) from error
    # Computed from the next midnight, so a day of 23 or 25 hours (daylight saving changes)
    # still ends at its own midnight.
    next_midnight = datetime.datetime.combine(
        date + datetime.timedelta(days=1), datetime.time(), zone
    )
    return next_midnight - datetime.timedelta(microseconds=1)


def requester_time_zone(user) -> str:
    """Return the user's time zone from their Okta profile, else PORTAL_DEFAULT_TIME_ZONE."""
    # The sync and sign-in store known names only; checked again in case the system's zone
    # database changed since.
    name = user.time_zone
    if name:
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            logger.warning("User %s has unknown time zone %r; using the default", user.pk, name)
    return getattr(settings, "PORTAL_DEFAULT_TIME_ZONE", DEFAULT_TIME_ZONE)


def expiry_days() -> int:
    return getattr(settings, "PORTAL_REQUEST_EXPIRY_DAYS", DEFAULT_EXPIRY_DAYS)


def submit_request(
    requester,
    resource: Resource,
    *,
    justification: str,
    ends_at: datetime.datetime | datetime.date | datetime.timedelta | None,
    http_request=None,
) -> tuple[AccessRequest, bool]:
    """Create a pending request with its approval steps; return (request, created).

    `ends_at` is a timedelta (a preset such as 7 days, counted from the last approval), an
    aware datetime (an exact end), a date (a custom end date: the end of that day in the
    requester's time zone), or None for access with no end. A pending
    request of the same requester for the same resource is returned as (existing, False), so
    a double submit creates one request. With the automatic policy the request is approved and
    provisioned at once, so while its grant is held, a submit returns that request as
    (existing, False) too. Raises an AccessRequestError subclass when the request is rejected.
    """
    justification = (justification or "").strip()
    duration = None
    if isinstance(ends_at, datetime.timedelta):
        duration, ends_at = ends_at, None
    elif isinstance(ends_at, datetime.date) and not isinstance(ends_at, datetime.datetime):
        ends_at = end_of_day(ends_at, requester_time_zone(requester))

    with transaction.atomic():
        # Serialises the submits of one requester, so the checks below cannot race with a
        # second submit of the same request (two tabs, a double click, two web processes).
        # NO KEY UPDATE, because a plain FOR UPDATE also blocks the foreign-key check of an
        # audit event naming this user, written by a transaction that holds the chain's lock.
        get_user_model().objects.select_for_update(no_key=True).filter(pk=requester.pk).first()
        existing = _pending_request(requester, resource) or _automatic_request_in_effect(
            requester, resource
        )
        if existing is not None:
            return existing, False
        _check_requester(requester)
        _check_resource(resource)
        _check_not_held(requester, resource)
        _check_justification(resource, justification)
        if duration is not None:
            _check_duration(resource, requester, duration)
        else:
            _check_end(resource, requester, ends_at)

        request_obj = AccessRequest.objects.create(
            requester=requester,
            resource=resource,
            justification=justification,
            requested_ends_at=ends_at,
            requested_duration=duration,
        )
        record(
            "request.submitted",
            actor=requester,
            target=request_obj,
            access_request=request_obj,
            payload={
                "ends_at": ends_at.isoformat() if ends_at else None,
                "duration_days": duration.days if duration is not None else None,
                "justification": justification,
            },
            http_request=http_request,
        )
        approvals.start(request_obj, http_request=http_request)
    return request_obj, True


def cancel_request(request_obj: AccessRequest, *, by, http_request=None) -> AccessRequest:
    """Cancel a pending request; only its requester may."""
    with transaction.atomic():
        locked = AccessRequest.objects.select_for_update(no_key=True).get(pk=request_obj.pk)
        if locked.requester_id != by.pk:
            raise errors.NotAllowed(
                "Only the person who asked for this access can cancel the request."
            )
        if not locked.is_open:
            raise errors.NotCancellable(
                f"This request can no longer be cancelled: it is {locked.get_status_display().lower()}."
            )
        approvals.cancel_locked_request(
            locked,
            approvals.CANCELLED_BY_REQUESTER,
            actor=by,
            http_request=http_request,
            notify=False,
        )
    return locked


def expire_pending_requests(now: datetime.datetime | None = None) -> int:
    """Expire requests pending for longer than PORTAL_REQUEST_EXPIRY_DAYS; return how many.

    Also cancels pending extensions of grants that are no longer active, and those whose
    grant already ends at or after the requested end.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=expiry_days())
    expired = 0
    due = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING, created_at__lt=cutoff)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            locked = AccessRequest.objects.select_for_update(no_key=True).filter(pk=pk).first()
            # Decided or cancelled since the query above.
            if locked is None or not locked.is_open:
                continue
            reason = f"No decision within {expiry_days()} days."
            approvals.close_request(locked, AccessRequest.Status.EXPIRED, reason)
            record(
                "request.expired",
                actor=None,
                target=locked,
                access_request=locked,
                payload={"reason": reason},
            )
            expired += 1
    if expired:
        logger.info("Expired %d pending requests created before %s", expired, cutoff.isoformat())
    # Removals cancel their grant's extensions after commit. This catches any that a process
    # stopped before doing so.
    cancel_extensions_of_ended_grants()
    cancel_overtaken_extensions()
    return expired


def cancel_extensions_of_ended_grants(grant_id: int | None = None) -> int:
    """Cancel pending extensions whose grant is no longer active; return how many.

    Approving such an extension fails, so it could only wait until it expired, and a new
    submit for the resource would return it as the pending request. Checks one grant, or
    every grant when `grant_id` is None.
    """
    stale = AccessRequest.objects.filter(
        status=AccessRequest.Status.PENDING, extends_grant__isnull=False
    ).exclude(extends_grant__status=Grant.Status.ACTIVE)
    if grant_id is not None:
        stale = stale.filter(extends_grant_id=grant_id)
    cancelled = 0
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            locked = (
                AccessRequest.objects.select_for_update(no_key=True, of=("self",))
                .select_related("resource", "extends_grant")
                .filter(pk=pk)
                .first()
            )
            if locked is None or not locked.is_open:
                continue
            if locked.extends_grant.status == Grant.Status.ACTIVE:
                continue
            reason = (
                f"Cancelled: the access to {locked.resource.name} that this request would "
                "extend is ending or has ended. Request it again from the catalog if you still "
                "need it."
            )
            approvals.cancel_locked_request(
                locked,
                reason,
                actor=None,
                payload={"reason": reason, "extends_grant": locked.extends_grant_id},
            )
            cancelled += 1
    if cancelled:
        logger.info("Cancelled %d pending extensions of grants no longer active", cancelled)
    return cancelled


def cancel_overtaken_extensions(grant_id: int | None = None) -> int:
    """Cancel pending extensions whose requested end the active grant already reaches.

    An owner's renewal can move a grant's end past a pending extension's requested end, and
    approving that extension would then shorten the access. Checks one grant, or every grant
    when `grant_id` is None. Each request is locked before its grant, the order decide_step
    uses. Returns how many requests were cancelled.
    """
    pending = AccessRequest.objects.filter(
        status=AccessRequest.Status.PENDING,
        extends_grant__status=Grant.Status.ACTIVE,
    )
    if grant_id is not None:
        pending = pending.filter(extends_grant_id=grant_id)
    else:
        # The filter narrows the scan in SQL, and extension_is_overtaken decides under the locks.
        pending = pending.filter(
            Q(extends_grant__ends_at__isnull=True)
            | Q(requested_ends_at__lte=F("extends_grant__ends_at"))
        )
    cancelled = 0
    for pk in pending.values_list("pk", flat=True):
        with transaction.atomic():
            locked = (
                AccessRequest.objects.select_for_update(no_key=True, of=("self",))
                .select_related("resource")
                .filter(pk=pk)
                .first()
            )
            if locked is None or not locked.is_open:
                continue
            grant = (
                Grant.objects.select_for_update(no_key=True)
                .filter(pk=locked.extends_grant_id)
                .first()
            )
            if grant is None or grant.status != Grant.Status.ACTIVE:
                continue
            if not locked.extension_is_overtaken(grant.ends_at):
                continue
            reason = _overtaken_reason(locked, grant)
            approvals.cancel_locked_request(
                locked, reason, actor=None, payload={"reason": reason, "extends_grant": grant.pk}
            )
            cancelled += 1
    if cancelled:
        logger.info(
            "Cancelled %d pending extensions that their grant's end already passes", cancelled
        )
    return cancelled


def _overtaken_reason(request_obj: AccessRequest, grant: Grant) -> str:
    if grant.ends_at is None:
        current = "now has no end date"
    else:
        current = f"now lasts until {grant.ends_at:%Y-%m-%d %H:%M} UTC"
    requested_end = request_obj.requested_ends_at
    if requested_end is None:
        requested_text = "no end date"
    else:
        requested_text = f"{requested_end:%Y-%m-%d %H:%M} UTC"
    return (
        f"Cancelled: your access to {request_obj.resource.name} {current}, which is already "
        f"at or past the end this extension asked for ({requested_text}), so it is no longer "
        "needed. Ask for a new extension if you need the access for longer."
    )


def _pending_request(requester, resource: Resource) -> AccessRequest | None:
    return AccessRequest.objects.filter(
        requester=requester, resource=resource, status=AccessRequest.Status.PENDING
    ).first()


def _automatic_request_in_effect(requester, resource: Resource) -> AccessRequest | None:
    """Return the automatically approved request behind the requester's held grant, if any.

    An automatic request is never pending, so without this a second submit that waited for the
    first one's lock would find the new grant and get AccessAlreadyHeld.
    """
    grant = (
        Grant.objects.filter(
            user=requester, resource=resource, status__in=Grant.HELD, request__isnull=False
        )
        .select_related("request")
        .first()
    )
    if grant is None or grant.request.steps.exists():
        return None
    return grant.request


def _check_requester(requester) -> None:
    if not requester.is_active or requester.okta_status != OktaStatus.ACTIVE:
        raise errors.RequesterNotActive(
            "Your Okta account is not active "
            f"(status {requester.get_okta_status_display()}), so you cannot request access."
        )


def _check_resource(resource: Resource) -> None:
    reason = resource.not_requestable_reason
    if reason is not None:
        raise errors.NotRequestable(f"{resource.name} cannot be requested: {reason}")


def _check_not_held(requester, resource: Resource) -> None:
    held = Grant.objects.filter(user=requester, resource=resource, status__in=Grant.HELD).first()
    if held is None:
        if held_in_okta(requester, resource):
            raise errors.AccessAlreadyHeld(
                f"You already have {resource.name} in Okta: your last sign-in listed you as "
                "a member, so there is nothing to request."
            )
        groups = group_access.groups_giving_app(requester, resource)
        if groups:
            raise errors.AccessAlreadyHeld(
                f"You already have {resource.name} through "
                f"{group_access.describe_groups(groups)} in Okta, so there is nothing to "
                f"request. If you lose that access and still need {resource.name}, request "
                "it then."
            )
        return
    if held.status == Grant.Status.PROVISIONING:
        raise errors.AccessAlreadyHeld(
            f"Your access to {resource.name} is already approved and being applied in Okta."
        )
    raise errors.AccessAlreadyHeld(f"You already have access to {resource.name}.")


def held_in_okta(user, resource: Resource) -> bool:
    """Return whether the user is a member of the group in Okta, from stored data only.

    Everyone holds a built-in group (Okta's Everyone). Other groups come from the ID token's
    groups claim, which lists the user's group names and is refreshed at every sign-in and
    sign-in renewal. Access to an app through a group assignment is found by
    access_requests.group_access.groups_giving_app instead.
    """
    if resource.kind != Resource.Kind.GROUP:
        return False
    if resource.group_type == Resource.GroupType.BUILT_IN:
        return True
    return resource.name in (user.okta_groups or ())


def _check_justification(resource: Resource, justification: str) -> None:
    if resource.justification_required and not justification:
        raise errors.JustificationRequired(
            f"A justification is required for {resource.name}: say why you need this access."
        )


def _check_end(resource: Resource, requester, ends_at: datetime.datetime | None) -> None:
    now = timezone.now()
    if ends_at is None:
        if not resource.allow_no_end:
            raise errors.InvalidDuration(
                f"Access to {resource.name} needs an end date: choose a duration."
            )
        return
    if timezone.is_naive(ends_at):
        raise ValueError("ends_at must be an aware datetime, a date or None.")
    if ends_at <= now:
        raise errors.InvalidDuration("The end date is in the past: choose a date after today.")
    last_day = last_allowed_day(resource, requester, now)
    if ends_at > end_of_day(last_day, requester_time_zone(requester)):
        raise errors.InvalidDuration(max_end_message(resource, last_day))


def max_end_message(resource: Resource, last_day: datetime.date) -> str:
    """Return the error for an end after `last_day`, the last day the maximum duration allows."""
    return (
        f"Access to {resource.name} can last at most {max_duration_days(resource)} days: "
        f"choose an end on or before {last_day.isoformat()}."
    )


def _check_duration(resource: Resource, requester, duration: datetime.timedelta) -> None:
    """Check a preset duration as the end it would give if approved now.

    The end is computed again at approval, so the access keeps the full duration however long
    the request waits, and a duration within the maximum stays within it.
    """
    if duration <= datetime.timedelta():
        raise errors.InvalidDuration("Choose a duration of at least one day.")
    _check_end(resource, requester, timezone.now() + duration)


def max_duration_days(resource: Resource) -> int:
    """Return the longest access, in days, that a grant on `resource` may have.

    That is the smaller of the resource's own maximum and PORTAL_MAX_GRANT_DAYS, or
    PORTAL_MAX_GRANT_DAYS when the resource sets none. It bounds every end date: submitted,
    extended and renewed. Access with no end date is a separate choice that `allow_no_end`
    controls.
    """
    portal_max = getattr(settings, "PORTAL_MAX_GRANT_DAYS", DEFAULT_MAX_GRANT_DAYS)
    if resource.max_duration_days is None:
        return portal_max
    return min(resource.max_duration_days, portal_max)


def last_allowed_day(resource: Resource, user, now: datetime.datetime) -> datetime.date:
    """Return the last day, in `user`'s time zone, on which access to `resource` may end.

    The maximum counts whole days, so an end date on the last allowed day is accepted although
    its end of day is a few hours past now + N days.
    """
    zone = zoneinfo.ZoneInfo(requester_time_zone(user))
    latest = now + datetime.timedelta(days=max_duration_days(resource))
    return timezone.localtime(latest, zone).date()
