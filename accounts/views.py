"""Sign-in, sign-out and the signed-in user's own pages."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from accounts.landing import landing_sections
from accounts.oidc import SignInFailed
from audit.services import record_event

logger = logging.getLogger(__name__)

# Errors Okta returns to a prompt=none renewal when the user must sign in interactively.
INTERACTION_REQUIRED_ERRORS = {"login_required", "interaction_required", "consent_required"}


def safe_next_url(request: HttpRequest, url: str | None) -> str | None:
    """Return `url` if it points into the portal (same host), else None."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def sign_in_url(next_url: str | None = None) -> str:
    url = reverse("oidc_authentication_init")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@method_decorator([login_not_required, never_cache], name="dispatch")
class SignInStartView(OIDCAuthenticationRequestView):
    """Redirect to Okta's authorize endpoint, keeping `next` with this tab's state."""

    def get(self, request: HttpRequest) -> HttpResponse:
        response = super().get(request)
        remember_next_for_state(request, response, request.session.get("oidc_login_next"))
        return response


def remember_next_for_state(
    request: HttpRequest, response: HttpResponse, next_url: str | None
) -> None:
    """Store `next` inside the state entry of the authorize redirect in `response`.

    The library keeps one `oidc_login_next` per session, so two tabs signing in at once would
    both land on the page the last one asked for.
    """
    query = parse_qs(urlsplit(response["Location"]).query)
    state = (query.get("state") or [""])[0]
    states = request.session.get("oidc_states") or {}
    if state in states:
        states[state]["next"] = next_url
        request.session.modified = True


@method_decorator([login_not_required, never_cache], name="dispatch")
class SignInCallbackView(OIDCAuthenticationCallbackView):
    """Complete the sign-in; every failure renders the failure page, never a 400 or 500."""

    def get(self, request: HttpRequest) -> HttpResponse:
        self.next_url = None
        try:
            return self.complete_sign_in(request)
        except SignInFailed as failure:
            return self.sign_in_failed(failure)

    def complete_sign_in(self, request: HttpRequest) -> HttpResponse:
        state = request.GET.get("state", "")
        entry = self.pop_state(request, state)
        error = request.GET.get("error")
        if error:
            return self.okta_error(request, error, entry)
        if entry is None:
            raise SignInFailed(
                "unknown_state",
                "the callback's state is not one this browser session started, or was already "
                "used (a replayed or forged callback)",
            )
        if not request.GET.get("code"):
            raise SignInFailed("missing_code", "the callback has neither a code nor an error")
        self.next_url = safe_next_url(request, entry.get("next"))

        user = auth.authenticate(
            request=request, nonce=entry.get("nonce"), code_verifier=entry.get("code_verifier")
        )
        if user is None:
            raise SignInFailed("not_authenticated", "no authentication backend accepted the code")
        if not user.is_active:
            raise SignInFailed("user_not_active", f"user {user.okta_id} is not active", user=user)
        self.user = user
        # A renewal (silent or not) of this browser's sign-in keeps the session as it is.
        renewal = request.user.is_authenticated and request.user.pk == user.pk
        with transaction.atomic():
            response = self.login_success()
            record_event(
                "auth.signed_in",
                actor=user,
                target=user,
                subject_user=user,
                payload={"login": user.login, "renewal": renewal},
                http_request=request,
            )
        logger.info("User %s signed in%s", user.okta_id, " (renewal)" if renewal else "")
        return response

    def pop_state(self, request: HttpRequest, state: str) -> dict | None:
        """Remove and return this tab's state entry, so that a replayed callback fails."""
        states = request.session.get("oidc_states")
        if not state or not isinstance(states, dict) or state not in states:
            return None
        entry = states.pop(state)
        request.session.save()
        # Reload, as the library does: the token calls are slow and another tab may change
        # the session meanwhile.
        request.session = request.session.__class__(request.session.session_key)
        return entry

    def okta_error(self, request: HttpRequest, error: str, entry: dict | None) -> HttpResponse:
        if entry is not None and error in INTERACTION_REQUIRED_ERRORS:
            # A silent renewal (prompt=none) found no Okta session: sign in interactively and
            # come back to the same page.
            next_url = safe_next_url(request, entry.get("next"))
            return HttpResponseRedirect(sign_in_url(next_url))
        description = request.GET.get("error_description", "")[:300]
        raise SignInFailed(
            f"okta_error:{error[:50]}", f"Okta returned error={error}: {description}"
        )

    @property
    def success_url(self) -> str:
        return self.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)

    def sign_in_failed(self, failure: SignInFailed) -> HttpResponse:
        request = self.request
        logger.warning("Sign-in failed (%s): %s", failure.reason, failure)
        if auth.SESSION_KEY in request.session:
            # Whoever the session belonged to, this browser just failed to prove it.
            auth.logout(request)
        with transaction.atomic():
            record_event(
                "auth.sign_in_failed",
                actor=failure.user,
                target=failure.user,
                subject_user=failure.user,
                payload={"reason": failure.reason, "detail": str(failure)},
                outcome="failure",
                http_request=request,
            )
        context = {
            "reason": failure.reason,
            "user_not_active": failure.reason == "user_not_active",
            "try_again_url": sign_in_url(self.next_url),
        }
        response = render(request, "accounts/sign_in_failed.html", context, status=403)
        # Django would log this 403 with the full callback URL, whose query contains the
        # authorization code; the warning above already records the failure without it.
        response._has_been_logged = True
        return response


@method_decorator([login_not_required, never_cache], name="dispatch")
class SignOutView(OIDCLogoutView):
    """End the Django session and send the browser to Okta's logout endpoint (POST only)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            with transaction.atomic():
                record_event(
                    "auth.signed_out",
                    actor=user,
                    target=user,
                    subject_user=user,
                    http_request=request,
                )
            logger.info("User %s signed out", user.okta_id)
        return super().post(request)


@login_not_required
@never_cache
@require_safe
def admin_login(request: HttpRequest) -> HttpResponse:
    """Replace the admin site's password form: admins sign in through Okta like everyone.

    A signed-in user who is not an admin gets a 403 page instead of a redirect, which would
    loop back here through Okta.
    """
    next_url = safe_next_url(request, request.GET.get("next")) or reverse("admin:index")
    if request.user.is_authenticated:
        raise PermissionDenied(
            f"The admin site is for members of the Okta group {settings.PORTAL_ADMIN_GROUP!r}."
        )
    return redirect(sign_in_url(next_url))


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/landing.html", landing_sections(request.user))


@require_safe
def profile(request: HttpRequest) -> HttpResponse:
    from access_requests.services import requester_time_zone

    user = request.user
    manager = user.manager if user.manager_id else None
    time_zone = requester_time_zone(user)
    context = {
        "profile_user": user,
        "manager": manager,
        "time_zone": time_zone,
        "time_zone_from_okta": time_zone == user.time_zone,
        "roles": user_roles(user),
        "renewal_due_at": request.session.get("oidc_id_token_expiration"),
        "now": time.time(),
    }
    return render(request, "accounts/profile.html", context)


def user_roles(user) -> list[str]:
    roles = ["employee"]
    if user.is_approver:
        roles.append("approver")
    if user.is_admin:
        roles.append("admin")
    return roles


@require_POST
def start_user_sync(request: HttpRequest) -> HttpResponse:
    """Queue an Okta user sync now (admins only)."""
    if not request.user.is_admin:
        raise PermissionDenied("Only portal admins can start a user sync.")
    from accounts.tasks import sync_users_task

    transaction.on_commit(sync_users_task.delay)
    logger.info("User %s queued a user sync", request.user.okta_id)
    messages.success(request, "User sync queued. Changes appear when the worker has finished.")
    return redirect("accounts:profile")
