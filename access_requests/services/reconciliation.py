"""Reconciliation: comparing who has each managed resource in Okta with the portal's grants.

Drift comes in two kinds: access in Okta without a grant (`unapproved`), and an active grant
whose access is missing in Okta (`missing`). Each is recorded once while it lasts, with when it
was first found, and resolved when a later comparison no longer sees it. Grants on their way in
or out (provisioning, revoking, or with an operation queued) are left out of the comparison.

A resource in enforce mode is corrected through the same outbox as provisioning: unapproved
access becomes a grant that is revoked at once, and missing access gets its add operation again.

A listing that fails part way raises in the facade, and that resource's comparison is skipped
entirely: members that were never read are never treated as removed.

The first comparison of a resource takes its baseline: every user the portal knows who holds it
in Okta and has no grant gets a pre-existing grant with no end, so making a resource requestable
or enforced never reports (or removes) the people who already had it. A pre-existing grant
ends like any other, with the access removed from Okta. Saving a resource as requestable queues
that comparison at once. Users whose addition an event hook reported after that save
(`Resource.managed_since`) are left out of the baseline, so they are drift.

Enforcement never removes members of the portal's own admin group (PORTAL_ADMIN_GROUP) or a
portal admin: those findings stay open, with the reason in the drift's note.
"""

import functools
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from access_requests.models import (
    AccessRequest,
    Drift,
    Grant,
    ObservedAccess,
    OktaOperation,
    Resource,
)
from access_requests.services import offboarding, provisioning, revocation
from access_requests.services.events import record
from portal.okta_api import OktaError

logger = logging.getLogger(__name__)

SOURCE_RECONCILIATION = "reconciliation"
SOURCE_EVENT_HOOK = "event hook"

ENFORCE_REASON = "Found in Okta without a grant; removed because the resource is enforced."
BASELINE_NOTE = "Held in Okta when the portal started managing the resource."


@dataclass
class ResourceResult:
    resource: Resource
    error: str = ""
    unapproved: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.error


def managed_resources():
    """Writable resources the portal manages: requestable ones and any with grants."""
    resources = Resource.objects.filter(deleted_in_okta_at=None).filter(
        Q(requestable=True) | Q(grants__isnull=False)
    )
    return [resource for resource in resources.distinct() if resource.writable_in_okta]


def reconcile_all(client=None) -> list[ResourceResult]:
    """Compare every managed resource; close what belongs to resources deleted in Okta."""
    close_deleted_resources()
    if client is None:
        from portal.okta_api import get_client

        client = get_client()
    return [reconcile_resource(resource, client) for resource in managed_resources()]


def queue_comparison(resource_id: int) -> bool:
    """Queue the comparison of one resource; return False when the broker cannot be reached.

    Never raises for a broker failure, because the hourly comparison covers the resource too.
    """
    from access_requests.tasks import reconcile_resource as reconcile_resource_task

    if not provisioning._broker_accepts_connections():
        logger.warning(
            "The broker refuses connections; resource %s waits for the hourly comparison",
            resource_id,
        )
        return False
    try:
        reconcile_resource_task.apply_async(args=[resource_id], retry=False)
    except Exception as error:  # noqa: BLE001 - any publish failure is left to the hourly run
        logger.warning(
            "Could not queue the comparison of resource %s (%s); the hourly run compares it",
            resource_id,
            error,
        )
        return False
    return True


def reconcile_resource(resource: Resource, client=None) -> ResourceResult:
    """Compare one resource and record its drift; enforce mode queues the corrections."""
    if client is None:
        from portal.okta_api import get_client

        client = get_client()
    result = ResourceResult(resource)
    try:
        present = okta_user_ids(client, resource)
    except OktaError as error:
        result.error = str(error)
        logger.warning("Reconciliation of %s skipped: listing failed: %s", resource, error)
        return result
    with transaction.atomic():
        # Locked first: serialises two comparisons of one resource (one baseline), and every
        # row lock in this transaction must come before the first audit event.
        resource = Resource.objects.select_for_update(no_key=True).get(pk=resource.pk)
        result.resource = resource
        if resource.baseline_taken_at is None:
            take_baseline(resource, present)
        result.unapproved, result.missing = compare(resource, present)
        open_drifts = record_drift(
            resource,
            unapproved=result.unapproved,
            missing=result.missing,
            checked=None,
            source=SOURCE_RECONCILIATION,
        )
        if resource.enforcement == Resource.Enforcement.ENFORCE:
            for drift in open_drifts:
                if drift.kind == Drift.Kind.UNAPPROVED and protected_reason(drift):
                    continue
                transaction.on_commit(functools.partial(correct_drift_by_id, drift.pk))
    return result


def compare(resource: Resource, present: set[str]) -> tuple[set[str], set[str]]:
    """Return (unapproved, missing) Okta user ids for the members listed in Okta."""
    expected = granted_user_ids(resource)
    in_flux = in_flux_user_ids(resource)
    return present - expected - in_flux, expected - present - in_flux


def take_baseline(resource: Resource, present: set[str]) -> list[Grant]:
    """Record the known users holding `resource` in Okta without a grant as pre-existing grants.

    Call inside a transaction with the resource row locked. Users unknown to the portal get no
    grant (there is no row to attach it to); they stay reported and enforcement skips them.
    Users added since the resource became managed get no grant either: they are drift.
    """
    users = get_user_model().objects.filter(okta_id__in=present - added_since_managed(resource))
    held = set(
        Grant.objects.filter(resource=resource, status__in=Grant.HELD).values_list(
            "user_id", flat=True
        )
    )
    grants = [
        Grant.objects.create(
            user=user, resource=resource, status=Grant.Status.ACTIVE, pre_existing=True
        )
        for user in users
        if user.pk not in held
    ]
    resource.baseline_taken_at = timezone.now()
    resource.save(update_fields=["baseline_taken_at", "updated_at"])
    for grant in grants:
        record(
            "grant.pre_existing",
            actor=None,
            target=grant,
            grant=grant,
            payload={"baseline": True, "note": BASELINE_NOTE},
        )
    if grants:
        logger.info("Baseline of %s: %d pre-existing members recorded", resource, len(grants))
    return grants


def added_since_managed(resource: Resource) -> set[str]:
    """Okta ids of users whose latest hook event added them after the resource became managed.

    The portal already managed the resource when that access appeared, so it is not
    pre-existing, even when the baseline is taken later.

    NOTE: a user added without an event that reached the portal cannot be distinguished from
    an earlier member, and Okta's `published` time is compared with the portal's clock.
    """
    if resource.managed_since is None:
        return set()
    return set(
        ObservedAccess.objects.filter(
            resource_okta_id=resource.okta_id,
            present=True,
            published__gte=resource.managed_since,
        ).values_list("user_okta_id", flat=True)
    )


def protected_reason(drift: Drift) -> str:
    """Why enforcement must not remove this access, or "" when it may."""
    resource = drift.resource
    if resource.kind == Resource.Kind.GROUP and resource.name == settings.PORTAL_ADMIN_GROUP:
        return (
            f"Members of {resource.name}, the portal's admin group, are never removed by "
            "enforcement: remove them in Okta if that is intended."
        )
    if drift.user is not None and drift.user.is_admin:
        return (
            "Portal admins are never removed by enforcement, so that no admin locks "
            "themselves or another admin out: remove the access in Okta if that is intended."
        )
    return ""


@dataclass
class EnforcementPreview:
    """The effect that switching a resource to enforce would have now (a dry run)."""

    resource: Resource
    error: str = ""
    baseline: list = field(default_factory=list)  # users who would become pre-existing grants
    removals: list = field(default_factory=list)  # (okta id, user or None)
    kept: list = field(default_factory=list)  # (okta id, user or None, reason)
    reapplies: list = field(default_factory=list)  # users whose granted access is missing


def preview_enforcement(resource: Resource, client=None) -> EnforcementPreview:
    """List what enforce would remove from and re-apply in Okta now, without changing anything."""
    if client is None:
        from portal.okta_api import get_client

        client = get_client()
    preview = EnforcementPreview(resource)
    try:
        present = okta_user_ids(client, resource)
    except OktaError as error:
        preview.error = str(error)
        return preview
    users = get_user_model().objects.in_bulk(
        list(present) + list(granted_user_ids(resource)), field_name="okta_id"
    )
    if resource.baseline_taken_at is None:
        held = set(
            Grant.objects.filter(resource=resource, status__in=Grant.HELD).values_list(
                "user__okta_id", flat=True
            )
        )
        late = added_since_managed(resource)
        preview.baseline = [
            users[user_id] for user_id in sorted(present - held - late) if user_id in users
        ]
        present = {
            user_id
            for user_id in present
            if user_id not in users or user_id in held or user_id in late
        }
    unapproved, missing = compare(resource, present)
    for user_id in sorted(unapproved):
        user = users.get(user_id)
        reason = protected_reason(Drift(resource=resource, user=user, user_okta_id=user_id))
        if user is None:
            reason = "Not known to the portal, so the portal cannot record or remove it."
        if reason:
            preview.kept.append((user_id, user, reason))
        else:
            preview.removals.append((user_id, user))
    preview.reapplies = [users[user_id] for user_id in sorted(missing) if user_id in users]
    return preview


def okta_user_ids(client, resource: Resource) -> set[str]:
    """Okta ids of the users who hold the resource in the way the portal grants it."""
    if resource.kind == Resource.Kind.GROUP:
        return set(client.list_group_member_ids(resource.okta_id))
    # The portal assigns apps directly (scope USER); access through a group is the group's.
    return {
        assignment.user_id
        for assignment in client.list_app_assignments(resource.okta_id)
        if assignment.scope == "USER"
    }


def granted_user_ids(resource: Resource) -> set[str]:
    return set(
        Grant.objects.filter(resource=resource, status=Grant.Status.ACTIVE).values_list(
            "user__okta_id", flat=True
        )
    )


def in_flux_user_ids(resource: Resource) -> set[str]:
    """Users whose grant on the resource is changing in Okta right now."""
    changing = Grant.objects.filter(resource=resource).filter(
        Q(status__in=(Grant.Status.PROVISIONING, Grant.Status.REVOKING))
        | Q(operations__status__in=OktaOperation.OPEN)
    )
    return set(changing.values_list("user__okta_id", flat=True))


def record_drift(
    resource: Resource,
    *,
    unapproved: set[str],
    missing: set[str],
    checked: set[str] | None,
    source: str,
) -> list[Drift]:
    """Open drift for what is new, resolve what is gone; return the open drifts found now.

    `checked` limits the comparison to those users (an event hook sees one user); None means
    every user of the resource was compared.
    """
    now = timezone.now()
    found = {(user_id, Drift.Kind.UNAPPROVED) for user_id in unapproved} | {
        (user_id, Drift.Kind.MISSING) for user_id in missing
    }
    open_drifts = Drift.objects.select_for_update(no_key=True).filter(
        resource=resource, resolution=Drift.Resolution.OPEN
    )
    if checked is not None:
        open_drifts = open_drifts.filter(user_okta_id__in=checked)
    current = []
    known = set()
    for drift in open_drifts:
        key = (drift.user_okta_id, drift.kind)
        if key in found:
            drift.last_seen_at = now
            drift.save(update_fields=["last_seen_at"])
            current.append(drift)
            known.add(key)
            continue
        drift.resolution = Drift.Resolution.GONE
        drift.resolved_at = now
        drift.save(update_fields=["resolution", "resolved_at"])

    users = get_user_model().objects.in_bulk(
        [user_id for user_id, _kind in found - known], field_name="okta_id"
    )
    for user_id, kind in sorted(found - known):
        drift = Drift(
            resource=resource,
            user_okta_id=user_id,
            user=users.get(user_id),
            kind=kind,
            source=source,
            found_at=now,
            last_seen_at=now,
        )
        if kind == Drift.Kind.UNAPPROVED:
            drift.note = protected_reason(drift)
        drift.save()
        record_event_for_drift("drift.found", drift, actor=None)
        current.append(drift)
    return current


def correct_drift_by_id(drift_id: int) -> bool:
    """Queue the correction of one open drift; return False when there is nothing to do."""
    with transaction.atomic():
        drift = (
            # Locks only this row: PostgreSQL cannot lock the nullable side of the outer join.
            Drift.objects.select_for_update(no_key=True, of=("self",))
            .select_related("resource", "user")
            .filter(pk=drift_id, resolution=Drift.Resolution.OPEN)
            .first()
        )
        if drift is None:
            return False
        return _correct(drift)


def _correct(drift: Drift) -> bool:
    resource = drift.resource
    if drift.user is None:
        logger.warning("Drift %s: user %s is unknown to the portal", drift.pk, drift.user_okta_id)
        return False
    held = (
        Grant.objects.select_for_update(no_key=True)
        .filter(user=drift.user, resource=resource, status__in=Grant.HELD)
        .first()
    )
    if drift.kind == Drift.Kind.UNAPPROVED:
        if held is not None:
            return False  # granted since it was found
        reason = protected_reason(drift)
        if reason:
            if drift.note != reason:
                drift.note = reason
                drift.save(update_fields=["note"])
            logger.warning("Drift %s left in Okta: %s", drift.pk, reason)
            return False
        grant = Grant.objects.create(user=drift.user, resource=resource, status=Grant.Status.ACTIVE)
        record(
            "grant.created",
            actor=None,
            target=grant,
            grant=grant,
            payload={"drift": drift.pk, "note": "Records access found in Okta without a grant."},
        )
        grant = Grant.objects.select_related("resource", "user").get(pk=grant.pk)
        revocation.begin_removal(grant, actor=None, reason=ENFORCE_REASON)
    else:
        if held is None or held.status != Grant.Status.ACTIVE:
            return False
        if held.operations.filter(status__in=OktaOperation.OPEN).exists():
            return False
        operation = OktaOperation.objects.create(
            grant=held, action=provisioning.GRANT_ACTIONS[resource.kind]
        )
        transaction.on_commit(functools.partial(provisioning.send_operation, operation.pk))
    drift.resolution = Drift.Resolution.CORRECTED
    drift.resolved_at = timezone.now()
    drift.save(update_fields=["resolution", "resolved_at"])
    record_event_for_drift("drift.corrected", drift, actor=None)
    return True


def record_event_for_drift(action: str, drift: Drift, *, actor) -> None:
    from audit.services import record_event

    record_event(
        action,
        actor=actor,
        target=drift,
        subject_user=drift.user,
        resource=drift.resource,
        payload={"kind": drift.kind, "user_okta_id": drift.user_okta_id, "source": drift.source},
    )


def close_deleted_resources() -> int:
    """Close requests and grants of resources deleted in Okta; return how many were closed."""
    closed = 0
    deleted = Resource.objects.exclude(deleted_in_okta_at=None)
    pending = AccessRequest.objects.filter(resource__in=deleted, status__in=AccessRequest.OPEN)
    for pk, name in pending.values_list("pk", "resource__name"):
        if offboarding.cancel_open_request(pk, f"{name} was deleted in Okta."):
            closed += 1
    grants = Grant.objects.filter(
        resource__in=deleted,
        status__in=(Grant.Status.PROVISIONING, Grant.Status.ACTIVE, Grant.Status.REVOKING),
    )
    for pk in grants.values_list("pk", flat=True):
        with transaction.atomic():
            grant = (
                # Locks only this row: PostgreSQL cannot lock the nullable side of the outer join.
                Grant.objects.select_for_update(no_key=True, of=("self",))
                .select_related("resource", "user", "request")
                .get(pk=pk)
            )
            if grant.status in Grant.TERMINAL:
                continue
            # Nothing is left in Okta to remove: the group or app itself is gone.
            now = timezone.now()
            grant.operations.filter(status=OktaOperation.Status.PENDING).update(
                status=OktaOperation.Status.FAILED,
                last_error="Cancelled: the resource was deleted in Okta.",
                completed_at=now,
                updated_at=now,
            )
            grant.status = Grant.Status.REVOKED
            grant.revoke_reason = f"{grant.resource.name} was deleted in Okta."
            grant.save(update_fields=["status", "revoke_reason", "updated_at"])
            record(
                "grant.revoked",
                actor=None,
                target=grant,
                grant=grant,
                payload={"reason": grant.revoke_reason},
            )
            closed += 1
    return closed


def set_enforcement(resource: Resource, mode: str, *, by, http_request=None) -> Resource:
    """Switch a resource between report-only and enforce; portal admins only.

    Switching to enforce queues a comparison of the resource after the commit.
    """
    from audit.services import record_event

    if not by.is_admin:
        from access_requests import errors

        raise errors.NotAllowed("Only portal admins can change how drift is handled.")
    with transaction.atomic():
        previous = resource.enforcement
        resource.enforcement = mode
        resource.save(update_fields=["enforcement", "updated_at"])
        record_event(
            "resource.updated",
            actor=by,
            target=resource,
            resource=resource,
            payload={"enforcement": {"from": previous, "to": mode}},
            http_request=http_request,
        )
        if mode == Resource.Enforcement.ENFORCE and previous != mode:
            # Enforce now, as the dry run the admin confirmed promised, not at the next
            # hourly comparison.
            transaction.on_commit(functools.partial(queue_comparison, resource.pk))
    return resource
