"""State changes of access requests: every function is one transaction and raises an
AccessRequestError subclass, with a message for the user, when it rejects the move."""

from access_requests.services.approvals import (
    BulkResult,
    bulk_approve,
    closed_request_message,
    decide_step,
)
from access_requests.services.catalog import sync_catalog
from access_requests.services.provisioning import retry_grant, run_operation, sweep_operations
from access_requests.services.requests import (
    DURATION_PRESETS,
    cancel_request,
    end_of_day,
    expire_pending_requests,
    max_duration_days,
    requester_time_zone,
    submit_request,
)

__all__ = [
    "DURATION_PRESETS",
    "BulkResult",
    "bulk_approve",
    "cancel_request",
    "closed_request_message",
    "decide_step",
    "end_of_day",
    "expire_pending_requests",
    "max_duration_days",
    "requester_time_zone",
    "retry_grant",
    "run_operation",
    "submit_request",
    "sweep_operations",
    "sync_catalog",
]
