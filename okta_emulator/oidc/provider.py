"""The OIDC provider of one emulator app: its store, signing key, authlib server and the token
logic that the grants, endpoints and views share."""

import contextlib
import logging
import secrets
import threading

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from okta_emulator import clock
from okta_emulator.app import base_url
from okta_emulator.oidc import claims as claim_builders
from okta_emulator.oidc import keys, repository
from okta_emulator.oidc.models import Client, IssuedToken, SignedInUser
from okta_emulator.oidc.server import create_authorization_server, create_resource_protector

log = logging.getLogger(__name__)

AUTHORIZATION_SERVER_ID = "default"

# The org id in the ID token's idp claim. The emulator has one org, so the id is fixed.
ORG_ID = "00o1emulatorOrg00001"


class OidcProvider:
    def __init__(self, store):
        self.store = store
        self._signing_key: RSAKey | None = None
        self._key_lock = threading.Lock()
        self.server = create_authorization_server(
            query_client=self.query_client,
            save_token=self.save_token,
            generate_token=self.generate_tokens,
        )
        self.resource_protector = create_resource_protector()

    # --- store access -----------------------------------------------------------------------

    def transaction(self):
        return self.store.transaction()

    @contextlib.contextmanager
    def connection(self):
        """Yield this thread's connection for reads (no transaction)."""
        yield self.store.db

    def query_client(self, client_id):
        row = self.store.get_oauth_client(client_id)
        return Client(row) if row else None

    def active_user(self, user_id: str) -> dict | None:
        user = self.store.get_user(user_id)
        if user is None or user["status"] != "ACTIVE":
            return None
        return user

    # --- keys -------------------------------------------------------------------------------

    def signing_key(self) -> RSAKey:
        if self._signing_key is None:
            with self._key_lock:
                if self._signing_key is None:
                    self._signing_key = keys.load_or_create_signing_key(self.store)
        return self._signing_key

    def verification_keys(self) -> KeySet:
        return keys.verification_key_set(self.signing_key())

    def sign(self, claims: dict, *, bad_signature: bool = False) -> str:
        key = self.signing_key()
        token_header = {"kid": key.kid, "alg": keys.SIGNING_ALGORITHM}
        if bad_signature:
            # The header still names the published kid, so the client finds the key and the
            # signature check itself fails.
            key = keys.unpublished_key()
        # Okta's token header has only kid and alg, no typ.
        return jwt.encode(
            token_header, claims, key, algorithms=[keys.SIGNING_ALGORITHM], default_type=None
        )

    def decode_own_token(self, token_string: str) -> dict | None:
        """Return the claims of a JWT this server signed, expired or not, or None."""
        return keys.decode_own_jwt(token_string, self.verification_keys())

    # --- issuing ----------------------------------------------------------------------------

    def issuer(self) -> str:
        return f"{base_url()}/oauth2/{AUTHORIZATION_SERVER_ID}"

    def generate_tokens(
        self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True
    ) -> dict:
        """Generate a JWT access token and, with offline_access, a refresh token (for authlib)."""
        signed_in: SignedInUser = user
        scopes = scope.split() if scope else []
        access_claims = claim_builders.access_token_claims(
            issuer=self.issuer(),
            client_id=client.get_client_id(),
            user=signed_in.user,
            scopes=scopes,
            issued_at=int(clock.now()),
            auth_time=signed_in.auth_time,
        )
        token = {
            "token_type": "Bearer",
            "expires_in": claim_builders.TOKEN_LIFETIME_SECONDS,
            "access_token": self.sign(access_claims),
            "scope": scope,
        }
        if include_refresh_token and "offline_access" in scopes:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token: dict, oauth_request) -> None:
        claims = self.decode_own_token(token["access_token"])
        signed_in: SignedInUser = oauth_request.user
        with self.transaction() as connection:
            repository.save_token(
                connection,
                IssuedToken(
                    id=0,
                    access_token_jti=claims["jti"],
                    refresh_token=token.get("refresh_token"),
                    client_id=oauth_request.client.get_client_id(),
                    user_id=signed_in.id,
                    scope=token["scope"],
                    auth_time=signed_in.auth_time,
                    issued_at=claims["iat"],
                    expires_in=token["expires_in"],
                    access_token_revoked=False,
                    refresh_token_revoked=False,
                ),
            )

    def issue_id_token(
        self, *, client_id: str, signed_in: SignedInUser, scope: str, nonce, access_token
    ) -> str:
        scopes = scope.split()
        group_names = None
        if "groups" in scopes:
            group_names = self.store.user_group_names(signed_in.id)
        claims = claim_builders.id_token_claims(
            issuer=self.issuer(),
            client_id=client_id,
            org_id=ORG_ID,
            user=signed_in.user,
            scopes=scopes,
            issued_at=int(clock.now()),
            auth_time=signed_in.auth_time,
            nonce=nonce,
            access_token=access_token,
            group_names=group_names,
        )
        with self.transaction() as connection:
            override = repository.take_id_token_override(connection, client_id)
        if override is None:
            return self.sign(claims)

        log.info("Issuing an ID token for client %s with test overrides", client_id)
        for name in override["remove_claims"]:
            claims.pop(name, None)
        claims.update(override["claims"])
        return self.sign(claims, bad_signature=override["bad_signature"])

    # --- looking tokens up ------------------------------------------------------------------

    def find_access_token(self, token_string: str) -> IssuedToken | None:
        claims = self.decode_own_token(token_string)
        if claims is None or "jti" not in claims:
            return None
        with self.connection() as connection:
            token = repository.find_token_by_jti(connection, claims["jti"])
        if token is not None:
            token.now = clock.now()
        return token

    def find_any_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        """Find an access token (a JWT) or a refresh token (opaque), whatever the hint says."""
        token = self.find_access_token(token_string)
        if token is None:
            with self.connection() as connection:
                token = repository.find_token_by_refresh_token(connection, token_string)
        if token is not None:
            token.now = clock.now()
        return token

    def introspection_payload(self, token: IssuedToken) -> dict:
        user = self.store.get_user(token.user_id) or {"profile": {}}
        payload = {
            "active": True,
            "scope": token.scope,
            "username": user["profile"].get("login"),
            "exp": token.issued_at + token.expires_in,
            "iat": token.issued_at,
            "sub": user["profile"].get("login"),
            "aud": claim_builders.DEFAULT_ACCESS_TOKEN_AUDIENCE,
            "iss": self.issuer(),
            "jti": token.access_token_jti,
            "token_type": "Bearer",
            "client_id": token.client_id,
            "uid": token.user_id,
        }
        if token.presented == "refresh_token":
            # A persistent refresh token has no expiry of its own.
            del payload["exp"]
            del payload["jti"]
        return payload

    def end_browser_session(self, id_token_claims: dict | None) -> None:
        from okta_emulator.oidc.sessions import end_current_session

        end_current_session(self, id_token_claims)
