"""authlib wiring of the authorization server "default": grants, PKCE, OpenID Connect,
revocation, introspection, end session and the bearer-token check of userinfo.

authlib validates the protocol; the subclasses here add Okta's rules (PKCE S256 required,
`state` required, refresh tokens only with offline_access) and Okta's error descriptions.
"""

import logging

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    scope_to_list,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.rpinitiated import EndSessionEndpoint

from okta_emulator import clock
from okta_emulator.oidc import repository
from okta_emulator.oidc.context import current_provider
from okta_emulator.oidc.models import SUPPORTED_SCOPES, AuthorizationCode, IssuedToken, SignedInUser

log = logging.getLogger(__name__)

AUTHORIZATION_CODE_LIFETIME_SECONDS = 300
CLIENT_SECRET_METHODS = ["client_secret_basic", "client_secret_post"]

# Error descriptions, so a client's logs read as they would against Okta. Texts marked (spec)
# are the examples of Okta's OAuth OpenAPI spec; the others are modelled on Okta's responses
# but not checked against a published source.
INVALID_CODE = "The authorization code is invalid or has expired."  # (spec)
CODE_OF_OTHER_CLIENT = (  # (spec)
    "The grant was issued to another client. Ensure that the `client_id` matches the one used "
    "at the authorize request."
)
REDIRECT_URI_MISMATCH = (
    "The 'redirect_uri' does not match the redirection URI used in the authorization request."
)
REFRESH_TOKEN_OF_OTHER_CLIENT = "The refresh token was issued to another client."  # noqa: S105
PKCE_FAILED = "PKCE verification failed."
INVALID_REFRESH_TOKEN = "The refresh token is invalid or expired."  # noqa: S105
NO_CLIENT_CREDENTIALS = "No client credentials found"  # (spec)
UNKNOWN_CLIENT = "Invalid value for the `client_id` parameter."  # (spec)
INVALID_CLIENT_SECRET = (  # noqa: S105 (spec)
    "The client secret supplied for a confidential client is invalid."
)
MULTIPLE_CLIENT_CREDENTIALS = (  # (spec)
    "Can't supply multiple client credentials. Use one of the following: credentials in the "
    "Authorization header, credentials in the post body, or a `client_assertion` in the post body."
)
MISSING_SCOPE = (
    "The authorization server resource does not have any configured default scopes, "
    "'scope' must be provided."
)
UNKNOWN_SCOPE = "One or more scopes are not configured for the authorization server resource."
NEED_OPENID_SCOPE = (  # (spec)
    "Requests for ID tokens or access tokens with OpenID scopes require the `openid` scope."
)
# Scopes that need openid. Okta lists profile, email, address and phone. The emulator's groups
# scope adds a claim to the ID token, so it needs openid too.
OPENID_SCOPES = ("profile", "email", "groups")
MISSING_STATE = "The authorization request is missing the required 'state' parameter."

# Descriptions for errors that authlib raises without one.
DEFAULT_DESCRIPTIONS = {
    "login_required": "The client specified not to prompt, but the user is not logged in.",
    "unsupported_grant_type": "The grant type in the request isn't supported.",  # (spec)
    "unsupported_response_type": (  # (spec)
        "The response type contained in the request isn't supported."
    ),
    "invalid_request": "The request is missing a required parameter or is otherwise malformed.",
    "invalid_grant": INVALID_CODE,
    "invalid_scope": UNKNOWN_SCOPE,
    "unauthorized_client": "The client isn't authorized to use the provided grant type.",
    "unsupported_token_type": "The token_type_hint isn't supported.",
}


def with_okta_description(error):
    """Give an authlib error Okta's description when authlib left it without one."""
    if not error.description:
        error.description = DEFAULT_DESCRIPTIONS.get(error.error, error.error)
    return error


class OktaAuthorizationServer(AuthorizationServer):
    def handle_error_response(self, request, error):
        with_okta_description(error)
        log.info("OAuth request rejected with %s: %s", error.error, error.description)
        return super().handle_error_response(request, error)

    def validate_requested_scope(self, scope):
        if not scope:
            raise InvalidScopeError(MISSING_SCOPE)
        if any(requested not in SUPPORTED_SCOPES for requested in scope_to_list(scope)):
            raise InvalidScopeError(UNKNOWN_SCOPE)

    def authenticate_client(self, request, methods, endpoint="token"):
        basic_client_id, _ = extract_basic_authorization(request.headers)
        if basic_client_id and request.form.get("client_secret"):
            raise InvalidRequestError(MULTIPLE_CLIENT_CREDENTIALS)
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            raise InvalidClientError(
                status_code=401, description=self._client_failure_reason(request)
            ) from None

    def _client_failure_reason(self, request) -> str:
        basic_client_id, _ = extract_basic_authorization(request.headers)
        client_id = basic_client_id or request.form.get("client_id")
        if not client_id:
            return NO_CLIENT_CREDENTIALS
        if self.query_client(client_id) is None:
            return UNKNOWN_CLIENT
        return INVALID_CLIENT_SECRET


class S256CodeChallenge(CodeChallenge):
    """PKCE as Okta enforces it here: required on every authorize request, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE code challenge is required: send 'code_challenge' and "
                "'code_challenge_method=S256'."
            )
        method = data.get("code_challenge_method")
        if method != "S256":
            raise InvalidRequestError(
                f"'code_challenge_method' is invalid: {method!r}. Must be 'S256'."
            )
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError(
                "PKCE verification failed: the 'code_verifier' parameter is missing."
            )
        try:
            super().validate_code_verifier(grant, result)
        except InvalidGrantError:
            raise InvalidGrantError(PKCE_FAILED) from None
        except InvalidRequestError:
            raise InvalidRequestError(
                "PKCE verification failed: 'code_verifier' must be 43 to 128 characters "
                "of [A-Za-z0-9-._~]."
            ) from None


class OktaAuthorizeRules:
    """Okta's checks of an authorize request that authlib leaves optional."""

    def __call__(self, grant):
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not grant.request.payload.state:
            raise InvalidRequestError(MISSING_STATE)
        scopes = scope_to_list(grant.request.payload.scope) or []
        if "openid" not in scopes and any(scope in OPENID_SCOPES for scope in scopes):
            raise AccessDeniedError(NEED_OPENID_SCOPE)
        response_mode = data.get("response_mode", "query")
        if response_mode != "query":
            # Okta also supports fragment, form_post and okta_post_message. The emulator only
            # redirects with query parameters, so it rejects the others instead of ignoring them.
            raise UnsupportedResponseModeError(
                f"The response mode {response_mode!r} isn't supported by this authorization "
                "server. Valid response modes: [`query`]."
            )
        max_age = data.get("max_age")
        if max_age is not None and (not max_age.isdigit() or len(max_age) > 9):
            raise InvalidRequestError(
                f"The 'max_age' parameter must be a whole number of seconds: {max_age!r}."
            )


class UnsupportedResponseModeError(InvalidRequestError):
    error = "unsupported_response_mode"


class OktaAuthorizationCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_SECRET_METHODS

    def save_authorization_code(self, code, request):
        data = request.payload.data
        signed_in: SignedInUser = request.user
        with current_provider().transaction() as connection:
            repository.save_authorization_code(
                connection,
                AuthorizationCode(
                    code=code,
                    client_id=request.client.get_client_id(),
                    user_id=signed_in.id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    auth_time=signed_in.auth_time,
                    expires_at=clock.now() + AUTHORIZATION_CODE_LIFETIME_SECONDS,
                ),
            )

    def query_authorization_code(self, code, client):
        """Look up and consume the code, with Okta's checks and error descriptions.

        The code is consumed by the first token request of its own client that presents it,
        even when that request then fails (wrong redirect_uri or code_verifier), so a code
        never yields tokens twice.
        """
        with current_provider().transaction() as connection:
            authorization_code = repository.get_authorization_code(connection, code)
            if authorization_code is None:
                raise InvalidGrantError(INVALID_CODE)
            if authorization_code.client_id != client.get_client_id():
                raise InvalidGrantError(CODE_OF_OTHER_CLIENT)
            if not repository.consume_authorization_code(connection, code):
                raise InvalidGrantError(INVALID_CODE)
        if authorization_code.expires_at <= clock.now():
            raise InvalidGrantError(INVALID_CODE)
        if self.request.payload.redirect_uri != authorization_code.redirect_uri:
            raise InvalidGrantError(REDIRECT_URI_MISMATCH)
        return authorization_code

    def delete_authorization_code(self, authorization_code):
        # query_authorization_code already consumed it.
        pass

    def authenticate_user(self, authorization_code):
        user = current_provider().active_user(authorization_code.user_id)
        if user is None:
            raise InvalidGrantError("The user of this authorization code is no longer active.")
        return SignedInUser(user, authorization_code.auth_time)


class OktaRefreshTokenGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_SECRET_METHODS
    # Okta's default for web apps: the refresh token is persistent, not rotated.
    INCLUDE_NEW_REFRESH_TOKEN = False

    def authenticate_refresh_token(self, refresh_token):
        with current_provider().connection() as connection:
            token = repository.find_token_by_refresh_token(connection, refresh_token)
        if token is None or token.is_revoked():
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        if not token.check_client(self.request.client):
            raise InvalidGrantError(REFRESH_TOKEN_OF_OTHER_CLIENT)
        return token

    def authenticate_user(self, refresh_token):
        user = current_provider().active_user(refresh_token.user_id)
        if user is None:
            raise InvalidGrantError(INVALID_REFRESH_TOKEN)
        return SignedInUser(user, refresh_token.auth_time)

    def issue_token(self, user, refresh_token):
        token = super().issue_token(user, refresh_token)
        # The persistent refresh token is sent back with every refresh, as Okta does.
        token["refresh_token"] = refresh_token.refresh_token
        return token

    def revoke_old_credential(self, refresh_token):
        pass


class OktaOpenIDToken(OpenIDToken):
    """Adds the ID token to token responses whose scope contains openid."""

    def encode_id_token(self, token, request):
        signed_in: SignedInUser = request.user
        code = request.authorization_code
        return current_provider().issue_id_token(
            client_id=request.client.get_client_id(),
            signed_in=signed_in,
            scope=token["scope"],
            nonce=code.get_nonce() if code else None,
            access_token=token.get("access_token"),
        )


class OktaOpenIDCode(OktaOpenIDToken, OpenIDCode):
    def __init__(self):
        OpenIDCode.__init__(self, require_nonce=False)

    def exists_nonce(self, nonce, request):
        # Okta does not reject a reused nonce at the authorize endpoint; the client checks it.
        return False


class JwtAccessTokenValidator(BearerTokenValidator):
    """Accepts the emulator's JWT access tokens that are still recorded as valid."""

    def authenticate_token(self, token_string):
        return current_provider().find_access_token(token_string)


class OktaRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_SECRET_METHODS

    def authenticate_token(self, request, client):
        self.check_params(request, client)
        token = current_provider().find_any_token(
            request.form["token"], request.form.get("token_type_hint")
        )
        # A client may revoke only its own tokens. Another client's token gets the same
        # 200 as an unknown one, so the response reveals nothing about it.
        if token is None or not token.check_client(client):
            return None
        return token

    def check_params(self, request, client):
        if not request.form.get("token"):
            raise InvalidRequestError("The `token` parameter is required.")
        super().check_params(request, client)

    def revoke_token(self, token: IssuedToken, request):
        with current_provider().transaction() as connection:
            if token.presented == "refresh_token":
                repository.revoke_refresh_token(connection, token.refresh_token)
            else:
                repository.revoke_access_token(connection, token.id)

    def create_endpoint_response(self, request):
        status, _, _ = super().create_endpoint_response(request)
        # Okta returns an empty body for a revocation.
        return status, "", [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class OktaIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_SECRET_METHODS

    def check_params(self, request, client):
        if not request.form.get("token"):
            raise InvalidRequestError("The `token` parameter is required.")
        super().check_params(request, client)

    def query_token(self, token_string, token_type_hint):
        return current_provider().find_any_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken):
        return current_provider().introspection_payload(token)


class OktaEndSessionEndpoint(EndSessionEndpoint):
    def get_server_jwks(self):
        return current_provider().verification_keys()

    def get_algorithms(self):
        return ["RS256"]

    def end_session(self, end_session_request):
        current_provider().end_browser_session(end_session_request.id_token_claims)


def create_authorization_server(query_client, save_token, generate_token):
    """Build the authorization server over the provider's client lookup and token functions."""
    server = OktaAuthorizationServer(query_client=query_client, save_token=save_token)
    server.register_token_generator("default", generate_token)
    server.register_grant(
        OktaAuthorizationCodeGrant,
        [S256CodeChallenge(required=True), OktaAuthorizeRules(), OktaOpenIDCode()],
    )
    server.register_grant(OktaRefreshTokenGrant, [OktaOpenIDToken()])
    server.register_endpoint(OktaRevocationEndpoint)
    server.register_endpoint(OktaIntrospectionEndpoint)
    server.register_endpoint(OktaEndSessionEndpoint)
    return server


def create_resource_protector() -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(JwtAccessTokenValidator())
    return protector
