"""authlib's model interfaces over the emulator's rows: OAuth clients, authorization codes,
issued tokens and signed-in users."""

import hmac
import json
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    TokenMixin,
    list_to_scope,
    scope_to_list,
)

SUPPORTED_SCOPES = ("openid", "profile", "email", "groups", "offline_access")


def _json_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


class Client(ClientMixin):
    """An OIDC client (an OPENID_CONNECT app) of the seed org."""

    def __init__(self, row: dict):
        self.client_id = row["client_id"]
        self.client_secret = row["client_secret"]
        self.client_name = row["client_name"]
        self.app_id = row.get("app_id")
        self.redirect_uris = _json_list(row["redirect_uris"])
        self.post_logout_redirect_uris = _json_list(row["post_logout_redirect_uris"])
        self.grant_types = _json_list(row["grant_types"]) or ["authorization_code"]
        self.response_types = _json_list(row["response_types"]) or ["code"]
        self.token_endpoint_auth_method = row["token_endpoint_auth_method"] or "client_secret_basic"

    @property
    def client_metadata(self) -> dict:
        # authlib's end-session endpoint reads the registered post-logout URIs from here.
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # Okta has no default: every authorize request must name its redirect_uri.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return list_to_scope([s for s in scope_to_list(scope) if s in SUPPORTED_SCOPES])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):

        return bool(self.client_secret) and hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        # Okta configures one method per client, but a confidential client of the emulator
        # may use either secret method: the portal's settings pick one, tests use both.
        if method == "none":
            return self.token_endpoint_auth_method == "none"  # noqa: S105 (a method name)
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type in self.response_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return ["pwd"]


@dataclass
class IssuedToken(TokenMixin):
    """An access token (by jti) and its refresh token, as stored when issued.

    `presented` records which of the two the client sent, because revocation and expiry differ:
    the access token lives an hour, the refresh token until it is revoked.
    """

    id: int
    access_token_jti: str
    refresh_token: str | None
    client_id: str
    user_id: str
    scope: str
    auth_time: int
    issued_at: int
    expires_in: int
    access_token_revoked: bool
    refresh_token_revoked: bool
    presented: str = "access_token"
    now: float = 0.0

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        if self.presented == "refresh_token":
            return False
        return self.now >= self.issued_at + self.expires_in

    def is_revoked(self):
        if self.presented == "refresh_token":
            return self.refresh_token_revoked
        return self.access_token_revoked


@dataclass
class SignedInUser:
    """A user together with the time they typed their password (the auth_time claim)."""

    user: dict
    auth_time: int

    @property
    def id(self) -> str:
        return self.user["id"]
