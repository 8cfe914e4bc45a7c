"""State of the emulated org: one SQLite file in WAL mode, one connection per thread.

`seed` loads an org and takes an in-file snapshot of every table. `reset` copies the snapshot
back, which takes a few milliseconds for the demo org. Tables named in PRESERVED_TABLES are
neither snapshotted nor reset, because the OIDC signing key must stay stable across resets and
restarts.
"""

import contextlib
import json
import logging
import sqlite3
import threading
import uuid
from pathlib import Path

from werkzeug.security import check_password_hash

from . import clock

logger = logging.getLogger(__name__)

CORE_SCHEMA = Path(__file__).with_name("schema.sql")
OIDC_SCHEMA = Path(__file__).parent / "oidc" / "schema.sql"

PRESERVED_TABLES = frozenset({"oidc_signing_keys", "meta"})
SNAPSHOT_PREFIX = "snapshot_"

USER_COLUMNS = "id, status, created, activated, status_changed, last_login, last_updated, password_changed, profile"


class Store:
    """The org's state. Safe to share between threads: each thread gets its own connection."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Set after every committed System Log event, so the hook delivery thread wakes up.
        self.events_committed = threading.Event()
        self._create_schema()

    # --- connections and transactions -------------------------------------------------------

    @property
    def db(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=OFF")
            self._local.connection = connection
            self._local.depth = 0
        return connection

    @contextlib.contextmanager
    def transaction(self):
        """Run the block in one write transaction (BEGIN IMMEDIATE); nested calls join the outer one."""
        db = self.db
        if self._local.depth:
            self._local.depth += 1
            try:
                yield db
            finally:
                self._local.depth -= 1
            return
        db.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        self._local.wrote_event = False
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            db.execute("COMMIT")
            if self._local.wrote_event:
                self.events_committed.set()
        finally:
            self._local.depth = 0

    def close(self):
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _create_schema(self):
        self._add_missing_columns()
        self.db.executescript(CORE_SCHEMA.read_text())
        if OIDC_SCHEMA.exists():
            self.db.executescript(OIDC_SCHEMA.read_text())
        stale = self.one("SELECT 1 FROM users WHERE list_doc IS NULL LIMIT 1")
        if stale:
            with self.transaction() as db:
                db.execute("UPDATE users SET last_updated = last_updated WHERE list_doc IS NULL")

    def _add_missing_columns(self):
        """Bring state files written by an older emulator up to the current tables."""
        added = {"users": "list_doc TEXT", "event_hooks": "created_by TEXT NOT NULL DEFAULT ''"}
        for table, column in added.items():
            for name in (table, SNAPSHOT_PREFIX + table):
                columns = {row[1] for row in self.all(f'PRAGMA table_info("{name}")')}
                if columns and column.split()[0] not in columns:
                    self.db.execute(f'ALTER TABLE "{name}" ADD COLUMN {column}')

    def one(self, sql, params=()):
        return self.db.execute(sql, params).fetchone()

    def all(self, sql, params=()):
        return self.db.execute(sql, params).fetchall()

    # --- seed snapshot and reset ---------------------------------------------------------------

    def table_names(self, include_snapshots=False):
        rows = self.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        names = [row["name"] for row in rows]
        if include_snapshots:
            return names
        return [name for name in names if not name.startswith(SNAPSHOT_PREFIX)]

    def resettable_tables(self):
        return [name for name in self.table_names() if name not in PRESERVED_TABLES]

    def clear(self):
        """Delete every row of every resettable table (before loading a seed)."""
        with self.transaction() as db:
            for name in self.resettable_tables():
                db.execute(f'DELETE FROM "{name}"')

    def take_snapshot(self):
        """Copy every resettable table into snapshot_<table>; reset() restores from these copies."""
        with self.transaction() as db:
            for name in self.resettable_tables():
                db.execute(f'DROP TABLE IF EXISTS "{SNAPSHOT_PREFIX}{name}"')
                db.execute(f'CREATE TABLE "{SNAPSHOT_PREFIX}{name}" AS SELECT * FROM "{name}"')

    def has_snapshot(self):
        row = self.one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            (SNAPSHOT_PREFIX + "users",),
        )
        return row is not None

    def reset(self):
        """Restore every resettable table to the seed snapshot; raise RuntimeError if never seeded."""
        if not self.has_snapshot():
            raise RuntimeError(
                f"{self.path} has no seed snapshot: run `python -m okta_emulator seed` first"
            )
        existing = set(self.table_names(include_snapshots=True))
        with self.transaction() as db:
            for name in self.resettable_tables():
                snapshot = SNAPSHOT_PREFIX + name
                db.execute(f'DELETE FROM "{name}"')
                # A table added after the seed (e.g. by a newer emulator) has no snapshot: it stays empty.
                if snapshot in existing:
                    db.execute(f'INSERT INTO "{name}" SELECT * FROM "{snapshot}"')

    def get_meta(self, key, default=None):
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(row["value"]) if row else default

    def set_meta(self, key, value):
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    # --- reads the OIDC provider uses ---------------------------------------------------------

    def get_user(self, user_id_or_login):
        """Return the user with this id or login (logins match case-insensitively) as a dict, or None."""
        row = self.one(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id_or_login,))
        if row is None:
            row = self.one(
                f"SELECT {USER_COLUMNS} FROM users WHERE login_lower = ?",
                (str(user_id_or_login).lower(),),
            )
        return user_from_row(row) if row else None

    def authenticate(self, login, password):
        """Return the user if login and password match, else None; the caller checks the status."""
        row = self.one(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE login_lower = ?",
            (str(login).lower(),),
        )
        if row is None or not row["password_hash"]:
            return None
        if not check_password_hash(row["password_hash"], password):
            return None
        return user_from_row(row)

    def user_group_names(self, user_id):
        """Return the names of the groups the user belongs to, Everyone included, sorted by name."""
        rows = self.all(
            "SELECT json_extract(g.profile, '$.name') AS name FROM group_members m "
            "JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY name",
            (user_id,),
        )
        return [row["name"] for row in rows]

    def get_oauth_client(self, client_id):
        """Return the OAuth client as a dict (JSON columns decoded), or None."""
        row = self.one("SELECT * FROM oauth_clients WHERE client_id = ?", (client_id,))
        if row is None:
            return None
        client = dict(row)
        for key in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types"):
            client[key] = json.loads(client[key])
        return client

    def token_owner(self, token):
        """Return the api_tokens row for this token, or None."""
        return self.one("SELECT token, name, user_id FROM api_tokens WHERE token = ?", (token,))

    # --- System Log ------------------------------------------------------------------------------

    def record_event(
        self, event_type, actor, targets, outcome, display_message, client=None, request=None
    ):
        """Write a System Log event in Okta's LogEvent shape and queue it for the event hooks.

        actor and each target are dicts with at least id, type, alternateId and displayName (see
        user_actor() and friends). outcome is "SUCCESS", "FAILURE", … or a dict with result and
        reason. client is a dict with ipAddress and userAgent. request is the Flask request; it
        supplies the request id, and the client when client is not given. Returns the event dict.
        """
        if isinstance(outcome, str):
            outcome = {"result": outcome, "reason": None}
        request_id = None
        request_uri = None
        if request is not None:
            request_id = request.environ.get("okta_emulator.request_id")
            request_uri = request.path
            if client is None:
                client = {
                    "ipAddress": request.remote_addr,
                    "userAgent": request.headers.get("User-Agent", ""),
                }
        client = client or {"ipAddress": None, "userAgent": ""}
        event = {
            "uuid": str(uuid.uuid4()),
            "published": "",
            "eventType": event_type,
            "version": "0",
            "severity": "WARN" if outcome.get("result") == "FAILURE" else "INFO",
            "legacyEventType": None,
            "displayMessage": display_message,
            "actor": _log_entity(actor),
            "client": {
                "userAgent": {
                    "rawUserAgent": client.get("userAgent") or "",
                    "os": "Unknown",
                    "browser": "UNKNOWN",
                },
                "zone": "null",
                "device": "Unknown",
                "id": None,
                "ipAddress": client.get("ipAddress"),
                "geographicalContext": None,
            },
            "authenticationContext": {
                "authenticationProvider": None,
                "credentialProvider": None,
                "credentialType": None,
                "issuer": None,
                "interface": None,
                "authenticationStep": 0,
                "externalSessionId": "trs" + (request_id or "")[:19] if request_id else None,
            },
            "outcome": {"result": outcome.get("result"), "reason": outcome.get("reason")},
            "target": [_log_entity(target) for target in targets],
            "transaction": {"type": "WEB", "id": request_id, "detail": {}},
            "debugContext": {"debugData": {"requestId": request_id, "requestUri": request_uri}},
            "request": {
                "ipChain": [
                    {
                        "ip": client.get("ipAddress"),
                        "geographicalContext": None,
                        "version": "V4",
                        "source": None,
                    }
                ]
                if client.get("ipAddress")
                else []
            },
            "securityContext": {
                "asNumber": None,
                "asOrg": None,
                "isp": None,
                "domain": None,
                "isProxy": None,
            },
        }
        # Okta's published LogEvent schema marks none of these fields nullable: leave unknown ones out.
        event = _without_nulls(event)
        with self.transaction() as db:
            # Taken while holding the write lock, so published never decreases as seq grows.
            published = clock.now_iso()
            event["published"] = published
            cursor = db.execute(
                "INSERT INTO log_events (uuid, published, event_type, doc) VALUES (?, ?, ?, ?)",
                (event["uuid"], published, event_type, json.dumps(event, separators=(",", ":"))),
            )
            seq = cursor.lastrowid
            hooks = db.execute(
                "SELECT id, event_types FROM event_hooks WHERE status = 'ACTIVE' AND verification_status = 'VERIFIED'"
            ).fetchall()
            due = clock.now()
            for hook in hooks:
                if event_type in json.loads(hook["event_types"]):
                    db.execute(
                        "INSERT INTO hook_deliveries (hook_id, event_seq, next_attempt_at) VALUES (?, ?, ?)",
                        (hook["id"], seq, due),
                    )
            self._local.wrote_event = True
        return event


def _without_nulls(value):
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _log_entity(entity):
    return {
        "id": entity.get("id"),
        "type": entity.get("type"),
        "alternateId": entity.get("alternateId"),
        "displayName": entity.get("displayName"),
        "detailEntry": entity.get("detailEntry"),
    }


def user_from_row(row):
    """Return a users row as a dict with Okta's field names and the profile decoded."""
    return {
        "id": row["id"],
        "status": row["status"],
        "created": row["created"],
        "activated": row["activated"],
        "statusChanged": row["status_changed"],
        "lastLogin": row["last_login"],
        "lastUpdated": row["last_updated"],
        "passwordChanged": row["password_changed"],
        "profile": json.loads(row["profile"]),
    }


def user_actor(user):
    """Return the System Log actor/target entity for a user dict."""
    profile = user["profile"]
    name = " ".join(part for part in (profile.get("firstName"), profile.get("lastName")) if part)
    return {
        "id": user["id"],
        "type": "User",
        "alternateId": profile.get("login"),
        "displayName": name or None,
    }


def group_target(group):
    return {
        "id": group["id"],
        "type": "UserGroup",
        "alternateId": "unknown",
        "displayName": group["profile"]["name"],
    }


def app_target(app):
    return {
        "id": app["id"],
        "type": "AppInstance",
        "alternateId": app["label"],
        "displayName": app["label"],
    }


def client_actor(client_id, client_name):
    return {
        "id": client_id,
        "type": "PublicClientApp",
        "alternateId": client_id,
        "displayName": client_name,
    }
