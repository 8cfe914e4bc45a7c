"""Okta-style paging: `limit` checking, opaque `after` cursors and one combined Link header."""

import base64
import binascii
from urllib.parse import urlencode

from .errors import validation_failed


def parse_limit(args, default, maximum):
    """Return the request's limit: default when absent, capped at maximum; 400 if not a positive integer."""
    raw = args.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_failed("limit", f"must be an integer, not {raw!r}") from None
    if value < 1:
        raise validation_failed("limit", f"must be at least 1, not {value}")
    return min(value, maximum)


def encode_cursor(value):
    """Return an opaque cursor for a sort key (a string)."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """Return the sort key inside a cursor from encode_cursor(); 400 E0000001 if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = None
    # The decoder skips characters outside its alphabet, so only a round trip proves the cursor is ours.
    if value is None or encode_cursor(value) != cursor:
        raise validation_failed(
            "after", f"invalid paging cursor {cursor!r}: pass the after value of a next link"
        )
    return value


def link_header(base, path, params, next_cursor):
    """Return the Link header value: rel="self" and, when next_cursor is set, rel="next".

    Both links go into one header because the okta SDK keeps only the last of repeated headers.
    """
    kept = {key: value for key, value in params.items() if key != "after" and value is not None}
    self_query = urlencode(params and {k: v for k, v in params.items() if v is not None})
    self_url = f"{base}{path}" + (f"?{self_query}" if self_query else "")
    value = f'<{self_url}>; rel="self"'
    if next_cursor is not None:
        next_query = urlencode({**kept, "after": next_cursor})
        value += f', <{base}{path}?{next_query}>; rel="next"'
    return value
