"""Claims of the ID token, the access token and the userinfo response, as Okta's custom
authorization server issues them.

`user` is a user in the Management API's shape: id, status, lastUpdated and a profile with
login, email, firstName, lastName and the optional locale and timezone.
"""

import datetime
import secrets

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core.util import create_half_hash

TOKEN_LIFETIME_SECONDS = 3600
TOKEN_VERSION = 1

# Okta's custom authorization server "default" issues access tokens for this audience.
DEFAULT_ACCESS_TOKEN_AUDIENCE = "api://default"  # noqa: S105 (an audience URI)

# Okta fails a token request whose groups claim would list more than this many groups.
GROUPS_CLAIM_LIMIT = 100

# Profile fields Okta fills from the user's profile when the profile leaves them unset.
DEFAULT_LOCALE = "en_US"
DEFAULT_ZONEINFO = "America/Los_Angeles"


class TooManyGroupsError(Exception):
    def __init__(self, count: int):
        super().__init__(
            f"The groups claim would list {count} groups, "
            f"more than the limit of {GROUPS_CLAIM_LIMIT}."
        )
        self.count = count


def new_token_id(prefix: str) -> str:
    """Return a jti in Okta's shape: a prefix ("ID" or "AT"), a dot and random characters."""
    return f"{prefix}.{secrets.token_urlsafe(32)}"


def full_name(profile: dict) -> str:
    return " ".join(part for part in (profile.get("firstName"), profile.get("lastName")) if part)


def checked_groups(group_names: list[str]) -> list[str]:
    if len(group_names) > GROUPS_CLAIM_LIMIT:
        raise TooManyGroupsError(len(group_names))
    return sorted(group_names)


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    org_id: str,
    user: dict,
    scopes: list[str],
    issued_at: int,
    auth_time: int,
    nonce: str | None,
    access_token: str | None,
    group_names: list[str] | None,
) -> dict:
    """Build the ID token claims in the order Okta sends them.

    name and preferred_username need the profile scope, email the email scope and groups the
    groups scope. The caller passes group_names only when the groups scope was granted.
    """
    profile = user["profile"]
    claims = {"sub": user["id"]}
    if "profile" in scopes:
        claims["name"] = full_name(profile)
    if "email" in scopes:
        claims["email"] = profile.get("email")
    claims.update(
        {
            "ver": TOKEN_VERSION,
            "iss": issuer,
            "aud": client_id,
            "iat": issued_at,
            "exp": issued_at + TOKEN_LIFETIME_SECONDS,
            "jti": new_token_id("ID"),
            "amr": ["pwd"],
            "idp": org_id,
        }
    )
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scopes:
        claims["preferred_username"] = profile.get("login")
    claims["auth_time"] = auth_time
    if access_token:
        claims["at_hash"] = create_half_hash(access_token, "RS256").decode("ascii")
    if group_names is not None:
        claims["groups"] = checked_groups(group_names)
    return claims


def access_token_claims(
    *,
    issuer: str,
    client_id: str,
    user: dict,
    scopes: list[str],
    issued_at: int,
    auth_time: int,
) -> dict:
    """Build the access token claims of Okta's custom authorization server.

    Okta puts the user's login in `sub` and the user id in `uid` here, unlike the ID token.
    """
    return {
        "ver": TOKEN_VERSION,
        "jti": new_token_id("AT"),
        "iss": issuer,
        "aud": DEFAULT_ACCESS_TOKEN_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + TOKEN_LIFETIME_SECONDS,
        "cid": client_id,
        "uid": user["id"],
        "scp": scopes,
        "auth_time": auth_time,
        "sub": user["profile"].get("login"),
    }


def userinfo_claims(user: dict, scope: str, group_names: list[str] | None) -> dict:
    """Build the userinfo response for a token with the given scope."""
    scopes = scope_to_list(scope) or []
    profile = user["profile"]
    claims = {"sub": user["id"]}
    if "profile" in scopes:
        claims.update(
            {
                "name": full_name(profile),
                "locale": profile.get("locale") or DEFAULT_LOCALE,
                "preferred_username": profile.get("login"),
                "given_name": profile.get("firstName"),
                "family_name": profile.get("lastName"),
                "zoneinfo": profile.get("timezone") or DEFAULT_ZONEINFO,
                "updated_at": okta_time_to_unix(user.get("lastUpdated")),
            }
        )
    if "email" in scopes:
        claims["email"] = profile.get("email")
        # NOTE: the emulator has no email verification, so every address counts as verified.
        claims["email_verified"] = True
    if group_names is not None:
        claims["groups"] = checked_groups(group_names)
    return claims


def okta_time_to_unix(value: str | None) -> int | None:
    """Convert Okta's wire timestamp ("2026-01-31T12:00:00.000Z") to Unix seconds."""
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(parsed.timestamp())
