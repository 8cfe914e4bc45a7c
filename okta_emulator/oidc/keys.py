"""Signing keys of the authorization server.

The RS256 key is generated on first use and stored in the state file (table
oidc_signing_keys, which `reset` keeps), so the JWKS stays the same across restarts and
resets. A second, in-memory key signs the "bad signature" tokens of the test hooks: it is
never published, so a client that checks signatures must reject what it signs.
"""

import functools
import json
import threading

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from okta_emulator import clock

SIGNING_ALGORITHM = "RS256"
RSA_KEY_SIZE = 2048

_load_lock = threading.Lock()


def load_or_create_signing_key(store) -> RSAKey:
    """Return the stored signing key, generating and storing it on the first call."""
    row = store.db.execute(
        "SELECT private_jwk FROM oidc_signing_keys ORDER BY created LIMIT 1"
    ).fetchone()
    if row is not None:
        return RSAKey.import_key(json.loads(row[0]))

    # Two threads of a fresh emulator may both find the table empty. The lock keeps one
    # process from storing two keys, and INSERT OR IGNORE plus the re-read below make a
    # second process that raced us adopt the first stored key.
    with _load_lock:
        key = RSAKey.generate_key(
            RSA_KEY_SIZE, parameters={"use": "sig", "alg": SIGNING_ALGORITHM}, auto_kid=True
        )
        with store.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO oidc_signing_keys (kid, private_jwk, created) "
                "VALUES (?, ?, ?)",
                (key.kid, json.dumps(key.as_dict(private=True)), clock.now()),
            )
            row = connection.execute(
                "SELECT private_jwk FROM oidc_signing_keys ORDER BY created LIMIT 1"
            ).fetchone()
        return RSAKey.import_key(json.loads(row[0]))


def public_jwks(signing_key: RSAKey) -> dict:
    """Return the JWKS document of the keys endpoint, in Okta's field set."""
    public = signing_key.as_dict(private=False)
    return {
        "keys": [
            {
                "kty": "RSA",
                "alg": SIGNING_ALGORITHM,
                "kid": signing_key.kid,
                "use": "sig",
                "e": public["e"],
                "n": public["n"],
            }
        ]
    }


def verification_key_set(signing_key: RSAKey) -> KeySet:
    return KeySet([RSAKey.import_key(signing_key.as_dict(private=False))])


@functools.cache
def unpublished_key() -> RSAKey:
    """Return a per-process RSA key that is not in the JWKS, for bad-signature test tokens."""
    return RSAKey.generate_key(
        RSA_KEY_SIZE, parameters={"use": "sig", "alg": SIGNING_ALGORITHM}, auto_kid=True
    )


def decode_own_jwt(token_string: str, key_set: KeySet) -> dict | None:
    """Return the claims of a JWT signed with our key (expiry not checked), or None."""
    try:
        return dict(jwt.decode(token_string, key_set, algorithms=[SIGNING_ALGORITHM]).claims)
    except (JoseError, ValueError):
        return None
