"""Discovery documents of the authorization server, with Okta's field names.

The lists name only what the emulator implements (Okta's own lists are longer: implicit and
device flows, JWT client authentication, more scopes and response modes).
"""

SCOPES_SUPPORTED = ["openid", "profile", "email", "groups", "offline_access"]
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

ID_TOKEN_CLAIMS = [
    "iss",
    "ver",
    "sub",
    "aud",
    "iat",
    "exp",
    "jti",
    "auth_time",
    "amr",
    "idp",
    "nonce",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "zoneinfo",
    "locale",
    "updated_at",
    "at_hash",
    "groups",
]
ACCESS_TOKEN_CLAIMS = ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"]


def oauth_metadata(issuer: str) -> dict:
    """Return the OAuth 2.0 authorization server metadata (RFC 8414) in Okta's field order."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
        "jwks_uri": f"{issuer}/v1/keys",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "scopes_supported": SCOPES_SUPPORTED,
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "claims_supported": ACCESS_TOKEN_CLAIMS,
        "code_challenge_methods_supported": ["S256"],
        "introspection_endpoint": f"{issuer}/v1/introspect",
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": f"{issuer}/v1/revoke",
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "end_session_endpoint": f"{issuer}/v1/logout",
        "request_parameter_supported": False,
    }


def openid_metadata(issuer: str) -> dict:
    """Return the OpenID Connect discovery document in Okta's field order."""
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
        "userinfo_endpoint": f"{issuer}/v1/userinfo",
        "jwks_uri": f"{issuer}/v1/keys",
    }
    document.update(
        {key: value for key, value in oauth_metadata(issuer).items() if key not in document}
    )
    document["id_token_signing_alg_values_supported"] = ["RS256"]
    document["claims_supported"] = ID_TOKEN_CLAIMS
    return document
