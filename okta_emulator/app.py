"""The emulator's Flask app: Okta's authentication, errors, rate limits and headers around the API."""

import json
import logging
import secrets

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import clock
from .errors import OktaError
from .faults import FaultMiddleware, Faults
from .ratelimit import ConcurrencyMiddleware, RateLimiter
from .settings import Settings
from .store import user_actor

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json"


def new_request_id():
    return clock.random_alphanumeric(26)


class Runtime:
    """Everything a request handler needs besides the Flask request: store, settings, limiter, faults."""

    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.limiter = RateLimiter(
            settings.rate_limits_enabled,
            settings.rate_limit_window_seconds,
            settings.token_rate_limit_share,
            settings.concurrency_limit,
        )
        self.faults = Faults()
        self.hooks = None  # the HookDeliverer, started by the serve command

    def reset_runtime_settings(self):
        """Return rate limits and faults to the start-up settings (part of /_emulator/reset)."""
        self.limiter.reset_defaults(
            self.settings.rate_limits_enabled,
            self.settings.rate_limit_window_seconds,
            self.settings.token_rate_limit_share,
            self.settings.concurrency_limit,
        )
        self.faults.clear()


def create_app(store, settings=None):
    """Build the Flask app over a Store.

    The returned app's wsgi_app enforces the concurrency limit and injects the configured faults.
    """
    settings = settings or Settings()
    app = Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    runtime = Runtime(store, settings)
    app.extensions["okta_emulator"] = runtime

    app.before_request(_require_content_length)
    app.before_request(_authenticate_and_limit)
    app.after_request(_add_headers)
    app.register_error_handler(OktaError, _okta_error_response)
    app.register_error_handler(HTTPException, _http_error_response)
    app.register_error_handler(Exception, _unexpected_error_response)

    from .api import admin, apps, groups, hooks, logs, users
    from .oidc import blueprint as oidc_blueprint

    for module in (users, groups, apps, logs, hooks, admin):
        app.register_blueprint(module.blueprint)
    app.register_blueprint(oidc_blueprint)

    app.wsgi_app = FaultMiddleware(app.wsgi_app, runtime.faults, new_request_id)
    app.wsgi_app = ConcurrencyMiddleware(app.wsgi_app, runtime.limiter, new_request_id)
    return app


def runtime():
    from flask import current_app

    return current_app.extensions["okta_emulator"]


def base_url():
    """Return the org URL as the client sees it, e.g. "http://127.0.0.1:8001".

    This is `serve --public-url` when set, otherwise the scheme and Host header of the request.
    """
    public_url = runtime().settings.public_url
    if public_url:
        return public_url
    return request.host_url.rstrip("/")


def json_response(body, status=200, headers=None):
    """Return a JSON response from a str (already serialized) or any JSON-serializable value."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return Response(text, status=status, headers=headers, content_type=JSON_TYPE)


def empty_response(status=204):
    response = Response(b"", status=status)
    # A 204 has no body, so it gets no Content-Type either (Flask would add text/html).
    del response.headers["Content-Type"]
    return response


def read_json(required=True):
    """Return the request's JSON body; 400 E0000003 when it is missing or not JSON."""
    raw = request.get_data(cache=True)
    if not raw:
        if required:
            raise OktaError("E0000003", causes=["The request body is missing."])
        return {}
    try:
        return json.loads(raw)
    except ValueError as error:
        raise OktaError(
            "E0000003", causes=[f"The request body is not valid JSON: {error}"]
        ) from None


def current_actor():
    """Return the System Log actor of this request: the API token's admin user, or the token itself."""
    token_row = g.get("api_token_row")
    store = runtime().store
    if token_row is not None and token_row["user_id"]:
        user = store.get_user(token_row["user_id"])
        if user is not None:
            return user_actor(user)
    name = token_row["name"] if token_row is not None else "API token"
    return {"id": "00temulatorapitoken1", "type": "Token", "alternateId": name, "displayName": name}


def _bearer_api_token():
    header = request.headers.get("Authorization", "")
    # Okta documents "SSWS <token>"; the okta SDK 3.4.6 sends "SSWS<token>" without the space.
    if not header.startswith("SSWS"):
        return None
    return header[4:].strip() or None


def _check_api_token():
    state = runtime()
    token = _bearer_api_token()
    if token is None:
        raise OktaError("E0000011", causes=["Send the API token as 'Authorization: SSWS <token>'."])
    override = state.settings.api_token_override
    if override:
        if not secrets.compare_digest(token, override):
            raise OktaError("E0000011")
        g.api_token_row = state.store.one(
            "SELECT token, name, user_id FROM api_tokens ORDER BY rowid LIMIT 1"
        )
        return
    row = state.store.token_owner(token)
    if row is None:
        raise OktaError("E0000011")
    g.api_token_row = row


def _length_required():
    # NOTE: Okta returns 411 for a body-less POST or PUT without Content-Length, but neither its
    # OpenAPI spec nor the recorded traffic shows the body. This guess uses Okta's JSON error shape.
    return OktaError(
        "E0000003",
        status=411,
        summary="Length Required",
        causes=["Send 'Content-Length: 0' with a POST or PUT that has no body."],
    )


def _require_content_length():
    """Reject a Management API POST or PUT that has neither Content-Length nor Transfer-Encoding."""
    if request.method not in ("POST", "PUT") or not request.path.startswith("/api/v1/"):
        return None
    # waitress decodes a chunked body itself, then sets CONTENT_LENGTH and drops the
    # Transfer-Encoding header. Other WSGI servers may pass Transfer-Encoding on.
    environ = request.environ
    if environ.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in environ:
        return None
    raise _length_required()


def _authenticate_and_limit():
    path = request.path
    g.request_id = request.environ.get("okta_emulator.request_id") or new_request_id()
    uses_api_token = path.startswith("/api/") or path.startswith("/_emulator/")
    if uses_api_token:
        _check_api_token()
    if path.startswith("/_emulator/"):
        return None
    verdict = runtime().limiter.hit(request.method, path, "token" if uses_api_token else "org")
    if verdict is None:
        return None
    allowed, limit, remaining, reset = verdict
    g.rate_limit = (limit, remaining, reset)
    if not allowed:
        logger.info(
            "rate limit exceeded: %s %s (limit %s, resets at %s)",
            request.method,
            path,
            limit,
            reset,
        )
        raise OktaError("E0000047")
    return None


def _add_headers(response):
    response.headers["X-Okta-Request-Id"] = g.get("request_id") or request.environ.get(
        "okta_emulator.request_id", ""
    )
    rate_limit = g.get("rate_limit")
    if rate_limit is not None:
        limit, remaining, reset = rate_limit
        response.headers["X-Rate-Limit-Limit"] = str(limit)
        response.headers["X-Rate-Limit-Remaining"] = str(remaining)
        response.headers["X-Rate-Limit-Reset"] = str(reset)
    return response


def _okta_error_response(error):
    if request.path.startswith("/oauth2/"):
        body = {"error": "server_error", "error_description": error.summary}
        if error.code == "E0000047":
            body = {"error": "too_many_requests", "error_description": error.summary}
        return json_response(body, status=error.status)
    return json_response(error.body(), status=error.status)


def _http_error_response(error):
    if request.path.startswith("/oauth2/") and error.code == 404:
        return json_response(OktaError("E0000007", f"{request.path} (Path)").body(), status=404)
    if error.code == 404:
        return _okta_error_response(OktaError("E0000007", f"{request.path} (Path)"))
    if error.code == 405:
        return _okta_error_response(OktaError("E0000022"))
    if error.code == 411:
        return _okta_error_response(_length_required())
    return _okta_error_response(
        OktaError("E0000009", status=error.code, summary=error.description or error.name)
    )


def _unexpected_error_response(error):
    logger.exception(
        "unhandled error on %s %s (request %s)", request.method, request.path, g.get("request_id")
    )
    return _okta_error_response(OktaError("E0000009"))
