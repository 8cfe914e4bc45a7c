"""Okta event hooks: storing delivered System Log events, and applying them in order.

Okta delivers at least once and in any order, waits 3 s for a response and retries once. So
the endpoint only checks the secret header, stores each event (unique on its `uuid`, which
drops duplicates) and queues `apply_pending_events`; the work happens in the worker.

Applying keeps, per (user, resource) pair, the `published` time of the event applied last
(ObservedAccess). An event published earlier than that is stale and changes nothing, so a
remove delivered before the add that preceded it still leaves the user not a member. Lifecycle
events use the pair (user, "status") the same way.
"""

import datetime
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from access_requests import group_access
from access_requests.models import HookEvent, ObservedAccess, Resource
from access_requests.services import offboarding, reconciliation
from accounts import services as account_services
from accounts.models import OktaStatus

logger = logging.getLogger(__name__)

MEMBERSHIP_EVENTS = {
    "group.user_membership.add": ("UserGroup", True),
    "group.user_membership.remove": ("UserGroup", False),
    "application.user_membership.add": ("AppInstance", True),
    "application.user_membership.remove": ("AppInstance", False),
}
LIFECYCLE_EVENTS = {
    "user.lifecycle.deactivate": OktaStatus.DEPROVISIONED,
    "user.lifecycle.suspend": OktaStatus.SUSPENDED,
    "user.lifecycle.activate": OktaStatus.ACTIVE,
    "user.lifecycle.reactivate": OktaStatus.ACTIVE,
    "user.lifecycle.unsuspend": OktaStatus.ACTIVE,
}
# The event types the hook subscribes to (see the register_event_hook command).
SUBSCRIBED_EVENT_TYPES = (*MEMBERSHIP_EVENTS, *LIFECYCLE_EVENTS)
# The pseudo resource id under which a user's lifecycle events are ordered.
STATUS_PAIR = "status"
# Events stored longer than this without being applied lost their task message; the
# periodic run picks them up.
RESEND_AFTER = datetime.timedelta(seconds=30)
# How far an event's `published` time may lie ahead of the portal's clock. A later time would
# make every real event for that user and resource look older, so they would change nothing.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)
# Column lengths of HookEvent, checked before the insert so that PostgreSQL never rejects it.
MAX_UUID_LENGTH = HookEvent._meta.get_field("uuid").max_length
MAX_EVENT_TYPE_LENGTH = HookEvent._meta.get_field("event_type").max_length


class InvalidDelivery(ValueError):
    """The body is not an Okta event hook delivery; the message names the invalid part."""


def parse_delivery(body: object, now: datetime.datetime | None = None) -> list[HookEvent]:
    """Return unsaved HookEvents for the events of one delivery body (decoded JSON).

    Raises InvalidDelivery for the first invalid event, so that no event of the delivery is
    stored.
    """
    now = now or timezone.now()
    if not isinstance(body, dict):
        raise InvalidDelivery("The body must be a JSON object.")
    events = (body.get("data") or {}).get("events") if isinstance(body.get("data"), dict) else None
    if not isinstance(events, list):
        raise InvalidDelivery('The body must have "data": {"events": [...]}.')
    parsed = []
    for position, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidDelivery(f"Event {position} is not a JSON object.")
        uuid, event_type = event.get("uuid"), event.get("eventType")
        published = parse_datetime(event.get("published") or "")
        if not isinstance(uuid, str) or not uuid:
            raise InvalidDelivery(f"Event {position} has no uuid.")
        if len(uuid) > MAX_UUID_LENGTH:
            raise InvalidDelivery(
                f"Event {position} has a uuid of {len(uuid)} characters, "
                f"more than the maximum of {MAX_UUID_LENGTH}."
            )
        if not isinstance(event_type, str) or not event_type:
            raise InvalidDelivery(f"Event {uuid} has no eventType.")
        if len(event_type) > MAX_EVENT_TYPE_LENGTH:
            raise InvalidDelivery(
                f"Event {uuid} has an eventType of {len(event_type)} characters, "
                f"more than the maximum of {MAX_EVENT_TYPE_LENGTH}."
            )
        if published is None or timezone.is_naive(published):
            raise InvalidDelivery(
                f"Event {uuid} has no valid published time with a time zone: {event.get('published')!r}."
            )
        if published > now + MAX_CLOCK_SKEW:
            raise InvalidDelivery(
                f"Event {uuid} is published at {published.isoformat()}, more than "
                f"{int(MAX_CLOCK_SKEW.total_seconds() // 60)} minutes after the portal's time "
                f"{now.isoformat()}. Check the clocks of Okta's sender and the portal."
            )
        parsed.append(
            HookEvent(uuid=uuid, event_type=event_type, published=published, payload=event)
        )
    return parsed


def store_delivery(events: list[HookEvent], *, http_request=None) -> int:
    """Store the events not seen before and queue their application; return how many are new."""
    from audit.services import record_event

    with transaction.atomic():
        known = set(
            HookEvent.objects.filter(uuid__in=[event.uuid for event in events]).values_list(
                "uuid", flat=True
            )
        )
        new = [event for event in events if event.uuid not in known]
        # ignore_conflicts: a duplicate delivered at the same moment by a second web process.
        HookEvent.objects.bulk_create(new, ignore_conflicts=True)
        record_event(
            "hook.received",
            actor=None,
            payload={
                "events": len(events),
                "new": [event.uuid for event in new],
                "duplicates": sorted(known),
            },
            http_request=http_request,
        )
        if new:
            transaction.on_commit(send_apply_task)
    return len(new)


def send_apply_task() -> None:
    """Queue apply_pending_events; a broker failure leaves the events for the periodic run."""
    from access_requests.services import provisioning
    from access_requests.tasks import apply_hook_events

    if not provisioning._broker_accepts_connections():
        logger.warning("The broker refuses connections; hook events wait for the periodic run")
        return
    try:
        apply_hook_events.apply_async(retry=False)
    except Exception as error:  # noqa: BLE001 - any publish failure is left to the periodic run
        logger.warning("Could not queue the hook events (%s); the periodic run applies them", error)


def apply_pending_events() -> int:
    """Apply every stored, unapplied event in `published` order; return how many."""
    applied = 0
    pending = HookEvent.objects.filter(applied_at__isnull=True).order_by("published", "pk")
    departed = set()
    for pk in pending.values_list("pk", flat=True):
        with transaction.atomic():
            event = HookEvent.objects.select_for_update(no_key=True).filter(pk=pk).first()
            if event is None or event.applied_at is not None:
                continue
            event.outcome = _apply(event, departed)
            event.applied_at = timezone.now()
            event.save(update_fields=["outcome", "applied_at"])
            applied += 1
    for user in departed:
        user.refresh_from_db()
        if user.okta_status in offboarding.DEPARTED_STATUSES:
            offboarding.offboard_user(user)
    return applied


def has_stale_events(now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    return HookEvent.objects.filter(
        applied_at__isnull=True, received_at__lte=now - RESEND_AFTER
    ).exists()


def _apply(event: HookEvent, departed: set) -> str:
    targets = event.payload.get("target") or []
    user_id = _target_id(targets, "User")
    if user_id is None:
        return "ignored: no User target"
    if event.event_type in MEMBERSHIP_EVENTS:
        target_type, present = MEMBERSHIP_EVENTS[event.event_type]
        resource_id = _target_id(targets, target_type)
        if resource_id is None:
            return f"ignored: no {target_type} target"
        if not _observe(user_id, resource_id, present, event):
            return "superseded by a newer event"
        # App events do not say whether the assignment is direct or through a group, and only
        # direct ones are the portal's: app drift is left to the periodic reconciliation.
        if target_type == "UserGroup":
            if _is_admin_group(targets, resource_id):
                _apply_admin_membership(user_id, present)
            group_access.apply_membership_event(user_id, resource_id, present)
            _check_drift(user_id, resource_id, present, event.published)
        return "applied"
    if event.event_type in LIFECYCLE_EVENTS:
        status = LIFECYCLE_EVENTS[event.event_type]
        if not _observe(user_id, STATUS_PAIR, status == OktaStatus.ACTIVE, event):
            return "superseded by a newer event"
        user = get_user_model().objects.filter(okta_id=user_id).first()
        if user is None:
            return "ignored: user unknown to the portal"
        account_services.apply_okta_status(user, status)
        if status in offboarding.DEPARTED_STATUSES:
            departed.add(user)
        return "applied"
    return "ignored: event type not handled"


def _is_admin_group(targets: list, group_id: str) -> bool:
    """Return whether the event's group is PORTAL_ADMIN_GROUP, which is configured by name.

    The catalog's copy of the group is checked first, and the event's displayName covers a
    group that the catalog sync has not copied yet.
    """
    name = settings.PORTAL_ADMIN_GROUP
    resource = Resource.objects.filter(okta_id=group_id, kind=Resource.Kind.GROUP).first()
    if resource is not None:
        return resource.name == name
    for target in targets:
        if isinstance(target, dict) and target.get("id") == group_id:
            return target.get("displayName") == name
    return False


def _apply_admin_membership(user_id: str, present: bool) -> None:
    user = get_user_model().objects.filter(okta_id=user_id).first()
    if user is None:
        # The user sync or the first sign-in creates the user with the right flag.
        return
    account_services.apply_admin_membership(user, present, source="okta")


def _target_id(targets: list, target_type: str) -> str | None:
    for target in targets:
        if isinstance(target, dict) and target.get("type") == target_type and target.get("id"):
            return target["id"]
    return None


def _observe(user_id: str, resource_id: str, present: bool, event: HookEvent) -> bool:
    """Record the event's state for the pair unless a newer one is recorded; True if recorded."""
    observed, created = ObservedAccess.objects.select_for_update(no_key=True).get_or_create(
        user_okta_id=user_id,
        resource_okta_id=resource_id,
        defaults={"present": present, "published": event.published, "event_uuid": event.uuid},
    )
    if created:
        return True
    if observed.published > event.published:
        return False
    observed.present = present
    observed.published = event.published
    observed.event_uuid = event.uuid
    observed.save(update_fields=["present", "published", "event_uuid"])
    return True


def _check_drift(
    user_id: str, resource_id: str, present: bool, published: datetime.datetime
) -> None:
    resource = Resource.objects.filter(okta_id=resource_id, deleted_in_okta_at=None).first()
    if resource is None:
        return
    # Before the baseline, a change from before the resource became managed may concern
    # pre-existing access, so the baseline decides. A later one is judged now, and the
    # baseline leaves such additions out (reconciliation.added_since_managed).
    if resource.baseline_taken_at is None and (
        resource.managed_since is None or published < resource.managed_since
    ):
        return
    expected = reconciliation.granted_user_ids(resource)
    in_flux = reconciliation.in_flux_user_ids(resource)
    if user_id in in_flux:
        return
    seen = {user_id} if present else set()
    drifts = reconciliation.record_drift(
        resource,
        unapproved=seen - expected,
        missing=({user_id} & expected) - seen,
        checked={user_id},
        source=reconciliation.SOURCE_EVENT_HOOK,
    )
    if resource.enforcement == Resource.Enforcement.ENFORCE:
        for drift in drifts:
            transaction.on_commit(lambda pk=drift.pk: reconciliation.correct_drift_by_id(pk))
