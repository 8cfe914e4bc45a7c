"""Per-bucket rate limits with Okta's published per-minute numbers and the API-token share.

Each bucket counts requests in a window that starts with the first request after the previous
window ended, so windows are not aligned to the minute (Okta's are not either). The window
length is configurable so tests can use windows of a few seconds.
"""

import math
import re
import threading

from . import clock

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


class RateLimiter:
    """Counts requests per (bucket, principal) and decides whether one more is allowed."""

    def __init__(self, enabled=True, window_seconds=60.0, token_share=0.5):
        self._lock = threading.Lock()
        self._buckets = [
            (name, methods, re.compile(pattern), limit)
            for name, methods, pattern, limit in DEFAULT_BUCKETS
        ]
        self.limits = {name: limit for name, _m, _p, limit in DEFAULT_BUCKETS}
        self.enabled = enabled
        self.window_seconds = window_seconds
        self.token_share = token_share
        self._windows = {}

    def configure(self, enabled=None, window_seconds=None, token_share=None, limits=None):
        """Change settings at run time; raise ValueError naming the invalid value."""
        with self._lock:
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

    def reset_defaults(self, enabled, window_seconds, token_share):
        with self._lock:
            self.limits = {name: limit for name, _m, _p, limit in DEFAULT_BUCKETS}
            self.enabled = enabled
            self.window_seconds = window_seconds
            self.token_share = token_share
            self._windows.clear()

    def describe(self):
        return {
            "enabled": self.enabled,
            "window_seconds": self.window_seconds,
            "token_share": self.token_share,
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
