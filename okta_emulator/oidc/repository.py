"""SQL over the OIDC provider's own tables (okta_emulator/oidc/schema.sql).

Every function takes an open sqlite3 connection; callers that write wrap the call in the
store's transaction.
"""

import json
import secrets

from okta_emulator.oidc.models import AuthorizationCode, IssuedToken

_SELECT_TOKEN = (
    "SELECT id, access_token_jti, refresh_token, client_id, user_id, scope, auth_time, issued_at, "
    "expires_in, access_token_revoked, refresh_token_revoked FROM oidc_tokens "
)

# Sessions of the sign-in page.


def create_session(connection, user_id: str, auth_time: int, now: float) -> str:
    session_id = secrets.token_urlsafe(32)
    connection.execute(
        "INSERT INTO oidc_sessions (id, user_id, auth_time, created) VALUES (?, ?, ?, ?)",
        (session_id, user_id, auth_time, now),
    )
    return session_id


def get_session(connection, session_id: str) -> tuple[str, int] | None:
    """Return (user_id, auth_time) of a live session, or None."""
    row = connection.execute(
        "SELECT user_id, auth_time FROM oidc_sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if row is None:
        return None
    return row[0], row[1]


def delete_session(connection, session_id: str) -> None:
    connection.execute("DELETE FROM oidc_sessions WHERE id = ?", (session_id,))


# Authorization codes.


def save_authorization_code(connection, code: AuthorizationCode) -> None:
    connection.execute(
        "INSERT INTO oidc_authorization_codes (code, client_id, user_id, redirect_uri, scope, "
        "nonce, code_challenge, code_challenge_method, auth_time, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            code.code,
            code.client_id,
            code.user_id,
            code.redirect_uri,
            code.scope,
            code.nonce,
            code.code_challenge,
            code.code_challenge_method,
            code.auth_time,
            code.expires_at,
        ),
    )


def get_authorization_code(connection, code: str) -> AuthorizationCode | None:
    row = connection.execute(
        "SELECT code, client_id, user_id, redirect_uri, scope, nonce, code_challenge, "
        "code_challenge_method, auth_time, expires_at FROM oidc_authorization_codes WHERE code = ?",
        (code,),
    ).fetchone()
    return AuthorizationCode(*row) if row else None


def consume_authorization_code(connection, code: str) -> bool:
    """Delete the code; return False if another request consumed it first."""
    cursor = connection.execute("DELETE FROM oidc_authorization_codes WHERE code = ?", (code,))
    return cursor.rowcount == 1


# Issued tokens.


def save_token(connection, token: IssuedToken) -> None:
    connection.execute(
        "INSERT INTO oidc_tokens (access_token_jti, refresh_token, client_id, user_id, scope, "
        "auth_time, issued_at, expires_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            token.access_token_jti,
            token.refresh_token,
            token.client_id,
            token.user_id,
            token.scope,
            token.auth_time,
            token.issued_at,
            token.expires_in,
        ),
    )


def find_token_by_jti(connection, jti: str) -> IssuedToken | None:
    row = connection.execute(_SELECT_TOKEN + "WHERE access_token_jti = ?", (jti,)).fetchone()
    return _issued_token(row, "access_token")


def find_token_by_refresh_token(connection, refresh_token: str) -> IssuedToken | None:
    row = connection.execute(
        _SELECT_TOKEN + "WHERE refresh_token = ? ORDER BY id LIMIT 1",
        (refresh_token,),
    ).fetchone()
    return _issued_token(row, "refresh_token")


def _issued_token(row, presented: str) -> IssuedToken | None:
    if row is None:
        return None
    values = list(row)
    values[9] = bool(values[9])
    values[10] = bool(values[10])
    return IssuedToken(*values, presented=presented)


def revoke_access_token(connection, token_id: int) -> None:
    connection.execute("UPDATE oidc_tokens SET access_token_revoked = 1 WHERE id = ?", (token_id,))


def revoke_refresh_token(connection, refresh_token: str) -> None:
    """Revoke a refresh token and every access token minted from it, as Okta does."""
    connection.execute(
        "UPDATE oidc_tokens SET refresh_token_revoked = 1, access_token_revoked = 1 "
        "WHERE refresh_token = ?",
        (refresh_token,),
    )


# ID token overrides (test hook).


def add_id_token_override(
    connection, client_id: str, count: int, claims: dict, remove_claims: list, bad_signature: bool
) -> int:
    cursor = connection.execute(
        "INSERT INTO oidc_id_token_overrides "
        "(client_id, remaining, claims, remove_claims, bad_signature) VALUES (?, ?, ?, ?, ?)",
        (client_id, count, json.dumps(claims), json.dumps(remove_claims), int(bad_signature)),
    )
    return cursor.lastrowid


def take_id_token_override(connection, client_id: str) -> dict | None:
    """Use up one ID token of the oldest pending override for client_id and return it."""
    row = connection.execute(
        "SELECT id, claims, remove_claims, bad_signature FROM oidc_id_token_overrides "
        "WHERE client_id = ? AND remaining > 0 ORDER BY id LIMIT 1",
        (client_id,),
    ).fetchone()
    if row is None:
        return None
    connection.execute(
        "UPDATE oidc_id_token_overrides SET remaining = remaining - 1 WHERE id = ?", (row[0],)
    )
    connection.execute("DELETE FROM oidc_id_token_overrides WHERE remaining <= 0")
    return {
        "claims": json.loads(row[1]),
        "remove_claims": json.loads(row[2]),
        "bad_signature": bool(row[3]),
    }


def list_id_token_overrides(connection) -> list[dict]:
    rows = connection.execute(
        "SELECT id, client_id, remaining, claims, remove_claims, bad_signature "
        "FROM oidc_id_token_overrides ORDER BY id"
    ).fetchall()
    return [
        {
            "id": row[0],
            "clientId": row[1],
            "remaining": row[2],
            "claims": json.loads(row[3]),
            "removeClaims": json.loads(row[4]),
            "badSignature": bool(row[5]),
        }
        for row in rows
    ]


def clear_id_token_overrides(connection) -> None:
    connection.execute("DELETE FROM oidc_id_token_overrides")


# Client redirect URIs (test hook).


def add_client_uris(
    connection, client_id: str, redirect_uris: list, post_logout_redirect_uris: list
) -> dict:
    """Append URIs to the client's Login and Logout redirect URIs; return both lists."""
    row = connection.execute(
        "SELECT redirect_uris, post_logout_redirect_uris FROM oauth_clients WHERE client_id = ?",
        (client_id,),
    ).fetchone()
    current = {"redirectUris": json.loads(row[0]), "postLogoutRedirectUris": json.loads(row[1])}
    for key, added in (
        ("redirectUris", redirect_uris),
        ("postLogoutRedirectUris", post_logout_redirect_uris),
    ):
        current[key] += [uri for uri in added if uri not in current[key]]
    connection.execute(
        "UPDATE oauth_clients SET redirect_uris = ?, post_logout_redirect_uris = ? "
        "WHERE client_id = ?",
        (
            json.dumps(current["redirectUris"]),
            json.dumps(current["postLogoutRedirectUris"]),
            client_id,
        ),
    )
    return current
