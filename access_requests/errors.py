"""Errors the access-request services raise when they reject a move.

Every message is written for the person who tried the move and can be shown to them as is.
"""


class AccessRequestError(Exception):
    """A rejected move; ``str(error)`` is the user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotRequestable(AccessRequestError):
    """The resource cannot be requested (type, admin setting, or deleted in Okta)."""


class AccessAlreadyHeld(AccessRequestError):
    """The requester already has, or is being given, the access."""


class InvalidDuration(AccessRequestError):
    """The end date is in the past, over the resource's maximum, or missing where required."""


class JustificationRequired(AccessRequestError):
    pass


class RequesterNotActive(AccessRequestError):
    """The requester's Okta account is not ACTIVE."""


class NotAllowed(AccessRequestError):
    """The user may not make this move (not an approver, own request, not an admin)."""


class AlreadyDecided(AccessRequestError):
    """The request or step is no longer waiting for this decision."""


class CommentRequired(AccessRequestError):
    """A denial needs a comment that tells the requester why."""


class NotCancellable(AccessRequestError):
    pass


class NotRetryable(AccessRequestError):
    """Only failed grants can be retried."""


class NotRevocable(AccessRequestError):
    """The grant holds no access to remove (already ended, failed or being removed)."""


class ReasonRequired(AccessRequestError):
    """Revoking someone's access needs a reason they can read."""


class NotExtendable(AccessRequestError):
    """The grant cannot be extended or renewed (not active, no end, or already asked)."""
