"""The action codes an AuditEvent may carry.

Codes are `<area>.<what happened>`, lower case. `record_event` rejects a code that is not listed
here, so every new code gets its one-line meaning below before it can be written.
"""

ACTIONS: dict[str, str] = {
    # Sign-in (accounts)
    "auth.signed_in": "A user signed in through Okta.",
    "auth.signed_out": "A user signed out.",
    "auth.sign_in_failed": "A sign-in attempt failed; the payload says why.",
    # Users
    "user.synced": "A user's profile was copied from Okta.",
    "user.status_changed": "A user's Okta status changed (for example ACTIVE to SUSPENDED).",
    "user.role_changed": "A user gained or lost portal admin rights.",
    # Catalog
    "catalog.synced": "The catalog of Okta groups and apps was synchronised.",
    "resource.updated": "An admin changed a resource's settings. The payload has each changed field's old and new value, and the owners added and removed.",
    # Requests
    "request.submitted": "A user asked for access.",
    "request.cancelled": "A pending request was cancelled: by the requester, or because they left, the resource was deleted in Okta, an admin made it not requestable, or no approver was left.",
    "request.expired": "A pending request expired without a decision.",
    "request.approved": "Every approval step approved the request.",
    "request.denied": "An approval step denied the request.",
    # Approval steps
    "step.waiting": "An approval step started waiting for its approvers.",
    "step.approved": "An approver approved a step.",
    "step.denied": "An approver denied a step.",
    "step.skipped": "A step was skipped (for example the requester is the only approver).",
    "step.reassigned": "A step's approvers were changed, because an approver left or the resource's owners changed.",
    # Grants
    "grant.created": "A grant was created after approval and waits for provisioning.",
    "grant.applied": "Okta confirmed the membership or assignment; the grant is active.",
    "grant.failed": "Provisioning failed permanently.",
    "grant.retried": "An admin retried a failed grant.",
    "grant.pre_existing": "The user already had the access in Okta before the portal granted it.",
    "grant.revoking": "The grant's removal from Okta was scheduled.",
    "grant.revoked": "The grant was removed from Okta before its end.",
    "grant.expired": "The grant reached its end and was removed from Okta.",
    "grant.revocation_failed": "Removing the grant from Okta failed permanently.",
    "grant.extended": "The grant's end moved later: an approved extension or an owner's renewal.",
    "grant.access_continues": "After its removal the user still has the app through a group.",
    # Okta operations (the outbox)
    "operation.claimed": "A worker claimed an Okta operation.",
    "operation.succeeded": "An Okta operation succeeded.",
    "operation.retry_scheduled": "An Okta operation failed transiently and will be retried.",
    "operation.failed": "An Okta operation failed permanently.",
    # Okta event hooks and drift
    "hook.received": "Okta delivered an event hook.",
    "drift.found": "Okta's state differs from what the portal granted.",
    "drift.corrected": "A drift finding was corrected in Okta.",
}

OUTCOMES = ("success", "failure")


def area_of(action: str) -> str:
    """Return the part of an action code before the dot (`grant` for `grant.revoked`)."""
    return action.partition(".")[0]
