"""HTTP endpoints of the custom authorization server "default" under /oauth2/default/.

Okta's paths: {issuer}/.well-known/openid-configuration and oauth-authorization-server, and
{issuer}/v1/{authorize,token,userinfo,keys,logout,revoke,introspect}. Any other authorization
server id gets Okta's 404 error.
"""

import logging

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2.requests import FlaskJsonRequest
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint, Response, jsonify, redirect, render_template, request

from okta_emulator import clock
from okta_emulator.app import read_json
from okta_emulator.errors import not_found, validation_failed
from okta_emulator.oidc import repository, sessions
from okta_emulator.oidc.claims import TooManyGroupsError, userinfo_claims
from okta_emulator.oidc.context import EXTENSION_NAME, current_provider
from okta_emulator.oidc.keys import public_jwks
from okta_emulator.oidc.metadata import oauth_metadata, openid_metadata
from okta_emulator.oidc.provider import AUTHORIZATION_SERVER_ID, OidcProvider
from okta_emulator.oidc.server import UNKNOWN_CLIENT, with_okta_description

log = logging.getLogger(__name__)

blueprint = Blueprint("oidc", __name__, template_folder="templates")

ISSUER_PATH = "/oauth2/<auth_server_id>"

# The userinfo endpoint needs a token with at least one of these scopes (Okta's 403 otherwise).
USERINFO_CLAIM_SCOPES = ("profile", "email", "address", "phone")

# Okta caches its JWKS for a long time; the emulator's key never rotates, so a day is safe.
KEYS_CACHE_CONTROL = "max-age=86400, must-revalidate"

# Authorize parameters that belong to the sign-in form, not to the OAuth request.
LOGIN_FORM_FIELDS = ("username", "password")


@blueprint.record_once
def install_provider(state):
    """Create the provider over the store of the app that registers this blueprint."""
    runtime = state.app.extensions["okta_emulator"]
    state.app.extensions[EXTENSION_NAME] = OidcProvider(runtime.store)


class UnknownAuthorizationServer(Exception):
    pass


@blueprint.url_value_preprocessor
def check_authorization_server(endpoint, values):
    auth_server_id = (values or {}).get("auth_server_id")
    if auth_server_id is not None and auth_server_id != AUTHORIZATION_SERVER_ID:
        raise UnknownAuthorizationServer(auth_server_id)


@blueprint.errorhandler(UnknownAuthorizationServer)
def unknown_authorization_server(error):
    # Okta returns its management-style error body for an unknown authorization server.
    body = not_found(str(error), "AuthorizationServer").body()
    return jsonify(body), 404


# --- metadata and keys -------------------------------------------------------------------


@blueprint.get(f"{ISSUER_PATH}/.well-known/openid-configuration")
def openid_configuration(auth_server_id):
    return jsonify(openid_metadata(current_provider().issuer()))


@blueprint.get(f"{ISSUER_PATH}/.well-known/oauth-authorization-server")
def oauth_authorization_server(auth_server_id):
    return jsonify(oauth_metadata(current_provider().issuer()))


@blueprint.get(f"{ISSUER_PATH}/v1/keys")
def keys(auth_server_id):
    response = jsonify(public_jwks(current_provider().signing_key()))
    response.headers["Cache-Control"] = KEYS_CACHE_CONTROL
    return response


# --- authorize and the sign-in page ----------------------------------------------------------


@blueprint.route(f"{ISSUER_PATH}/v1/authorize", methods=["GET", "POST"])
def authorize(auth_server_id):
    """Validate the request, sign the user in if needed and redirect back with a code.

    The sign-in form posts to this same URL with the original parameters in hidden fields.
    """
    provider = current_provider()
    client = provider.query_client(request.values.get("client_id", ""))
    if client is None:
        return _error_page(UNKNOWN_CLIENT)
    redirect_uri = request.values.get("redirect_uri")
    if not redirect_uri or not client.check_redirect_uri(redirect_uri):
        return _error_page(
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app "
            f"settings of client {client.client_id}."
        )

    session = sessions.current_session(provider)
    signed_in = session[1] if session else None
    try:
        grant = provider.server.get_consent_grant(end_user=signed_in)
    except OAuth2Error as error:
        return _redirect_with_error(redirect_uri, error)

    new_session_id = None
    if request.method == "POST" and "username" in request.form:
        try:
            new_session_id, signed_in = sessions.sign_in(
                provider, request.form.get("username", ""), request.form.get("password", "")
            )
        except sessions.SignInFailed as failure:
            return _sign_in_page(client, error=str(failure), status=401)
    elif signed_in is None or grant.prompt == "login" or _session_too_old(signed_in):
        if request.values.get("prompt") == "none":
            return _redirect_with_error(redirect_uri, LoginRequiredError())
        return _sign_in_page(client)

    response = provider.server.create_authorization_response(grant_user=signed_in, grant=grant)
    sessions.record_single_sign_on(provider, signed_in, client)
    if new_session_id:
        sessions.set_session_cookie(response, new_session_id)
    return response


def _session_too_old(signed_in) -> bool:
    """Return True if max_age requires a more recent sign-in than the session's."""
    max_age = request.values.get("max_age")
    if signed_in is None or max_age is None:
        return False
    return clock.now() - signed_in.auth_time > int(max_age)


def _redirect_with_error(redirect_uri: str, error: OAuth2Error):
    with_okta_description(error)
    params = [("error", error.error), ("error_description", error.description)]
    state = request.values.get("state")
    if state:
        params.append(("state", state))
    log.info("Authorize request rejected with %s: %s", error.error, error.description)
    return redirect(add_params_to_uri(redirect_uri, params), code=302)


def _sign_in_page(client, error: str | None = None, status: int = 200):
    hidden_fields = [
        (name, value)
        for name, value in request.values.items(multi=True)
        if name not in LOGIN_FORM_FIELDS
    ]
    page = render_template(
        "oidc/sign_in.html",
        client_name=client.client_name,
        action=request.path,
        hidden_fields=hidden_fields,
        username=request.form.get("username") or request.values.get("login_hint", ""),
        error=error,
    )
    return Response(page, status=status, headers=_no_store_headers(), mimetype="text/html")


def _error_page(message: str, status: int = 400):
    log.info("OIDC request rejected with an error page: %s", message)
    page = render_template("oidc/error.html", message=message)
    return Response(page, status=status, headers=_no_store_headers(), mimetype="text/html")


def _no_store_headers() -> dict:
    return {"Cache-Control": "no-store", "Pragma": "no-cache"}


# --- token, revoke, introspect -------------------------------------------------------------------


@blueprint.post(f"{ISSUER_PATH}/v1/token")
def token(auth_server_id):
    try:
        return current_provider().server.create_token_response()
    except TooManyGroupsError as error:
        return _oauth_error_response(InvalidRequestError(str(error)))


@blueprint.post(f"{ISSUER_PATH}/v1/revoke")
def revoke(auth_server_id):
    return current_provider().server.create_endpoint_response("revocation")


@blueprint.post(f"{ISSUER_PATH}/v1/introspect")
def introspect(auth_server_id):
    return current_provider().server.create_endpoint_response("introspection")


def _oauth_error_response(error: OAuth2Error):
    return current_provider().server.handle_error_response(None, error)


# --- userinfo ------------------------------------------------------------------------------------


@blueprint.route(f"{ISSUER_PATH}/v1/userinfo", methods=["GET", "POST"])
def userinfo(auth_server_id):
    provider = current_provider()
    try:
        token = provider.resource_protector.validate_request(
            scopes=["openid"], request=FlaskJsonRequest(request)
        )
    except OAuth2Error as error:
        return _bearer_error(error)

    scopes = token.get_scope().split()
    if not any(scope in scopes for scope in USERINFO_CLAIM_SCOPES):
        return _bearer_error(
            None,
            status=403,
            error="insufficient_scope",
            description=(
                "The access token must provide access to at least one of these scopes - "
                "profile, email, address or phone"
            ),
        )

    user = provider.store.get_user(token.user_id)
    group_names = provider.store.user_group_names(token.user_id) if "groups" in scopes else None
    try:
        return jsonify(userinfo_claims(user, token.get_scope(), group_names))
    except TooManyGroupsError as error:
        return _oauth_error_response(InvalidRequestError(str(error)))


def _bearer_error(
    failure: OAuth2Error | None, status: int = 401, error: str = "", description: str = ""
):
    """Return Okta's userinfo error: an empty body and the reason in WWW-Authenticate."""
    if failure is not None:
        if failure.error == "missing_authorization":
            error, description = "invalid_request", "The access token is missing."
        elif failure.error == "insufficient_scope":
            status, error, description = 403, "insufficient_scope", failure.description
        else:
            error, description = "invalid_token", "The access token is invalid."
    log.info("Userinfo request rejected with %s: %s", error, description)
    issuer = current_provider().issuer()
    challenge = (
        f'Bearer authorization_uri="{issuer}/v1/authorize", realm="{issuer}", '
        f'scope="openid", error="{error}", error_description="{description}", '
        f'resource="{request.path}"'
    )
    return Response("", status=status, headers={"WWW-Authenticate": challenge})


# --- logout --------------------------------------------------------------------------------------


@blueprint.route(f"{ISSUER_PATH}/v1/logout", methods=["GET", "POST"])
def logout(auth_server_id):
    """End the emulator session of the ID token's subject and redirect back to the client.

    Like Okta, an invalid id_token_hint, or a post_logout_redirect_uri not registered for the
    token's client, gets an error page and no logout.
    """
    provider = current_provider()
    if not request.values.get("id_token_hint"):
        return _error_page("The 'id_token_hint' parameter is required.")
    try:
        end_session = provider.server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _error_page(f"The 'id_token_hint' is invalid: {error.description}")

    claims = end_session.id_token_claims
    if claims.get("iss") != provider.issuer() or end_session.client is None:
        return _error_page("The 'id_token_hint' was not issued by this authorization server.")
    requested_uri = request.values.get("post_logout_redirect_uri")
    if requested_uri and end_session.redirect_uri is None:
        return _error_page(
            "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the "
            f"client app settings of client {end_session.client.client_id}."
        )

    response = provider.server.create_endpoint_response("end_session", end_session)
    if response is None:
        page = render_template("oidc/signed_out.html")
        response = Response(page, status=200, headers=_no_store_headers(), mimetype="text/html")
    if sessions.current_session(provider) is None:
        sessions.clear_session_cookie(response)
    return response


# --- test hooks (API-token authenticated, like every /_emulator/ path) ---------------------------

OVERRIDES_PATH = "/_emulator/oidc/id-token-overrides"
MAX_OVERRIDE_COUNT = 1000


@blueprint.post(OVERRIDES_PATH)
def add_id_token_override():
    """Make the next `count` ID tokens for a client carry changed claims or a bad signature.

    Body: {"clientId", "count" (default 1), "claims" (merged over the issued claims),
    "removeClaims" (claim names to drop), "badSignature" (sign with a key not in the JWKS)}.
    """
    body = read_json()
    override = _parse_override(body)
    provider = current_provider()
    if provider.query_client(override["client_id"]) is None:
        raise not_found(override["client_id"], "OAuth2Client")
    with provider.transaction() as connection:
        override_id = repository.add_id_token_override(connection, **override)
    log.info(
        "Next %d ID tokens for client %s carry test overrides",
        override["count"],
        override["client_id"],
    )
    return jsonify({"id": override_id, **_override_document(override)}), 201


@blueprint.get(OVERRIDES_PATH)
def list_id_token_overrides():
    with current_provider().connection() as connection:
        return jsonify(repository.list_id_token_overrides(connection))


@blueprint.delete(OVERRIDES_PATH)
def clear_id_token_overrides():
    with current_provider().transaction() as connection:
        repository.clear_id_token_overrides(connection)
    return Response(b"", status=204)


def _parse_override(body) -> dict:
    if not isinstance(body, dict):
        raise validation_failed("body", "must be a JSON object")
    client_id = body.get("clientId")
    if not isinstance(client_id, str) or not client_id:
        raise validation_failed("clientId", "is required and must be a client id string")
    count = body.get("count", 1)
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 1 <= count <= MAX_OVERRIDE_COUNT
    ):
        raise validation_failed("count", f"must be an integer from 1 to {MAX_OVERRIDE_COUNT}")
    claims = body.get("claims", {})
    if not isinstance(claims, dict):
        raise validation_failed("claims", "must be a JSON object of claim names to values")
    remove_claims = body.get("removeClaims", [])
    if not isinstance(remove_claims, list) or not all(isinstance(n, str) for n in remove_claims):
        raise validation_failed("removeClaims", "must be a list of claim names")
    bad_signature = body.get("badSignature", False)
    if not isinstance(bad_signature, bool):
        raise validation_failed("badSignature", "must be true or false")
    return {
        "client_id": client_id,
        "count": count,
        "claims": claims,
        "remove_claims": remove_claims,
        "bad_signature": bad_signature,
    }


def _override_document(override: dict) -> dict:
    return {
        "clientId": override["client_id"],
        "remaining": override["count"],
        "claims": override["claims"],
        "removeClaims": override["remove_claims"],
        "badSignature": override["bad_signature"],
    }


CLIENT_URIS_PATH = "/_emulator/oidc/clients/<client_id>/redirect-uris"


@blueprint.post(CLIENT_URIS_PATH)
def add_client_redirect_uris(client_id):
    """Register more Login and Logout redirect URIs for a client, until the next reset.

    Body: {"redirectUris": [...], "postLogoutRedirectUris": [...]} (either may be left out).
    Tests that serve the client on a port chosen at run time register its URIs here.
    """
    body = read_json()
    if not isinstance(body, dict):
        raise validation_failed("body", "must be a JSON object")
    uris = {}
    for key in ("redirectUris", "postLogoutRedirectUris"):
        value = body.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(uri, str) and uri.startswith(("http://", "https://")) for uri in value
        ):
            raise validation_failed(key, "must be a list of http:// or https:// URIs")
        uris[key] = value
    provider = current_provider()
    if provider.query_client(client_id) is None:
        raise not_found(client_id, "OAuth2Client")
    with provider.transaction() as connection:
        registered = repository.add_client_uris(
            connection, client_id, uris["redirectUris"], uris["postLogoutRedirectUris"]
        )
    log.info("Client %s now accepts redirect URIs %s", client_id, registered)
    return jsonify(registered), 200
