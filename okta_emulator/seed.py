"""Load an org description (YAML) into a Store and snapshot it for cheap resets.

The format is documented in okta_emulator/README.md; orgs/demo.yaml is the shipped example.
"""

import json
import logging
from pathlib import Path

import yaml
from werkzeug.security import generate_password_hash

from . import clock
from .directory import user_doc_row

logger = logging.getLogger(__name__)

DEMO_ORG = Path(__file__).parent / "orgs" / "demo.yaml"
DEFAULT_SEED_TIME = "2025-01-06T09:00:00.000Z"

# Deliberately cheap: these are demo passwords, and tests sign in many times.
PASSWORD_HASH_METHOD = "pbkdf2:sha256:20000"

USER_STATUSES = {
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
    "SUSPENDED",
    "DEPROVISIONED",
}
GROUP_TYPES = {"OKTA_GROUP", "APP_GROUP", "BUILT_IN"}


class SeedError(ValueError):
    """The org file is invalid; the message names the entry and the field."""


def load_file(path):
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SeedError(f"org file not found: {path}") from None
    except yaml.YAMLError as error:
        raise SeedError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SeedError(f"{path} must contain a mapping with users, groups, apps, …")
    return data


def seed_store(store, data):
    """Replace the store's org with the one described by data and take the reset snapshot."""
    loader = _Loader(data)
    store.clear()
    with store.transaction() as db:
        loader.write(db)
    store.take_snapshot()
    counts = {
        name: len(data.get(name) or []) for name in ("users", "groups", "apps", "oidc_clients")
    }
    logger.info("seeded org %r: %s", (data.get("org") or {}).get("name"), counts)
    return counts


def _timestamp(value, where):
    """Return value in Okta's timestamp format; SeedError names the field when it is no ISO 8601 time."""
    try:
        return clock.iso(clock.parse_iso(str(value)))
    except ValueError:
        raise SeedError(
            f"{where}: {value!r} is not an ISO 8601 time such as 2025-01-06T09:00:00.000Z"
        ) from None


class _Loader:
    def __init__(self, data):
        self.data = data
        org = data.get("org") or {}
        self.seed_time = _timestamp(org.get("created") or DEFAULT_SEED_TIME, "org.created")
        self.default_password = org.get("default_password")
        self._hashes = {}
        self.user_ids = {}  # login (lower) and id -> id
        self.user_status = {}
        self.group_ids = {}  # name and id -> id
        self.group_types = {}

    def _hash(self, password):
        if password not in self._hashes:
            self._hashes[password] = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
        return self._hashes[password]

    def write(self, db):
        self._write_users(db)
        self._write_groups(db)
        self._write_apps(db)
        self._write_clients(db)
        self._write_tokens(db)
        self._write_hooks(db)

    def _user_ref(self, ref, where):
        user_id = self.user_ids.get(str(ref)) or self.user_ids.get(str(ref).lower())
        if user_id is None:
            raise SeedError(f"{where}: unknown user {ref!r} (use a user id or login from users:)")
        return user_id

    def _group_ref(self, ref, where):
        group_id = self.group_ids.get(str(ref))
        if group_id is None:
            raise SeedError(f"{where}: unknown group {ref!r} (use a group id or name from groups:)")
        return group_id

    def _write_users(self, db):
        for index, entry in enumerate(self.data.get("users") or []):
            where = f"users[{index}]"
            profile = dict(entry.get("profile") or {})
            login = profile.get("login")
            if not login:
                raise SeedError(f"{where}: profile.login is required")
            profile.setdefault("email", login)
            for field in ("firstName", "lastName"):
                if not profile.get(field):
                    raise SeedError(f"{where} ({login}): profile.{field} is required")
            status = entry.get("status", "ACTIVE")
            if status not in USER_STATUSES:
                raise SeedError(
                    f"{where} ({login}): status {status!r} is not one of {sorted(USER_STATUSES)}"
                )
            user_id = entry.get("id") or clock.new_id("00u")
            if login.lower() in self.user_ids:
                raise SeedError(f"{where}: duplicate login {login!r}")
            self.user_ids[login.lower()] = user_id
            self.user_ids[user_id] = user_id
            self.user_status[user_id] = status
            created = _timestamp(entry.get("created") or self.seed_time, f"{where}.created")
            password = entry.get("password", self.default_password)
            activated = created if status not in ("STAGED", "PROVISIONED") else None
            row = {
                "id": user_id,
                "status": status,
                "created": created,
                "activated": activated,
                "status_changed": created if status != "STAGED" else None,
                "last_login": _timestamp(entry["lastLogin"], f"{where}.lastLogin")
                if entry.get("lastLogin")
                else None,
                "last_updated": created,
                "password_changed": created if password else None,
                "profile": profile,
                "password_hash": self._hash(password) if password else None,
            }
            db.execute(
                "INSERT INTO users (id, login_lower, status, created, activated, status_changed, last_login, "
                "last_updated, password_changed, profile, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                user_doc_row(row),
            )

    def _write_groups(self, db):
        everyone = None
        for index, entry in enumerate(self.data.get("groups") or []):
            where = f"groups[{index}]"
            name = entry.get("name")
            if not name:
                raise SeedError(f"{where}: name is required")
            group_type = entry.get("type", "OKTA_GROUP")
            if group_type not in GROUP_TYPES:
                raise SeedError(
                    f"{where} ({name}): type {group_type!r} is not one of {sorted(GROUP_TYPES)}"
                )
            group_id = entry.get("id") or clock.new_id("00g")
            if name in self.group_ids:
                raise SeedError(f"{where}: duplicate group name {name!r}")
            self.group_ids[name] = group_id
            self.group_ids[group_id] = group_id
            self.group_types[group_id] = group_type
            profile = {"name": name, "description": entry.get("description")}
            db.execute(
                "INSERT INTO groups (id, type, created, last_updated, last_membership_updated, profile) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    group_id,
                    group_type,
                    self.seed_time,
                    self.seed_time,
                    self.seed_time,
                    json.dumps(profile, separators=(",", ":")),
                ),
            )
            if group_type == "BUILT_IN" and name == "Everyone":
                everyone = group_id
            members = entry.get("members") or []
            if group_type == "BUILT_IN" and members:
                raise SeedError(
                    f"{where} ({name}): BUILT_IN groups get their members automatically"
                )
            for member in members:
                user_id = self._user_ref(member, f"{where} ({name}) members")
                db.execute(
                    "INSERT OR IGNORE INTO group_members (group_id, user_id, created) VALUES (?, ?, ?)",
                    (group_id, user_id, self.seed_time),
                )
        if everyone is None:
            raise SeedError(
                "groups: the BUILT_IN group named Everyone is required (Okta always has it)"
            )
        db.execute(
            "INSERT OR IGNORE INTO group_members (group_id, user_id, created) SELECT ?, id, ? FROM users",
            (everyone, self.seed_time),
        )

    def _write_apps(self, db):
        for index, entry in enumerate(self.data.get("apps") or []):
            where = f"apps[{index}]"
            label = entry.get("label")
            if not label:
                raise SeedError(f"{where}: label is required")
            app_id = entry.get("id") or clock.new_id("0oa")
            status = entry.get("status", "ACTIVE")
            if status not in ("ACTIVE", "INACTIVE"):
                raise SeedError(
                    f"{where} ({label}): status must be ACTIVE or INACTIVE, not {status!r}"
                )
            db.execute(
                "INSERT INTO apps (id, name, label, status, sign_on_mode, created, last_updated, settings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    app_id,
                    entry.get("name", "bookmark"),
                    label,
                    status,
                    entry.get("signOnMode", "BOOKMARK"),
                    self.seed_time,
                    self.seed_time,
                    json.dumps(entry.get("settings") or {}),
                ),
            )
            for group_ref in entry.get("groups") or []:
                group_id = self._group_ref(group_ref, f"{where} ({label}) groups")
                db.execute(
                    "INSERT INTO app_groups (app_id, group_id, priority, last_updated) VALUES (?, ?, 0, ?)",
                    (app_id, group_id, self.seed_time),
                )
                db.execute(
                    "INSERT OR IGNORE INTO app_users (app_id, user_id, scope, status, created, last_updated, "
                    "status_changed) SELECT ?, m.user_id, 'GROUP', 'ACTIVE', ?, ?, ? FROM group_members m "
                    "JOIN users u ON u.id = m.user_id WHERE m.group_id = ? AND u.status != 'DEPROVISIONED'",
                    (app_id, self.seed_time, self.seed_time, self.seed_time, group_id),
                )
            for user_ref in entry.get("users") or []:
                user_id = self._user_ref(user_ref, f"{where} ({label}) users")
                db.execute(
                    "INSERT OR REPLACE INTO app_users (app_id, user_id, scope, status, created, last_updated, "
                    "status_changed) VALUES (?, ?, 'USER', 'ACTIVE', ?, ?, ?)",
                    (app_id, user_id, self.seed_time, self.seed_time, self.seed_time),
                )

    def _write_clients(self, db):
        for index, entry in enumerate(self.data.get("oidc_clients") or []):
            where = f"oidc_clients[{index}]"
            client_id = entry.get("client_id")
            if not client_id:
                raise SeedError(f"{where}: client_id is required")
            redirect_uris = entry.get("redirect_uris") or []
            if not redirect_uris:
                raise SeedError(f"{where} ({client_id}): redirect_uris must list at least one URI")
            db.execute(
                "INSERT INTO oauth_clients (client_id, client_secret, client_name, app_id, redirect_uris, "
                "post_logout_redirect_uris, grant_types, response_types, token_endpoint_auth_method) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    client_id,
                    entry.get("client_secret"),
                    entry.get("client_name", client_id),
                    entry.get("app_id"),
                    json.dumps(redirect_uris),
                    json.dumps(entry.get("post_logout_redirect_uris") or []),
                    json.dumps(entry.get("grant_types") or ["authorization_code"]),
                    json.dumps(entry.get("response_types") or ["code"]),
                    entry.get("token_endpoint_auth_method", "client_secret_basic"),
                ),
            )

    def _write_tokens(self, db):
        tokens = self.data.get("api_tokens") or []
        if not tokens:
            raise SeedError("api_tokens: at least one API token is required")
        for index, entry in enumerate(tokens):
            token = entry.get("token")
            if not token:
                raise SeedError(f"api_tokens[{index}]: token is required")
            user_id = (
                self._user_ref(entry["user"], f"api_tokens[{index}] user")
                if entry.get("user")
                else None
            )
            db.execute(
                "INSERT INTO api_tokens (token, name, user_id) VALUES (?, ?, ?)",
                (token, entry.get("name", f"token {index}"), user_id),
            )

    def _write_hooks(self, db):
        for index, entry in enumerate(self.data.get("event_hooks") or []):
            where = f"event_hooks[{index}]"
            if not entry.get("uri") or not entry.get("events"):
                raise SeedError(f"{where}: uri and events are required")
            db.execute(
                "INSERT INTO event_hooks (id, name, status, verification_status, event_types, uri, headers, "
                "auth_scheme, created, last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.get("id") or clock.new_id("who"),
                    entry.get("name", f"hook {index}"),
                    entry.get("status", "ACTIVE"),
                    entry.get("verificationStatus", "VERIFIED"),
                    json.dumps(list(entry["events"])),
                    entry["uri"],
                    json.dumps(entry.get("headers") or []),
                    json.dumps(entry["authScheme"]) if entry.get("authScheme") else None,
                    self.seed_time,
                    self.seed_time,
                ),
            )
