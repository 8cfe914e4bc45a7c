"""Views of the access request pages, one module per page group."""

from access_requests.views.catalog import catalog, resource_detail
from access_requests.views.inbox import bulk_approve, decide_step, inbox
from access_requests.views.requests import (
    cancel_request,
    my_requests,
    request_detail,
    request_status,
    retry_grant,
)

__all__ = [
    "bulk_approve",
    "cancel_request",
    "catalog",
    "decide_step",
    "inbox",
    "my_requests",
    "request_detail",
    "request_status",
    "resource_detail",
    "retry_grant",
]
