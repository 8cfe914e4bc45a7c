"""Fault injection, switched at run time through /_emulator/faults and never on by default.

A rule matches requests by path pattern (fnmatch syntax, e.g. "/api/v1/groups/*/users/*") and
optionally by method. A matching request waits latency_ms, then, for the given fraction of
matches, gets the rule's status code with an Okta-style error body, or has its connection
dropped without any response. Event hook deliveries can be duplicated or reordered.
"""

import fnmatch
import itertools
import json
import math
import random
import threading
import time

from . import clock
from .errors import OktaError, new_error_id

FAULT_ERROR_CODES = {
    401: "E0000011",
    403: "E0000006",
    404: "E0000007",
    429: "E0000047",
    500: "E0000009",
    501: "E0000060",
    503: "E0000010",
}
OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "too_many_requests",
    503: "temporarily_unavailable",
}


class FaultRule:
    _ids = itertools.count(1)

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault rule must be a JSON object")
        unknown = set(spec) - {
            "path",
            "methods",
            "fraction",
            "status",
            "drop",
            "latency_ms",
            "count",
        }
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        self.path = spec.get("path")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ValueError(
                f"path must be a pattern starting with '/', e.g. '/api/v1/groups/*', not {self.path!r}"
            )
        methods = spec.get("methods")
        if methods is not None and (
            not isinstance(methods, list) or not all(isinstance(m, str) for m in methods)
        ):
            raise ValueError('methods must be a list of HTTP methods, e.g. ["PUT", "DELETE"]')
        self.methods = {m.upper() for m in methods} if methods else None
        self.fraction = spec.get("fraction", 1.0)
        if not isinstance(self.fraction, (int, float)) or not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction must be a number from 0 to 1, not {self.fraction!r}")
        self.status = spec.get("status")
        if self.status is not None and (
            not isinstance(self.status, int) or not 400 <= self.status <= 599
        ):
            raise ValueError(
                f"status must be an HTTP error status from 400 to 599, not {self.status!r}"
            )
        self.drop = bool(spec.get("drop", False))
        self.latency_ms = spec.get("latency_ms", 0)
        if not isinstance(self.latency_ms, (int, float)) or self.latency_ms < 0:
            raise ValueError(f"latency_ms must be a non-negative number, not {self.latency_ms!r}")
        if self.status is None and not self.drop and not self.latency_ms:
            raise ValueError("a fault rule needs status, drop or latency_ms")
        if self.status is not None and self.drop:
            raise ValueError("choose either status or drop, not both")
        self.count = spec.get("count")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise ValueError(
                f"count must be a positive integer (how many failures to inject), not {self.count!r}"
            )
        self.id = next(self._ids)
        self.injected = 0

    def matches(self, method, path):
        return (self.methods is None or method in self.methods) and fnmatch.fnmatchcase(
            path, self.path
        )

    def describe(self):
        return {
            "id": self.id,
            "path": self.path,
            "methods": sorted(self.methods) if self.methods else None,
            "fraction": self.fraction,
            "status": self.status,
            "drop": self.drop,
            "latency_ms": self.latency_ms,
            "count": self.count,
            "injected": self.injected,
        }


class Faults:
    """The active fault rules and event hook delivery faults; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self.hook_duplicate_fraction = 0.0
        self.hook_reorder = False
        self._random = random.Random()

    def add(self, spec):
        rule = FaultRule(spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def set_hook_faults(self, duplicate_fraction=None, reorder=None):
        if duplicate_fraction is not None:
            if not isinstance(duplicate_fraction, (int, float)) or not 0 <= duplicate_fraction <= 1:
                raise ValueError(
                    f"duplicate_fraction must be a number from 0 to 1, not {duplicate_fraction!r}"
                )
            self.hook_duplicate_fraction = float(duplicate_fraction)
        if reorder is not None:
            self.hook_reorder = bool(reorder)

    def remove(self, rule_id):
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self):
        with self._lock:
            self._rules = []
        self.hook_duplicate_fraction = 0.0
        self.hook_reorder = False

    def describe(self):
        with self._lock:
            rules = [rule.describe() for rule in self._rules]
        return {
            "rules": rules,
            "hooks": {
                "duplicate_fraction": self.hook_duplicate_fraction,
                "reorder": self.hook_reorder,
            },
        }

    def pick(self, method, path):
        """Return (latency seconds, rule to inject or None) for a request."""
        if not self._rules:
            return 0.0, None
        latency = 0.0
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                latency = max(latency, rule.latency_ms / 1000)
                if chosen is not None or (rule.status is None and not rule.drop):
                    continue
                if rule.count is not None and rule.injected >= rule.count:
                    continue
                if self._random.random() < rule.fraction:
                    rule.injected += 1
                    chosen = rule
        return latency, chosen

    def duplicate_delivery(self):
        return (
            self.hook_duplicate_fraction > 0
            and self._random.random() < self.hook_duplicate_fraction
        )


class ConnectionDropped(Exception):
    """Raised to make waitress close the connection without sending a response."""


def _disconnect_exception():
    try:
        from waitress.channel import ClientDisconnected
    except ImportError:  # pragma: no cover - waitress is a runtime dependency
        return ConnectionDropped
    return ClientDisconnected


class FaultMiddleware:
    """WSGI middleware: assigns the request id and injects the configured faults."""

    def __init__(self, app, faults, request_id_factory):
        self.app = app
        self.faults = faults
        self.request_id_factory = request_id_factory
        self._disconnect = _disconnect_exception()

    def __call__(self, environ, start_response):
        request_id = self.request_id_factory()
        environ["okta_emulator.request_id"] = request_id
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self.app(environ, start_response)
        latency, rule = self.faults.pick(environ.get("REQUEST_METHOD", "GET"), path)
        if latency:
            time.sleep(latency)
        if rule is None:
            return self.app(environ, start_response)
        if rule.drop:
            raise self._disconnect("fault injection: connection dropped")
        return error_response(rule.status, path, request_id, start_response)


def error_response(
    status, path, request_id, start_response, *, description=None, rate_limit_reset=None
):
    """Send an error response from WSGI middleware, outside the Flask app.

    The body is Okta's JSON error, or on /oauth2/ paths an OAuth error whose error_description
    is `description` (by default it names an injected fault). A 429 also gets
    X-Rate-Limit-Limit and -Remaining 0 and X-Rate-Limit-Reset (epoch seconds, by default the
    next second).
    """
    headers = [("Content-Type", "application/json"), ("X-Okta-Request-Id", request_id)]
    if path.startswith("/oauth2/"):
        body = {
            "error": OAUTH_ERRORS.get(status, "server_error"),
            "error_description": description or f"Injected fault: HTTP {status}",
        }
        if status == 401:
            headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
    else:
        code = FAULT_ERROR_CODES.get(status, "E0000009")
        error = (
            OktaError(code, "injected fault", status=status)
            if code in ("E0000007",)
            else OktaError(code, status=status)
        )
        body = error.body()
        body["errorId"] = new_error_id()
    if status == 429:
        reset = rate_limit_reset or math.ceil(clock.now()) + 1
        headers += [
            ("X-Rate-Limit-Limit", "0"),
            ("X-Rate-Limit-Remaining", "0"),
            ("X-Rate-Limit-Reset", str(reset)),
        ]
    payload = json.dumps(body).encode()
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{status} {_reason(status)}", headers)
    return [payload]


def _reason(status):
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
