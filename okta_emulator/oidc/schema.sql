-- Tables of the emulator's OIDC provider (authorization server "default").
-- Store runs this file after okta_emulator/schema.sql, so every statement must be idempotent.

-- RS256 signing key of the authorization server. It is created once and survives `reset`, so
-- the JWKS and every token a client cached stay valid across restarts.
CREATE TABLE IF NOT EXISTS oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    private_jwk TEXT NOT NULL,          -- JSON, RFC 7517 private key
    created REAL NOT NULL               -- Unix time
);

-- Browser sessions of the emulator's sign-in page (Okta's "sid" cookie).
CREATE TABLE IF NOT EXISTS oidc_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    auth_time INTEGER NOT NULL,         -- Unix time of the password check
    created REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS oidc_authorization_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_time INTEGER NOT NULL,
    expires_at REAL NOT NULL            -- Unix time
);

-- One row per issued access token, found by its jti (the token itself is a JWT). A refresh
-- token is not rotated, so every access token minted from it repeats it in refresh_token.
CREATE TABLE IF NOT EXISTS oidc_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    access_token_jti TEXT NOT NULL UNIQUE,
    refresh_token TEXT,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_in INTEGER NOT NULL,
    access_token_revoked INTEGER NOT NULL DEFAULT 0,
    refresh_token_revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oidc_tokens_refresh ON oidc_tokens (refresh_token);

-- Test hook: the next `remaining` ID tokens issued to client_id carry these changes.
CREATE TABLE IF NOT EXISTS oidc_id_token_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    claims TEXT NOT NULL,               -- JSON object merged over the issued claims
    remove_claims TEXT NOT NULL,        -- JSON list of claim names to drop
    bad_signature INTEGER NOT NULL DEFAULT 0
);
