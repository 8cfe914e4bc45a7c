"""Middleware for signed-in pages: sign-in required, htmx-aware renewal, security headers."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from mozilla_django_oidc.middleware import SessionRefresh

from accounts.views import remember_next_for_state, safe_next_url, sign_in_url

logger = logging.getLogger(__name__)


def is_htmx(request: HttpRequest) -> bool:
    # Read the header itself, so this works wherever django-htmx's middleware sits.
    return request.headers.get("HX-Request") == "true"


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def current_page(request: HttpRequest) -> str:
    """Return the path of the page an htmx request came from, or "/" if it is not ours.

    htmx sends the page's URL in HX-Current-URL; the request's own path is a fragment's.
    """
    url = request.headers.get("HX-Current-URL", "")
    if not safe_next_url(request, url):
        return "/"
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, returning 401 to htmx and API requests.

    A redirect to Okta would be followed by htmx as an XHR and swapped into the page; the
    HX-Redirect header instead sends the whole tab to sign-in, back to the same page.
    """

    def handle_no_permission(self, request: HttpRequest, view_func) -> HttpResponse:
        if is_htmx(request):
            response = HttpResponse("Sign-in required.", status=401, content_type="text/plain")
            response["HX-Redirect"] = sign_in_url(current_page(request))
            return response
        if wants_json(request):
            return JsonResponse({"error": "Sign-in required."}, status=401)
        return super().handle_no_permission(request, view_func)


class HtmxSessionRefresh(SessionRefresh):
    """Renew the Okta sign-in when it is due, keeping the user on the page they were on.

    A full-page GET goes through the library's silent renewal (prompt=none). An htmx request
    cannot follow that cross-origin redirect, so it gets HX-Redirect to its page, and that
    full-page load does the renewal and comes back.
    """

    def is_refreshable_url(self, request: HttpRequest) -> bool:
        # Only sessions made by the OIDC callback carry a renewal time. Others (force_login
        # in tests) have no Okta sign-in to renew.
        return "oidc_id_token_expiration" in request.session and super().is_refreshable_url(request)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not self.is_refreshable_url(request):
            return None
        if request.session.get("oidc_id_token_expiration", 0) > time.time():
            return None
        if is_htmx(request):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = current_page(request)
            return response
        response = super().process_request(request)
        if response is not None and response.status_code == 302:
            remember_next_for_state(request, response, request.get_full_path())
        return response


class SecurityHeadersMiddleware:
    """Add Content-Security-Policy everywhere and Cache-Control: no-store to signed-in pages.

    no-store keeps signed-in pages out of the browser's history cache, so Back after sign-out
    shows nothing. Django's SecurityMiddleware already sets Referrer-Policy, nosniff and
    Cross-Origin-Opener-Policy, and XFrameOptionsMiddleware sets X-Frame-Options.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Built per response (a few string joins) so it follows OKTA_ORG_URL when tests
        # change it after the server started.
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


def content_security_policy() -> str:
    """Return the portal's CSP: only its own scripts and styles, no framing.

    form-action allows the Okta org because the sign-out form's response redirects there, and
    browsers apply form-action to the redirects that follow a form submission.
    """
    okta_origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.OKTA_ORG_URL))
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        # Pico CSS draws its icons as data: SVG images.
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "form-action": f"'self' {okta_origin}",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())
