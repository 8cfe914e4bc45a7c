"""The OIDC relying party: mozilla-django-oidc plus the checks it leaves out.

mozilla-django-oidc 5.0.2 runs the code flow (state, nonce and PKCE per tab) but never checks
`iss` or `aud`, lets an expired token or a failing Okta endpoint escape as an HTTP 500, and
maps users from the userinfo response alone. `OktaOIDCBackend` verifies the ID token fully,
turns every failure into `SignInFailed` with a reason, and maps the user by `sub` only.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts import services
from accounts.models import OktaStatus, User

logger = logging.getLogger(__name__)

# Claims an ID token must carry for the portal to accept it.
REQUIRED_ID_TOKEN_CLAIMS = ("iss", "aud", "sub", "exp", "iat")


class SignInFailed(Exception):
    """A sign-in attempt that must end on the failure page.

    `reason` is a short code for logs, audit and tests; the message says what failed, for
    the log, and never contains a token or secret.
    """

    def __init__(self, reason: str, message: str, *, user: User | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.user = user


def _error_code(response: requests.Response) -> str:
    """Return the OAuth `error` of an error response, or "" when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


class OktaOIDCBackend(OIDCAuthenticationBackend):
    """Authenticates a callback request against Okta and returns the user keyed on `sub`."""

    def get_token(self, payload: dict) -> dict:
        try:
            token_info = super().get_token(payload)
        except requests.HTTPError as error:
            response = error.response
            raise SignInFailed(
                "token_endpoint_error",
                f"Okta's token endpoint returned HTTP {response.status_code}"
                f" {_error_code(response) or '(no OAuth error code)'}",
            ) from None
        except (requests.RequestException, ValueError) as error:
            raise SignInFailed(
                "token_endpoint_error",
                f"calling Okta's token endpoint failed: {type(error).__name__}",
            ) from None
        if not token_info.get("id_token") or not token_info.get("access_token"):
            raise SignInFailed(
                "token_endpoint_error", "Okta's token response has no id_token or access_token"
            )
        return token_info

    def retrieve_matching_jwk(self, token: str) -> jwt.PyJWK:
        try:
            return super().retrieve_matching_jwk(token)
        except SuspiciousOperation:
            raise SignInFailed(
                "invalid_id_token", "no key in Okta's JWKS matches the ID token's kid and alg"
            ) from None
        except jwt.PyJWTError as error:
            raise SignInFailed(
                "invalid_id_token", f"the ID token header is invalid: {error}"
            ) from None
        except (requests.RequestException, ValueError, KeyError) as error:
            raise SignInFailed(
                "jwks_unavailable",
                f"fetching Okta's signing keys failed: {type(error).__name__}",
            ) from None

    def verify_token(self, token: str, **kwargs) -> dict:
        """Verify the ID token's signature, iss, aud, exp, iat and nonce; return its claims.

        The verified claims are also kept on the backend, because the library passes only
        the userinfo response to the user-mapping hooks.
        """
        if not token:
            raise SignInFailed("invalid_id_token", "the token response has no ID token")
        key = self.retrieve_matching_jwk(token)
        claims = self.decode_id_token(token, key)

        nonce = kwargs.get("nonce")
        if self.get_settings("OIDC_USE_NONCE", True) and not constant_time_compare(
            str(claims.get("nonce") or ""), str(nonce or "")
        ):
            raise SignInFailed(
                "nonce_mismatch", "the ID token's nonce differs from the one sent for this state"
            )
        self.id_token_claims = claims
        return claims

    def decode_id_token(self, token: str, key: jwt.PyJWK) -> dict:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OKTA_ISSUER,
                leeway=settings.OIDC_ID_TOKEN_LEEWAY_SECONDS,
                options={"require": list(REQUIRED_ID_TOKEN_CLAIMS)},
            )
        except jwt.PyJWTError as error:
            # PyJWT's messages name the failed check ("Signature has expired", "Invalid
            # issuer", "The token is not yet valid (iat)") and never include the token.
            raise SignInFailed(
                f"invalid_id_token:{type(error).__name__}", f"the ID token is invalid: {error}"
            ) from None

        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            # OpenID Connect Core 3.1.3.7: with several audiences, azp must name this client.
            raise SignInFailed(
                "invalid_id_token:InvalidAudienceError",
                "the ID token has several audiences and its azp is not this client",
            )
        return claims

    def get_userinfo(self, access_token: str, id_token: str, payload: dict) -> dict:
        try:
            userinfo = super().get_userinfo(access_token, id_token, payload)
        except requests.HTTPError as error:
            raise SignInFailed(
                "userinfo_error",
                f"Okta's userinfo endpoint returned HTTP {error.response.status_code}",
            ) from None
        except (requests.RequestException, ValueError) as error:
            raise SignInFailed(
                "userinfo_error", f"calling Okta's userinfo endpoint failed: {type(error).__name__}"
            ) from None
        if not isinstance(userinfo, dict):
            raise SignInFailed("userinfo_error", "Okta's userinfo response is not a JSON object")
        return userinfo

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict) -> User:
        """Map the verified claims to the user with that `sub`, creating it on first sign-in.

        Email is never used to find a user: a changed address keeps the account, and a new
        Okta user who gets a former user's address gets a new one.
        """
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not constant_time_compare(str(userinfo.get("sub", "")), str(payload["sub"])):
            raise SignInFailed(
                "userinfo_sub_mismatch",
                f"userinfo's sub differs from the ID token's sub {payload['sub']}",
            )

        # ID-token claims win over userinfo: they are the ones whose signature was checked.
        claims = {**userinfo, **payload}
        user = services.update_user_from_claims(claims, http_request=self.request)
        self.check_status(user)
        return user

    def check_status(self, user: User) -> None:
        """Refuse a user who is not ACTIVE, asking Okta when the stored status says so.

        Okta itself refuses to sign in users who are not ACTIVE, so a stored status other than
        ACTIVE is either current (the sync saw the change first) or stale (the user was
        reactivated since). Okta's answer decides.
        """
        if user.okta_status == OktaStatus.ACTIVE and user.is_active:
            return
        from portal.okta_api import OktaError, get_client

        try:
            okta_user = get_client().get_user(user.okta_id)
        except OktaError as error:
            raise SignInFailed(
                "status_check_failed",
                f"user {user.okta_id} is {user.okta_status} in the portal and reading the "
                f"current status from Okta failed: {error}",
                user=user,
            ) from None
        services.apply_okta_status(user, okta_user.status)
        if user.okta_status != OktaStatus.ACTIVE:
            raise SignInFailed(
                "user_not_active",
                f"user {user.okta_id} is {user.okta_status} in Okta",
                user=user,
            )

    def get_user(self, user_id):
        """Return the session's user, or None once the user is no longer active."""
        return self.UserModel.objects.filter(pk=user_id, is_active=True).first()


def okta_logout_url(request: HttpRequest) -> str:
    """Return Okta's logout URL for the signed-in user; called before the session is flushed.

    Okta ends its own session only with a valid id_token_hint. Without a stored ID token
    (a session not made by an Okta sign-in) the portal's own post-logout page is returned.
    """
    post_logout_uri = settings.OIDC_POST_LOGOUT_REDIRECT_URI or request.build_absolute_uri(
        reverse("landing")
    )
    id_token = request.session.get("oidc_id_token")
    if not id_token:
        return post_logout_uri
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_uri})
    return f"{settings.OKTA_ISSUER}/v1/logout?{query}"
