"""Requestable Okta resources, access requests, approval steps, grants and the Okta outbox.

State changes live in access_requests.services; the models only describe states and the
questions that can be answered from one row.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Resource(models.Model):
    """An Okta group or app, copied from Okta by the catalog sync and configured by admins."""

    class Kind(models.TextChoices):
        GROUP = "group", "Group"
        APP = "app", "App"

    class GroupType(models.TextChoices):
        OKTA_GROUP = "OKTA_GROUP", "Okta group"
        APP_GROUP = "APP_GROUP", "App group"
        BUILT_IN = "BUILT_IN", "Built-in group"

        @classmethod
        def not_writable(cls) -> tuple[str, ...]:
            # Okta manages the membership of these groups itself (imports or built-in rules),
            # so the Management API refuses member changes.
            return (cls.APP_GROUP, cls.BUILT_IN)

    class ApprovalPolicy(models.TextChoices):
        MANAGER = "manager", "Manager"
        OWNERS = "owners", "Owners"
        MANAGER_THEN_OWNERS = "manager_then_owners", "Manager, then owners"
        AUTOMATIC = "automatic", "Automatic (no approval)"

    class Enforcement(models.TextChoices):
        REPORT_ONLY = "report_only", "Report drift only"
        ENFORCE = "enforce", "Enforce (correct drift)"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    okta_id = models.CharField("Okta id", max_length=64, unique=True)
    name = models.CharField(max_length=255)
    okta_description = models.TextField(blank=True)
    description = models.TextField(
        blank=True, help_text="Shown in the catalog instead of Okta's description when set."
    )
    group_type = models.CharField(
        max_length=16, choices=GroupType.choices, blank=True, help_text="Blank for apps."
    )
    sign_on_mode = models.CharField(max_length=64, blank=True, help_text="Apps only.")
    okta_status = models.CharField(max_length=32, blank=True)
    requestable = models.BooleanField(default=False)
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="owned_resources"
    )
    approval_policy = models.CharField(
        max_length=24, choices=ApprovalPolicy.choices, default=ApprovalPolicy.MANAGER
    )
    max_duration_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Longest access a grant may have, in days. When empty or longer than "
        "PORTAL_MAX_GRANT_DAYS, that setting applies instead.",
    )
    allow_no_end = models.BooleanField(
        default=False, help_text="Whether a request may ask for access with no end date."
    )
    justification_required = models.BooleanField(default=True)
    enforcement = models.CharField(
        max_length=16, choices=Enforcement.choices, default=Enforcement.REPORT_ONLY
    )
    deleted_in_okta_at = models.DateTimeField(
        null=True, blank=True, help_text="When the catalog sync no longer found it in Okta."
    )
    # Who held the resource in Okta when the portal started managing it became pre-existing
    # grants at this time; only access that appears later without a grant is drift.
    baseline_taken_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the Okta members were recorded as pre-existing access; empty = not yet.",
    )
    # Okta additions published after this time are drift, not pre-existing access, even when
    # the baseline is taken later (see reconciliation.added_since_managed).
    managed_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the resource was first saved as requestable; empty = never.",
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "okta_id"]
        indexes = [models.Index(fields=["requestable", "name"])]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.requestable and self.managed_since is None:
            self.managed_since = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "managed_since"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.requestable and not self.writable_in_okta:
            raise ValidationError(
                {
                    "requestable": f"{self.name} cannot be made requestable: {self.not_requestable_reason}"
                }
            )

    @property
    def writable_in_okta(self) -> bool:
        """Whether Okta accepts membership or assignment changes for this resource."""
        return self.kind == self.Kind.APP or self.group_type not in self.GroupType.not_writable()

    @property
    def not_requestable_reason(self) -> str | None:
        """Why nobody can request this resource, or None when it can be requested."""
        if self.deleted_in_okta_at is not None:
            return "This resource no longer exists in Okta."
        if self.group_type == self.GroupType.APP_GROUP:
            return (
                "This group's members are imported into Okta from another directory or app, "
                "so the portal cannot change them."
            )
        if self.group_type == self.GroupType.BUILT_IN:
            return "This is a built-in Okta group whose members Okta manages itself."
        if self.kind == self.Kind.APP and self.okta_status == "INACTIVE":
            return "This app is inactive in Okta."
        if not self.requestable:
            return "Requests for this resource are not enabled by an admin."
        return None

    @property
    def display_description(self) -> str:
        return self.description or self.okta_description


class AccessRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    OPEN = (Status.PENDING,)
    TERMINAL = (Status.APPROVED, Status.DENIED, Status.CANCELLED, Status.EXPIRED)

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests"
    )
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="requests")
    justification = models.TextField(blank=True)
    requested_ends_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "The end date asked for. For a preset duration it stays empty until the last step "
            "approves, which sets it. Empty with no duration = no end."
        ),
    )
    requested_duration = models.DurationField(
        null=True,
        blank=True,
        help_text="A preset duration (such as 7 days), counted from the approval. Empty otherwise.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # A default instead of auto_now_add so that expiry can be tested with old requests.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)
    extends_grant = models.ForeignKey(
        "Grant", null=True, blank=True, on_delete=models.SET_NULL, related_name="extensions"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Makes a double submit (two tabs, two clicks, two web processes) end in one row.
            models.UniqueConstraint(
                fields=["requester", "resource"],
                condition=Q(status="pending"),
                name="one_pending_request_per_requester_and_resource",
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Request #{self.pk} by {self.requester} for {self.resource}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def end_if_approved_at(self, when: datetime.datetime) -> datetime.datetime | None:
        """Return the end that approving the request at `when` gives its grant; None for no end."""
        if self.requested_ends_at is None and self.requested_duration is not None:
            return when + self.requested_duration
        return self.requested_ends_at

    @property
    def end_if_approved_now(self) -> datetime.datetime | None:
        return self.end_if_approved_at(timezone.now())

    def extension_is_overtaken(self, current_end: datetime.datetime | None) -> bool:
        """Return whether approving this extension would not move the grant's end later.

        `current_end` is the extended grant's end. True when the grant has no end, or already ends at or after the end asked for (say after
        an owner renewed it), because approving the extension would then shorten the access.
        An extension that requests no end is never overtaken by a grant that has one.
        """
        if current_end is None:
            return True
        return self.requested_ends_at is not None and self.requested_ends_at <= current_end

    @property
    def is_overtaken_extension(self) -> bool:
        """Whether this extends an active grant whose end already reaches the requested end."""
        grant = self.extends_grant
        if grant is None or grant.status != Grant.Status.ACTIVE:
            return False
        return self.extension_is_overtaken(grant.ends_at)

    @property
    def requested_end_has_passed(self) -> bool:
        """Whether the request names an end that is already past, so it can no longer be approved."""
        if self.requested_duration is not None or self.requested_ends_at is None:
            return False
        return self.requested_ends_at <= timezone.now()


class ApprovalStep(models.Model):
    class Kind(models.TextChoices):
        MANAGER = "manager", "Manager"
        OWNER = "owner", "Resource owner"
        ADMIN = "admin", "Portal admin"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        WAITING = "waiting", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.QUEUED, Status.WAITING)
    TERMINAL = (Status.APPROVED, Status.DENIED, Status.SKIPPED, Status.CANCELLED)

    request = models.ForeignKey(AccessRequest, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="approval_steps", help_text="Who may decide."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decided_steps",
    )
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="one_step_per_position")
        ]
        indexes = [models.Index(fields=["status", "request"])]

    def __str__(self) -> str:
        return f"Step {self.position} ({self.get_kind_display()}) of request #{self.request_id}"


class Grant(models.Model):
    """Access a user holds (or is being given) through the portal."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Being applied in Okta"
        ACTIVE = "active", "Active"
        REVOKING = "revoking", "Being removed in Okta"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"

    # The user has, or is about to have, the access: a new request for it is refused.
    HELD = (Status.PROVISIONING, Status.ACTIVE)
    TERMINAL = (Status.REVOKED, Status.EXPIRED, Status.FAILED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="grants"
    )
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="grants")
    request = models.OneToOneField(
        AccessRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="grant"
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty = no end.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    # The user already had the access in Okta before the portal applied it.
    pre_existing = models.BooleanField(default=False)
    failure_reason = models.TextField(blank=True)
    revoke_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "resource"],
                condition=Q(status__in=["provisioning", "active"]),
                name="one_held_grant_per_user_and_resource",
            )
        ]
        indexes = [models.Index(fields=["status", "ends_at"])]

    def __str__(self) -> str:
        return f"Grant #{self.pk}: {self.user} on {self.resource}"

    @property
    def is_held(self) -> bool:
        return self.status in self.HELD

    @property
    def status_text(self) -> str:
        """The status as it reads inside a sentence, such as "being removed in Okta"."""
        label = self.get_status_display()
        return label[:1].lower() + label[1:]


class OktaOperation(models.Model):
    """One change to make in Okta: the outbox row written with the decision that needs it.

    A worker claims a row with a conditional UPDATE (pending and due -> in_flight), so two
    workers never run the same row at once; a beat sweep re-sends rows whose message was lost.
    """

    class Action(models.TextChoices):
        ADD_MEMBER = "add_member", "Add group member"
        REMOVE_MEMBER = "remove_member", "Remove group member"
        ASSIGN_APP = "assign_app", "Assign app"
        UNASSIGN_APP = "unassign_app", "Unassign app"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.IN_FLIGHT)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED)

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="operations")
    action = models.CharField(max_length=16, choices=Action.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Claims so far, including one whose worker died before recording the outcome.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    okta_request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"Operation #{self.pk}: {self.get_action_display()} for grant #{self.grant_id}"


class Drift(models.Model):
    """A difference between Okta and the portal's grants, found by reconciliation or a hook."""

    class Kind(models.TextChoices):
        UNAPPROVED = "unapproved", "In Okta without a grant"
        MISSING = "missing", "Granted but missing in Okta"

    class Resolution(models.TextChoices):
        OPEN = "open", "Open"
        GONE = "gone", "No longer found"
        CORRECTED = "corrected", "Corrected by the portal"

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="drifts")
    # The Okta id is kept as well: access found in Okta may belong to a user the portal has
    # never seen, who then has no user row.
    user_okta_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="drifts",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, default=Resolution.OPEN
    )
    source = models.CharField(max_length=32, help_text="reconciliation or event hook")
    found_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Why enforcement leaves this drift alone (the portal's admin group, a portal admin).
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-found_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "user_okta_id", "kind"],
                condition=Q(resolution="open"),
                name="one_open_drift_per_user_resource_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.user_okta_id} on {self.resource}"


class HookEvent(models.Model):
    """A System Log event received through an Okta event hook, stored before it is applied."""

    uuid = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=128)
    published = models.DateTimeField(db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    # What applying it did: "applied", "superseded" (a newer event for the same user and
    # resource came first), or "ignored" with the reason.
    outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["published", "pk"]
        indexes = [models.Index(fields=["applied_at", "published"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.uuid}"


class ObservedAccess(models.Model):
    """The latest membership or assignment state that an Okta event reported for a user.

    Events arrive out of order; the `published` time of the event applied last decides
    whether a later-delivered event is newer (applied) or older (ignored).
    """

    user_okta_id = models.CharField(max_length=64)
    resource_okta_id = models.CharField(max_length=64)
    present = models.BooleanField()
    published = models.DateTimeField()
    event_uuid = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_okta_id", "resource_okta_id"], name="one_observation_per_pair"
            )
        ]

    def __str__(self) -> str:
        state = "present" if self.present else "absent"
        return f"{self.user_okta_id} {state} in {self.resource_okta_id}"


class ExpiryReminder(models.Model):
    """An end-of-access reminder sent for a grant; one per grant and threshold."""

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "days_before"], name="one_reminder_per_grant_and_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.days_before}-day reminder for grant #{self.grant_id}"


class AppGroupAssignment(models.Model):
    """An Okta group assigned to an Okta app: every member of the group has the app.

    Copied from Okta by the catalog sync, which replaces an app's rows on every run.
    """

    app = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="group_assignments")
    group = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="app_assignments")
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["app_id", "group_id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "group"], name="one_assignment_per_app_group")
        ]

    def __str__(self) -> str:
        return f"{self.group} assigned to {self.app}"


class GroupMembership(models.Model):
    """A user's membership of a group that is assigned to an app, as of the last catalog sync
    and the event hook's membership events since.

    Only groups assigned to an app are listed, and only users with a portal account get a row.
    """

    group = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships"
    )
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="one_membership_per_group_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"
