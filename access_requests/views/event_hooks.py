"""The Okta event hook endpoint: outside sign-in and CSRF, authenticated by a shared secret.

Okta sends the secret in a header the admin configured on the hook (PORTAL_EVENT_HOOK_HEADER,
by default Authorization); Okta does not sign deliveries. The endpoint stores the events and
responds at once; a worker applies them (see access_requests.event_hooks).
"""

import hmac
import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from access_requests import event_hooks

logger = logging.getLogger(__name__)


def _authenticated(request: HttpRequest) -> bool:
    secret = settings.PORTAL_EVENT_HOOK_SECRET
    if not secret:
        logger.error("An event hook delivery arrived, but PORTAL_EVENT_HOOK_SECRET is not set")
        return False
    provided = request.headers.get(settings.PORTAL_EVENT_HOOK_HEADER, "")
    return hmac.compare_digest(provided.encode(), secret.encode())


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def okta_event_hook(request: HttpRequest) -> HttpResponse:
    if not _authenticated(request):
        return _error(
            401, f"Missing or wrong {settings.PORTAL_EVENT_HOOK_HEADER} header for the event hook."
        )
    if request.method == "GET":
        challenge = request.headers.get("X-Okta-Verification-Challenge")
        if not challenge:
            return _error(400, "A verification GET needs the X-Okta-Verification-Challenge header.")
        return JsonResponse({"verification": challenge})

    try:
        raw_body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        logger.warning("Rejected an event hook delivery larger than %s bytes", limit)
        return _error(
            413,
            f"The body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE). "
            "Send the events in smaller deliveries.",
        )
    try:
        body = json.loads(raw_body)
    except ValueError:
        return _error(400, "The body is not valid JSON.")
    try:
        events = event_hooks.parse_delivery(body)
    except event_hooks.InvalidDelivery as error:
        # A 4xx: Okta does not retry it, which is right for a body that will never parse.
        logger.warning("Rejected an event hook delivery: %s", error)
        return _error(400, str(error))
    stored = event_hooks.store_delivery(events, http_request=request)
    return JsonResponse({"received": len(events), "new": stored})
