"""Per-bucket rate limits with Okta's published per-minute numbers and the API-token share, and
Okta's per-org limit on requests in flight.

Each bucket counts requests in a window that starts with the first request after the previous
window ended, so windows are not aligned to the minute (Okta's are not either). The window
length is configurable so tests can use windows of a few seconds.
"""

import logging
import math
import re
import threading

from werkzeug.wsgi import ClosingIterator

from . import clock
from .faults import error_response

logger = logging.getLogger(__name__)

# (bucket name, HTTP methods or None for all, path pattern, requests per minute). First match wins.
# Numbers are Okta's last published Workforce defaults. NOTE: the eventHooks, "other /api/v1"
# and "other /oauth2" numbers are estimates; Okta publishes no number for them that we could find.
DEFAULT_BUCKETS = (
    ("users_get", {"GET"}, r"^/api/v1/users/[^/]+$", 2000),
    ("users_list_create", {"GET", "POST"}, r"^/api/v1/users$", 600),
    ("users", None, r"^/api/v1/users(/|$)", 600),
    ("group_by_id", None, r"^/api/v1/groups/[^/]+$", 1000),
    ("groups", None, r"^/api/v1/groups(/|$)", 500),
    ("app_by_id", None, r"^/api/v1/apps/[^/]+$", 500),
    ("apps", None, r"^/api/v1/apps(/|$)", 100),
    ("logs", None, r"^/api/v1/logs$", 120),
    ("event_hooks", None, r"^/api/v1/eventHooks(/|$)", 100),
    ("api_other", None, r"^/api/", 1200),
    ("oauth2_token", None, r"^/oauth2/[^/]+/v1/token$", 2000),
    ("oauth2_authorize", None, r"^/oauth2/[^/]+/v1/authorize$", 2000),
    ("oauth2_other", None, r"^/oauth2/", 2000),
)

# Okta's default limit on simultaneous requests per org.
DEFAULT_CONCURRENCY_LIMIT = 75
# A concurrency 429 carries an estimated X-Rate-Limit-Reset. NOTE: Okta publishes no rule for
# that estimate, so the emulator sends the current second plus this many seconds.
CONCURRENCY_RESET_SECONDS = 2


class RateLimiter:
    """Rate-limit state: request counts per (bucket, principal) and the number of requests in
    flight. `enabled` switches both limits on or off."""

    def __init__(
        self,
        enabled=True,
        window_seconds=60.0,
        token_share=0.5,
        concurrency_limit=DEFAULT_CONCURRENCY_LIMIT,
    ):
        self._lock = threading.Lock()
        self._buckets = [
            (name, methods, re.compile(pattern), limit)
            for name, methods, pattern, limit in DEFAULT_BUCKETS
        ]
        self.limits = {name: limit for name, _m, _p, limit in DEFAULT_BUCKETS}
        self.enabled = enabled
        self.window_seconds = window_seconds
        self.token_share = token_share
        self.concurrency_limit = concurrency_limit
        self._windows = {}
        self._in_flight = 0

    def configure(
        self,
        enabled=None,
        window_seconds=None,
        token_share=None,
        limits=None,
        concurrency_limit=None,
    ):
        """Change settings at run time; raise ValueError naming the invalid value."""
        with self._lock:
            if concurrency_limit is not None:
                if (
                    not isinstance(concurrency_limit, int)
                    or isinstance(concurrency_limit, bool)
                    or concurrency_limit < 1
                ):
                    raise ValueError(
                        "concurrency_limit must be a positive integer (requests in flight), "
                        f"not {concurrency_limit!r}"
                    )
                self.concurrency_limit = concurrency_limit
            if window_seconds is not None:
                if not isinstance(window_seconds, (int, float)) or window_seconds <= 0:
                    raise ValueError(
                        f"window_seconds must be a positive number, not {window_seconds!r}"
                    )
                self.window_seconds = float(window_seconds)
            if token_share is not None:
                if not isinstance(token_share, (int, float)) or not 0 < token_share <= 1:
                    raise ValueError(f"token_share must be a number in (0, 1], not {token_share!r}")
                self.token_share = float(token_share)
            for name, limit in (limits or {}).items():
                if name not in self.limits:
                    raise ValueError(
                        f"unknown rate-limit bucket {name!r}; buckets: {sorted(self.limits)}"
                    )
                if not isinstance(limit, int) or limit < 1:
                    raise ValueError(f"limit of {name} must be a positive integer, not {limit!r}")
                self.limits[name] = limit
            if enabled is not None:
                self.enabled = bool(enabled)
            self._windows.clear()

    def reset_defaults(self, enabled, window_seconds, token_share, concurrency_limit):
        # The count of requests in flight stays: those requests still finish after the reset.
        with self._lock:
            self.limits = {name: limit for name, _m, _p, limit in DEFAULT_BUCKETS}
            self.enabled = enabled
            self.window_seconds = window_seconds
            self.token_share = token_share
            self.concurrency_limit = concurrency_limit
            self._windows.clear()

    def describe(self):
        return {
            "enabled": self.enabled,
            "window_seconds": self.window_seconds,
            "token_share": self.token_share,
            "concurrency_limit": self.concurrency_limit,
            "limits": dict(self.limits),
        }

    def bucket_for(self, method, path):
        for name, methods, pattern, _limit in self._buckets:
            if (methods is None or method in methods) and pattern.match(path):
                return name
        return None

    def hit(self, method, path, principal):
        """Count one request; return (allowed, limit, remaining, reset epoch seconds) or None if unlimited."""
        if not self.enabled:
            return None
        bucket = self.bucket_for(method, path)
        if bucket is None:
            return None
        limit = self.limits[bucket]
        if principal == "token":
            limit = max(1, math.floor(limit * self.token_share))
        now = clock.now()
        with self._lock:
            window = self._windows.get((bucket, principal))
            if window is None or now >= window[0] + self.window_seconds:
                window = [now, 0]
                self._windows[(bucket, principal)] = window
            reset = math.ceil(window[0] + self.window_seconds)
            if window[1] >= limit:
                return False, limit, 0, reset
            window[1] += 1
            return True, limit, limit - window[1], reset

    def start_request(self):
        """Count one more request in flight and return True, or return False at the limit."""
        with self._lock:
            if self.enabled and self._in_flight >= self.concurrency_limit:
                return False
            self._in_flight += 1
            return True

    def finish_request(self):
        with self._lock:
            self._in_flight -= 1


class ConcurrencyMiddleware:
    """WSGI middleware: Okta's per-org limit on requests in flight.

    It wraps the fault middleware, so a request counts while it waits out injected latency.
    Requests to /_emulator/ are not counted and never rejected. A request over the limit gets
    429 E0000047 (an OAuth error on /oauth2/ paths) with X-Rate-Limit-Limit and -Remaining 0,
    as Okta reports a concurrency 429, and an estimated reset.
    """

    def __init__(self, app, limiter, request_id_factory):
        self.app = app
        self.limiter = limiter
        self.request_id_factory = request_id_factory

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self.app(environ, start_response)
        if not self.limiter.start_request():
            logger.info(
                "concurrency limit exceeded: %s %s (limit %s requests in flight)",
                environ.get("REQUEST_METHOD"),
                path,
                self.limiter.concurrency_limit,
            )
            reset = math.ceil(clock.now()) + CONCURRENCY_RESET_SECONDS
            return error_response(
                429,
                path,
                self.request_id_factory(),
                start_response,
                description="Too many concurrent requests.",
                rate_limit_reset=reset,
            )
        try:
            response = self.app(environ, start_response)
        except BaseException:
            self.limiter.finish_request()
            raise
        # The request stays in flight until the server has sent the body and closed it.
        return ClosingIterator(response, self.limiter.finish_request)
