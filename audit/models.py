"""The append-only, hash-chained audit trail.

Events are written only by `audit.services.record_event`. The ORM refuses to change or delete
them, and on PostgreSQL a trigger (migration 0002) refuses UPDATE and DELETE from any client.
`hashing.py` documents the exact bytes each `hash` covers.
"""

from django.conf import settings
from django.db import models

from audit.hashing import HASHED_FIELDS, compute_hash


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only: they cannot be deleted.")

    def bulk_create(self, *args, **kwargs):
        raise AppendOnlyError(
            "Audit events are written one at a time by audit.services.record_event, which "
            "assigns the sequence number and the hash chain."
        )

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only: they cannot be updated.")


class AuditEvent(models.Model):
    # The position in the chain: 1, 2, 3… without gaps. It is also the key for keyset paging.
    sequence = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    # PROTECT: deleting a user who appears in the trail would have to rewrite events. Users
    # leave by status (DEPROVISIONED), not by deletion.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events_as_actor",
    )
    # Who acted, as shown at the time ("system" when the actor is null).
    actor_label = models.CharField(max_length=255)
    action = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16)
    # The changed object as `app_label.ModelName` and its primary key.
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events_as_subject",
    )
    # The resource by its Okta id and name, not a foreign key: the event must outlive the
    # catalog row and must not depend on the access_requests app's tables.
    resource_okta_id = models.CharField(max_length=64, blank=True)
    resource_name = models.CharField(max_length=255, blank=True)
    access_request_id = models.BigIntegerField(null=True, blank=True)
    grant_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # X-Okta-Request-Id of the Okta call behind the event, to match Okta's System Log.
    okta_request_id = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        # Every filter of the review list pairs with `sequence` so that keyset paging
        # ("sequence < last seen, newest first") walks an index instead of sorting.
        indexes = [
            models.Index(fields=["actor", "sequence"], name="audit_actor_seq"),
            models.Index(fields=["subject_user", "sequence"], name="audit_subject_seq"),
            models.Index(fields=["resource_okta_id", "sequence"], name="audit_resource_seq"),
            models.Index(fields=["action", "sequence"], name="audit_action_seq"),
            models.Index(fields=["outcome", "sequence"], name="audit_outcome_seq"),
            models.Index(fields=["access_request_id", "sequence"], name="audit_request_seq"),
            models.Index(fields=["grant_id", "sequence"], name="audit_grant_seq"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(
                f"Audit event {self.sequence} cannot be changed: the trail is append-only."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(
            f"Audit event {self.sequence} cannot be deleted: the trail is append-only."
        )

    def hashed_fields(self) -> dict:
        return {name: getattr(self, name) for name in HASHED_FIELDS}

    def compute_hash(self) -> str:
        """Return the hash of the event's current content, as hashing.py defines it."""
        return compute_hash(self.hashed_fields())


class AuditChainHead(models.Model):
    """The sequence number and hash of the newest event, written with every event.

    A hash chain alone cannot show that its newest events were deleted; comparing the chain's
    end with this row can. Someone who can rewrite this row as well can still truncate the
    chain unnoticed, which is why each verification's head hash is kept too: compare it with a
    copy held outside the database.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"head at event {self.sequence}"


class AuditVerification(models.Model):
    """The result of one run of `manage.py verify_audit`."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    events_checked = models.BigIntegerField()
    # The last event whose link was checked, and its hash.
    head_sequence = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True)
    # The first event that does not match; null when the chain is intact.
    first_bad_sequence = models.BigIntegerField(null=True, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return self.message
