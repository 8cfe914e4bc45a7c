"""Browser sessions of the emulator's sign-in page and their System Log events.

A successful sign-in stores a session row and sets a cookie, so a later authorize request skips
the sign-in page (unless prompt=login). The cookie name differs from the portal's session
cookie on purpose: browsers send cookies of 127.0.0.1 to every port of that host.
"""

import logging

from flask import request

from okta_emulator import clock
from okta_emulator.oidc import repository
from okta_emulator.oidc.models import SignedInUser
from okta_emulator.store import user_actor

log = logging.getLogger(__name__)

SESSION_COOKIE = "okta_emulator_sid"
SESSION_COOKIE_PATH = "/oauth2/"

# Sign-in page messages for users whose status forbids signing in.
STATUS_MESSAGES = {
    "STAGED": "the account is not activated yet",
    "PROVISIONED": "the account is not activated yet",
    "SUSPENDED": "the account is suspended",
    "DEPROVISIONED": "the account is deactivated",
    "LOCKED_OUT": "the account is locked",
    "PASSWORD_EXPIRED": "the password has expired",
    "RECOVERY": "the account is in password recovery",
}


class SignInFailed(Exception):
    """A rejected sign-in; the message is shown on the sign-in page."""


def current_session(provider) -> tuple[str, SignedInUser] | None:
    """Return (session id, signed-in user) of the request's session cookie, or None.

    A session of a user who is no longer ACTIVE counts as no session.
    """
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    with provider.connection() as connection:
        found = repository.get_session(connection, session_id)
    if found is None:
        return None
    user_id, auth_time = found
    user = provider.active_user(user_id)
    if user is None:
        return None
    return session_id, SignedInUser(user, auth_time)


def sign_in(provider, username: str, password: str) -> tuple[str, SignedInUser]:
    """Check the credentials, start a session and return (session id, signed-in user).

    Raises SignInFailed for wrong credentials or a user whose status is not ACTIVE, after
    writing the failed user.session.start event.
    """
    store = provider.store
    user = store.authenticate(username, password) if username and password else None
    if user is None:
        _record_failed_sign_in(provider, username, reason="INVALID_CREDENTIALS")
        raise SignInFailed("Unable to sign in: the username or password is incorrect.")
    if user["status"] != "ACTIVE":
        _record_failed_sign_in(provider, username, reason=user["status"], user=user)
        reason = STATUS_MESSAGES.get(user["status"], f"the account status is {user['status']}")
        raise SignInFailed(f"Unable to sign in: {reason}. Contact your administrator.")

    now = clock.now()
    auth_time = int(now)
    with provider.transaction() as connection:
        session_id = repository.create_session(connection, user["id"], auth_time, now)
        # Okta stamps lastLogin on every successful sign-in.
        connection.execute(
            "UPDATE users SET last_login = ? WHERE id = ?", (clock.iso(now), user["id"])
        )
        store.record_event(
            "user.session.start",
            user_actor(user),
            [],
            "SUCCESS",
            "User login to Okta",
            request=request,
        )
    log.info("User %s signed in on the emulator's sign-in page", user["id"])
    return session_id, SignedInUser(user, auth_time)


def _record_failed_sign_in(provider, username: str, reason: str, user: dict | None = None):
    if user is not None:
        actor = user_actor(user)
    else:
        actor = {
            "id": "unknown",
            "type": "User",
            "alternateId": username or "unknown",
            "displayName": "unknown",
        }
    provider.store.record_event(
        "user.session.start",
        actor,
        [],
        {"result": "FAILURE", "reason": reason},
        "User login to Okta",
        request=request,
    )
    log.info("Sign-in failed for login %r: %s", username, reason)


def record_single_sign_on(provider, signed_in: SignedInUser, client) -> None:
    """Write user.authentication.sso for a code issued to client's app."""
    target = {
        "id": client.app_id or client.client_id,
        "type": "AppInstance",
        "alternateId": client.client_name,
        "displayName": client.client_name,
    }
    provider.store.record_event(
        "user.authentication.sso",
        user_actor(signed_in.user),
        [target],
        "SUCCESS",
        "User single sign on to app",
        request=request,
    )


def end_current_session(provider, id_token_claims: dict | None) -> bool:
    """End the request's session if it belongs to the ID token's subject; return True if ended.

    Okta's logout has no effect on a session of another user.
    """
    found = current_session(provider)
    if found is None or id_token_claims is None:
        return False
    session_id, signed_in = found
    if signed_in.id != id_token_claims.get("sub"):
        return False
    with provider.transaction() as connection:
        repository.delete_session(connection, session_id)
        provider.store.record_event(
            "user.session.end",
            user_actor(signed_in.user),
            [],
            "SUCCESS",
            "User logout from Okta",
            request=request,
        )
    log.info("User %s signed out through the logout endpoint", signed_in.id)
    return True


def set_session_cookie(response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, path=SESSION_COOKIE_PATH, httponly=True, samesite="Lax"
    )


def clear_session_cookie(response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=SESSION_COOKIE_PATH)
