"""The canonical form of an audit event and its SHA-256 hash.

An auditor can recompute every hash from a database dump with nothing but this description:

1. Take the row's columns listed in `HASHED_FIELDS`, each under its column name, plus
   `prev_hash` (64 zeros for the first event). Values are JSON: null for NULL, integers for the
   integer columns (`sequence`, `actor_id`, `subject_user_id`, `access_request_id`,
   `grant_id`), strings for the text columns, `created_at` as UTC in the form
   `2026-01-31T09:05:03.000123Z` (always six fractional digits), `ip` as the database returns
   it (IPv4 dotted; IPv6 compressed, with an IPv4-mapped address as `::ffff:10.0.0.1`), and
   `payload` as the stored JSON value.
2. Numbers inside the payload: a float with an integral value is written as that integer
   (PostgreSQL's jsonb stores 1e20 as 100000000000000000000, so both must hash alike); any
   other float is written in Python's shortest round-trip form (`repr`).
3. Serialise as JSON with object keys sorted by code point, no whitespace
   (separators "," and ":"), non-ASCII characters as themselves (not \\u escapes), and encode
   as UTF-8.
4. `hash` is the lowercase hex SHA-256 of those bytes.

`prev_hash` is the previous event's `hash`, so changing, removing or inserting any event breaks
every later link.
"""

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "sequence",
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "subject_user_id",
    "resource_okta_id",
    "resource_name",
    "access_request_id",
    "grant_id",
    "payload",
    "okta_request_id",
    "ip",
    "user_agent",
    "prev_hash",
)


def format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"audit timestamps must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_value(value: Any) -> Any:
    """Return `value` with floats normalised as the canonical form requires."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit payloads cannot contain {value!r}: JSON has no such number")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(key): canonical_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical_value(item) for item in value]
    raise TypeError(f"audit payload value {value!r} of type {type(value).__name__} is not JSON")


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """Serialise an event's hashed fields (a mapping with every name in HASHED_FIELDS)."""
    document = {}
    for name in HASHED_FIELDS:
        value = fields[name]
        if name == "created_at":
            value = format_timestamp(value)
        elif name == "ip" and value is not None:
            value = str(value)
        document[name] = canonical_value(value)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def compute_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()
