"""The progress of a request as the requester follows it, from waiting for approval to applied in
Okta (or denied, cancelled, expired, failed). The status pages poll while it can still change."""

from dataclasses import dataclass

from access_requests.models import AccessRequest, Grant
from access_requests.services.requests import requester_time_zone
from access_requests.templatetags.local_time import format_in_zone


@dataclass(frozen=True)
class Progress:
    code: str
    label: str
    # Whether the status can still change without the requester doing anything, so the page
    # keeps polling.
    moving: bool

    @property
    def css_class(self) -> str:
        return f"progress-{self.code}"


WAITING = Progress("waiting", "Waiting for approval", moving=True)
# Still pending, because only a denial, a cancel or the request sweep closes it, but no approver
# can approve it any more.
END_PASSED = Progress(
    "end-passed",
    "Cannot be approved: its end date has passed. Cancel it and ask again with a later end date.",
    moving=True,
)
APPLYING = Progress("applying", "Approved, being applied in Okta", moving=True)
APPLIED = Progress("applied", "Applied in Okta", moving=False)
FAILED = Progress("failed", "Failed in Okta", moving=False)
REMOVING = Progress("removing", "Being removed in Okta", moving=True)
ENDED = Progress("ended", "Access ended", moving=False)
DENIED = Progress("denied", "Denied", moving=False)
CANCELLED = Progress("cancelled", "Cancelled", moving=False)
EXPIRED = Progress("expired", "Expired before a decision", moving=False)

_BY_GRANT_STATUS = {
    Grant.Status.PROVISIONING: APPLYING,
    Grant.Status.ACTIVE: APPLIED,
    Grant.Status.FAILED: FAILED,
    Grant.Status.REVOKING: REMOVING,
    Grant.Status.REVOKED: ENDED,
    Grant.Status.EXPIRED: ENDED,
}

_BY_REQUEST_STATUS = {
    AccessRequest.Status.PENDING: WAITING,
    AccessRequest.Status.DENIED: DENIED,
    AccessRequest.Status.CANCELLED: CANCELLED,
    AccessRequest.Status.EXPIRED: EXPIRED,
    # Approved with no grant row yet cannot be observed from outside the deciding
    # transaction, but reads as "being applied" if it ever is.
    AccessRequest.Status.APPROVED: APPLYING,
}


def request_grant(access_request: AccessRequest) -> Grant | None:
    """Return the request's grant without a query when it was fetched with select_related."""
    try:
        return access_request.grant
    except Grant.DoesNotExist:
        return None


def extension_progress(access_request: AccessRequest) -> Progress:
    """Return the progress of an approved extension, which is final.

    An extension has no grant of its own. Its approval moved the end of the extended grant in
    the same transaction, so nothing is left to poll for.
    """
    extended = access_request.extends_grant
    if extended is None or not extended.is_held:
        return Progress("extended", "Extension applied; the access has since ended", moving=False)
    end = extended.ends_at
    # The requester's zone, named in the text, because the progress is built without a viewer.
    zone_name = requester_time_zone(access_request.requester)
    until = f"until {format_in_zone(end, zone_name)}" if end else "with no end date"
    return Progress("extended", f"Extension applied: access {until}", moving=False)


def progress_of(access_request: AccessRequest) -> Progress:
    """Return the request's progress. Once the request is approved, its grant's status decides."""
    if (
        access_request.status == AccessRequest.Status.APPROVED
        and access_request.extends_grant_id is not None
    ):
        return extension_progress(access_request)
    if access_request.status == AccessRequest.Status.PENDING and (
        access_request.requested_end_has_passed
    ):
        return END_PASSED
    grant = request_grant(access_request)
    if access_request.status == AccessRequest.Status.APPROVED and grant is not None:
        return _BY_GRANT_STATUS[grant.status]
    return _BY_REQUEST_STATUS[access_request.status]
