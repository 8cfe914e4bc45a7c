"""Okta rate budget shared by every process that calls Okta with the same API token.

Okta counts calls per endpoint bucket in windows of about a minute and reports the
state of the window on every response (``X-Rate-Limit-Limit``, ``-Remaining``,
``-Reset``). Each worker alone sees only its own responses, so the budget lives in the
Django cache (Redis in production, the database in the default configuration):

- after every response, ``observe`` stores the lowest remaining count seen for the
  current window and the window's reset time;
- before every call, ``hold_until`` takes one unit from the stored count and tells the
  caller to wait until the reset once the count has fallen to the reserve.

The count is decremented before the call, so workers that start calls between two
responses do not all spend the same last units.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from portal.okta_api import RateLimitReading

logger = logging.getLogger(__name__)

# Units kept back per window, so that calls outside the portal's control (an admin's
# script with the same token, the SDK's own retries) do not tip the token into 429s.
RESERVE_FRACTION = 0.05
MIN_RESERVE = 2


class RateBudget:
    """Shared per-bucket budget stored in a Django cache."""

    def __init__(self, cache: Any, *, key_prefix: str = "okta-rate-budget") -> None:
        self.cache = cache
        self.key_prefix = key_prefix

    def observe(self, bucket: str, reading: RateLimitReading) -> None:
        """Store the rate-limit reading of Okta's latest response for ``bucket``."""
        window_key, remaining_key = self._keys(bucket)
        stored = self.cache.get(window_key)
        ttl = max(int(reading.reset_at - time.time()) + 60, 60)

        if stored is not None and stored["reset_at"] > reading.reset_at + 1:
            # A slower response from the previous window: the newer one wins.
            return
        same_window = stored is not None and abs(stored["reset_at"] - reading.reset_at) <= 1
        self.cache.set(
            window_key,
            {"limit": reading.limit, "reset_at": reading.reset_at},
            ttl,
        )
        current = self.cache.get(remaining_key) if same_window else None
        remaining = reading.remaining if current is None else min(current, reading.remaining)
        self.cache.set(remaining_key, remaining, ttl)

    def hold_until(self, bucket: str) -> float | None:
        """Take one unit for a call; return when to call instead if none is left.

        Returns None when the call may go ahead now, else the epoch second at which
        the window resets.
        """
        window_key, remaining_key = self._keys(bucket)
        window = self.cache.get(window_key)
        if window is None:
            return None
        now = time.time()
        if window["reset_at"] <= now:
            return None

        try:
            remaining = self.cache.decr(remaining_key)
        except ValueError:
            return None
        reserve = max(MIN_RESERVE, int(window["limit"] * RESERVE_FRACTION))
        if remaining >= reserve:
            return None
        logger.info(
            "Okta bucket %s: %d calls left of %d, holding until the reset in %.1f s",
            bucket,
            remaining,
            window["limit"],
            window["reset_at"] - now,
        )
        return window["reset_at"]

    def _keys(self, bucket: str) -> tuple[str, str]:
        return (
            f"{self.key_prefix}:{bucket}:window",
            f"{self.key_prefix}:{bucket}:remaining",
        )
