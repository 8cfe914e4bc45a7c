"""Time and id helpers. Every timestamp the emulator writes goes through now(), so tests can shift it."""

import secrets
import string
import time
from datetime import UTC, datetime

_ID_ALPHABET = string.ascii_letters + string.digits

# Seconds added to the wall clock; set through the /_emulator/clock admin endpoint.
_offset_seconds = 0.0


def set_offset(seconds):
    global _offset_seconds
    _offset_seconds = float(seconds)


def get_offset():
    return _offset_seconds


def now():
    """Return the emulator's current Unix time in seconds (wall clock plus the test offset)."""
    return time.time() + _offset_seconds


def iso(timestamp):
    """Format Unix seconds as Okta does: "2026-01-31T12:00:00.000Z"."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso():
    return iso(now())


def parse_iso(text):
    """Parse an ISO 8601 time ("…Z" or with an offset) to Unix seconds; raise ValueError if invalid."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def random_alphanumeric(length):
    """Return length random letters and digits from one os.urandom call (ids, request ids)."""
    number = int.from_bytes(secrets.token_bytes(length), "big")
    characters = []
    for _ in range(length):
        number, index = divmod(number, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[index])
    return "".join(characters)


def new_id(prefix):
    """Return a random 20-character Okta id with the given 3-character prefix ("00u", "00g", …)."""
    return prefix + random_alphanumeric(20 - len(prefix))
