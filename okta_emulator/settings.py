"""Start-up settings of the emulator process; the admin endpoints change some of them at run time."""

import os
from dataclasses import dataclass, field

from .ratelimit import DEFAULT_CONCURRENCY_LIMIT

DEFAULT_STATE = "var/okta_emulator.sqlite3"
DEFAULT_PORT = 8001


def _env_float(name, default):
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, not {raw!r}") from None


@dataclass
class Settings:
    # Replaces the seed file's API tokens when set (environment variable OKTA_EMULATOR_API_TOKEN).
    api_token_override: str | None = field(
        default_factory=lambda: os.environ.get("OKTA_EMULATOR_API_TOKEN") or None
    )
    rate_limits_enabled: bool = True
    rate_limit_window_seconds: float = 60.0
    # Share of each bucket's limit that one API token may use (Okta's default is 50%).
    token_rate_limit_share: float = 0.5
    # Maximum requests in flight per org, enforced only while rate limits are enabled.
    concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT
    # Event hook delivery: Okta waits 3 s for a response and retries once on a timeout or a 5xx.
    hook_timeout_seconds: float = field(
        default_factory=lambda: _env_float("OKTA_EMULATOR_HOOK_TIMEOUT", 3.0)
    )
    hook_max_attempts: int = 2
    hook_retry_delay_seconds: float = 1.0
    hook_batch_size: int = 50
    hook_deliveries_enabled: bool = True
    # Base URL that clients use, such as "https://127.0.0.1:8201" behind a TLS terminator. Every
    # URL the emulator names (issuer, discovery, Link headers, _links) starts with it when set.
    # None means the URL of each request (its Host header and http://).
    public_url: str | None = None
