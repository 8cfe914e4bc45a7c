-- Core tables of the Okta emulator. Store runs this file on every open, so every statement must
-- be idempotent. Timestamps are Okta's wire format ("2026-01-31T12:00:00.000Z"), which sorts as
-- text in time order.

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,                 -- "00u" + 17 characters
    login_lower TEXT NOT NULL UNIQUE,    -- lower-cased profile.login, for lookup by login
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    activated TEXT,
    status_changed TEXT,
    last_login TEXT,
    last_updated TEXT NOT NULL,
    password_changed TEXT,
    profile TEXT NOT NULL,               -- JSON object, Okta's user profile
    password_hash TEXT,                  -- werkzeug.security hash, NULL for users without password
    -- The user as a list page shows it, kept current by the triggers below. The org URL in its
    -- self link is the character U+0001, replaced per response (a client may use any host name);
    -- json_object() escapes that character in profile values, so only the marker stays raw.
    list_doc TEXT
);
CREATE INDEX IF NOT EXISTS users_status ON users (status, id);
CREATE INDEX IF NOT EXISTS users_last_updated ON users (last_updated);

-- Each user's list-page JSON, computed from the current row. The triggers copy it into
-- users.list_doc whenever a user is inserted without one or a rendered column changes. A reset
-- copies rows with their list_doc from the snapshot, so it skips the rendering.
DROP VIEW IF EXISTS user_list_docs;
CREATE VIEW user_list_docs AS
SELECT id, substr(doc, 1, length(doc) - 1)
    || ',"_links":{"self":{"href":"' || char(1) || '/api/v1/users/' || id || '"}}}' AS doc
FROM (SELECT id, json_object(
    'id', id, 'status', status, 'created', created, 'activated', activated,
    'statusChanged', status_changed, 'lastLogin', last_login,
    'lastUpdated', last_updated, 'passwordChanged', password_changed,
    'type', json_object('id', 'otyemulatordefault01'), 'profile', json(profile),
    'credentials', json_object(
        'password', json_object(),
        'emails', CASE WHEN json_extract(profile, '$.email') IS NULL THEN json_array()
            ELSE json_array(json_object('value', json_extract(profile, '$.email'),
                                        'status', 'VERIFIED', 'type', 'PRIMARY')) END,
        'provider', json_object('type', 'OKTA', 'name', 'OKTA'))
) AS doc FROM users);

DROP TRIGGER IF EXISTS users_list_doc_insert;
CREATE TRIGGER users_list_doc_insert AFTER INSERT ON users WHEN NEW.list_doc IS NULL BEGIN
    UPDATE users SET list_doc = (SELECT doc FROM user_list_docs WHERE user_list_docs.id = NEW.id)
    WHERE id = NEW.id;
END;

DROP TRIGGER IF EXISTS users_list_doc_update;
CREATE TRIGGER users_list_doc_update
AFTER UPDATE OF id, status, created, activated, status_changed, last_login, last_updated,
    password_changed, profile ON users BEGIN
    UPDATE users SET list_doc = (SELECT doc FROM user_list_docs WHERE user_list_docs.id = NEW.id)
    WHERE id = NEW.id;
END;

CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,                 -- "00g" + 17 characters
    type TEXT NOT NULL,                  -- OKTA_GROUP, APP_GROUP or BUILT_IN
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    last_membership_updated TEXT NOT NULL,
    profile TEXT NOT NULL                -- JSON object with name and description
);

CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_user ON group_members (user_id, group_id);

CREATE TABLE IF NOT EXISTS apps (
    id TEXT PRIMARY KEY,                 -- "0oa" + 17 characters
    name TEXT NOT NULL,                  -- app integration name, e.g. "oidc_client", "bookmark"
    label TEXT NOT NULL,
    status TEXT NOT NULL,                -- ACTIVE or INACTIVE
    sign_on_mode TEXT NOT NULL,          -- OPENID_CONNECT, SAML_2_0, BOOKMARK, ...
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}'  -- JSON object, the app's "settings"
);

CREATE TABLE IF NOT EXISTS app_users (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,                 -- USER (direct) or GROUP (through an app group)
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    status_changed TEXT NOT NULL,
    profile TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS app_users_user ON app_users (user_id);

CREATE TABLE IF NOT EXISTS app_groups (
    app_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    last_updated TEXT NOT NULL,
    profile TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (app_id, group_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS app_groups_group ON app_groups (group_id);

-- OAuth clients of the OIDC provider, loaded from the seed file's `oidc_clients:` section.
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT,
    client_name TEXT NOT NULL,
    app_id TEXT,                         -- the OPENID_CONNECT app this client belongs to, if any
    redirect_uris TEXT NOT NULL,         -- JSON list
    post_logout_redirect_uris TEXT NOT NULL,  -- JSON list
    grant_types TEXT NOT NULL,           -- JSON list
    response_types TEXT NOT NULL,        -- JSON list
    token_endpoint_auth_method TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_tokens (
    token TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    user_id TEXT                         -- the admin the token acts as (the System Log actor)
);

-- System Log. seq orders events; published never decreases with seq.
CREATE TABLE IF NOT EXISTS log_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    published TEXT NOT NULL,
    event_type TEXT NOT NULL,
    doc TEXT NOT NULL                    -- JSON, Okta's LogEvent
);
CREATE INDEX IF NOT EXISTS log_events_published ON log_events (published, seq);

CREATE TABLE IF NOT EXISTS event_hooks (
    id TEXT PRIMARY KEY,                 -- "who" + 17 characters
    name TEXT NOT NULL,
    status TEXT NOT NULL,                -- ACTIVE or INACTIVE
    verification_status TEXT NOT NULL,   -- UNVERIFIED or VERIFIED
    event_types TEXT NOT NULL,           -- JSON list of subscribed System Log event types
    uri TEXT NOT NULL,
    headers TEXT NOT NULL,               -- JSON list of {"key", "value"} sent with each delivery
    auth_scheme TEXT,                    -- JSON {"type", "key", "value"} or NULL
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT ''   -- id of the admin user who created the hook
);

-- Outbox of event hook deliveries: one row per (hook, event), claimed by the delivery thread.
CREATE TABLE IF NOT EXISTS hook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hook_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,       -- Unix time
    state TEXT NOT NULL DEFAULT 'pending',  -- pending, delivered or failed
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS hook_deliveries_due ON hook_deliveries (state, next_attempt_at);

-- Values that outlive a reset (for example the seed org's name and base settings).
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
