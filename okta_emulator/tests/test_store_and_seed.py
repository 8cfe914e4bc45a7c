"""The state file, the seed loader, reset, the CLI and the shipped demo org."""

import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from okta_emulator import store as store_module
from okta_emulator.orgs import generate_demo
from okta_emulator.seed import DEMO_ORG, SeedError, load_file, seed_store
from okta_emulator.store import Store
from okta_emulator.testing import DEMO_API_TOKEN, start_emulator

from .demo_org import ACTIVE_ID, ACTIVE_LOGIN, OKTA_GROUP_ID, PASSWORD, PORTAL_CLIENT_ID


@pytest.fixture(scope="module")
def demo():
    return load_file(DEMO_ORG)


@pytest.fixture
def seeded_store(tmp_path, demo):
    store = Store(tmp_path / "state.sqlite3")
    seed_store(store, demo)
    yield store
    store.close()


def test_demo_org_shape(demo):
    users = demo["users"]
    statuses = Counter(user["status"] for user in users)
    departments = {user["profile"]["department"] for user in users}
    group_types = Counter(group["type"] for group in demo["groups"])
    modes = {app["signOnMode"] for app in demo["apps"]}
    assert len(users) >= 60
    assert len(departments) >= 5
    assert statuses["SUSPENDED"] >= 2
    assert statuses["DEPROVISIONED"] >= 2
    assert len(demo["groups"]) >= 25
    assert group_types["APP_GROUP"] >= 2
    assert group_types["BUILT_IN"] == 1
    assert "Portal Admins" in {group["name"] for group in demo["groups"]}
    assert len(demo["apps"]) >= 8
    assert {"OPENID_CONNECT", "SAML_2_0", "BOOKMARK"} <= modes
    assert demo["api_tokens"][0]["token"] == DEMO_API_TOKEN


def test_demo_managers_resolve(demo):
    ids = {user["id"] for user in demo["users"]}
    managed = [user for user in demo["users"] if "managerId" in user["profile"]]
    assert len(managed) == len(demo["users"]) - 1
    assert all(user["profile"]["managerId"] in ids for user in managed)


def test_demo_ids_are_okta_shaped(demo):
    for prefix, items in (("00u", demo["users"]), ("00g", demo["groups"]), ("0oa", demo["apps"])):
        for item in items:
            assert len(item["id"]) == 20, item["id"]
            assert item["id"].startswith(prefix)


def test_demo_portal_client(demo):
    client = demo["oidc_clients"][0]
    assert client["client_id"] == PORTAL_CLIENT_ID
    assert client["client_secret"] == "demo-portal-client-secret-change-me"
    assert client["redirect_uris"] == [
        "http://127.0.0.1:8000/oidc/callback/",
        "http://localhost:8000/oidc/callback/",
    ]
    assert client["post_logout_redirect_uris"] == [
        "http://127.0.0.1:8000/",
        "http://localhost:8000/",
    ]


def test_committed_demo_matches_generator(demo):
    assert demo == yaml.safe_load(yaml.safe_dump(generate_demo.build(), sort_keys=False))


def test_authenticate_with_demo_password(seeded_store):
    assert seeded_store.authenticate(ACTIVE_LOGIN.upper(), PASSWORD)["id"] == ACTIVE_ID
    assert seeded_store.authenticate(ACTIVE_LOGIN, "wrong") is None
    assert seeded_store.authenticate("nobody@example.com", PASSWORD) is None


def test_group_names_and_client_lookup(seeded_store):
    names = seeded_store.user_group_names(ACTIVE_ID)
    assert "Everyone" in names
    assert names == sorted(names)
    assert seeded_store.get_oauth_client(PORTAL_CLIENT_ID)["grant_types"] == [
        "authorization_code",
        "refresh_token",
    ]
    assert seeded_store.get_oauth_client("0oanotthere000000000") is None


def test_reset_restores_seed_and_keeps_signing_key(seeded_store):
    with seeded_store.transaction() as db:
        db.execute("DELETE FROM group_members")
        db.execute(
            "INSERT INTO oidc_signing_keys (kid, private_jwk, created) VALUES ('k1', '{}', 0)"
        )
    seeded_store.record_event(
        "user.lifecycle.suspend", {"id": "x", "type": "User"}, [], "SUCCESS", "test"
    )
    seeded_store.reset()
    assert seeded_store.one("SELECT count(*) FROM group_members")[0] == 378
    assert seeded_store.one("SELECT count(*) FROM log_events")[0] == 0
    assert seeded_store.one("SELECT kid FROM oidc_signing_keys")["kid"] == "k1"


def test_transaction_rolls_back_on_error(seeded_store):
    with pytest.raises(RuntimeError):
        with seeded_store.transaction() as db:
            db.execute("DELETE FROM users")
            raise RuntimeError("boom")
    assert seeded_store.one("SELECT count(*) FROM users")[0] == 64


def test_reset_without_seed_explains(tmp_path):
    store = Store(tmp_path / "empty.sqlite3")
    with pytest.raises(RuntimeError, match="seed"):
        store.reset()


def test_preserved_tables_include_signing_keys():
    assert "oidc_signing_keys" in store_module.PRESERVED_TABLES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda org: org["users"][0]["profile"].pop("login"),
            "users[0]: profile.login is required",
        ),
        (lambda org: org["users"][0].update(status="HAPPY"), "status 'HAPPY'"),
        (lambda org: org["users"].append(copy.deepcopy(org["users"][0])), "duplicate login"),
        (
            lambda org: org["groups"][1]["members"].append("ghost@example.com"),
            "unknown user 'ghost@example.com'",
        ),
        (lambda org: org["groups"].pop(0), "Everyone is required"),
        (
            lambda org: org["apps"][0]["groups"].append("No Such Group"),
            "unknown group 'No Such Group'",
        ),
        (lambda org: org.update(api_tokens=[]), "at least one API token"),
        (lambda org: org["oidc_clients"][0].update(redirect_uris=[]), "redirect_uris must list"),
    ],
)
def test_invalid_seed_names_problem(tmp_path, demo, change, message):
    org = copy.deepcopy(demo)
    change(org)
    store = Store(tmp_path / "bad.sqlite3")
    with pytest.raises(SeedError, match=re.escape(message)):
        seed_store(store, org)


def test_load_file_reports_yaml_errors(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("users: [\n")
    with pytest.raises(SeedError, match="not valid YAML"):
        load_file(path)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "okta_emulator", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_seed_show_reset(tmp_path):
    state = str(tmp_path / "cli.sqlite3")
    seeded = run_cli("seed", "--state", state)
    shown = run_cli("show", "--state", state)
    users = run_cli("show", "users", "--state", state)
    reset = run_cli("reset", "--state", state)
    assert seeded.returncode == 0, seeded.stderr
    assert "64 users" in seeded.stdout
    assert "seeded           yes" in shown.stdout
    assert ACTIVE_LOGIN in users.stdout
    assert reset.returncode == 0


def test_cli_seed_rejects_bad_file(tmp_path):
    bad = tmp_path / "org.yaml"
    bad.write_text("users:\n- profile: {firstName: A}\n")
    completed = run_cli("seed", str(bad), "--state", str(tmp_path / "x.sqlite3"))
    assert completed.returncode == 2
    assert "profile.login is required" in completed.stderr


def test_cli_reset_unseeded_state(tmp_path):
    completed = run_cli("reset", "--state", str(tmp_path / "new.sqlite3"))
    assert completed.returncode == 2
    assert "seed" in completed.stderr


def test_state_survives_restart(tmp_path):
    first = start_emulator(tmp_path)
    try:
        first.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    finally:
        first.stop()
    second = start_emulator(tmp_path)
    try:
        members = second.request("GET", f"/api/v1/groups/{OKTA_GROUP_ID}/users").json()
    finally:
        second.stop()
    assert ACTIVE_ID in [user["id"] for user in members]


def test_token_override_from_environment(tmp_path):
    env = {**os.environ, "OKTA_EMULATOR_API_TOKEN": "override-token-123456"}
    emulator = start_emulator(tmp_path, env=env)
    try:
        with_override = emulator.request("GET", f"/api/v1/users/{ACTIVE_ID}")
        with_demo = emulator.request("GET", f"/api/v1/users/{ACTIVE_ID}", token=DEMO_API_TOKEN)
    finally:
        emulator.stop()
    assert with_override.status == 200
    assert with_demo.status == 401


def rendered_list_items(store):
    from okta_emulator import directory

    rows = store.all(f"SELECT {directory.USER_RENDER_COLUMNS}, list_doc FROM users ORDER BY id")
    expected = [
        directory.render_user_row(tuple(row)[:10], "http://org", full=False) for row in rows
    ]
    stored = [row["list_doc"].replace(directory.ORG_URL_MARKER, "http://org") for row in rows]
    return expected, stored


def test_list_doc_matches_rendered_user(seeded_store):
    with seeded_store.transaction() as db:
        db.execute(
            "UPDATE users SET last_login = '2026-01-02T03:04:05.000Z' WHERE id = ?", (ACTIVE_ID,)
        )
        db.execute("UPDATE users SET status = 'SUSPENDED' WHERE id = ?", (ACTIVE_ID,))
    expected, stored = rendered_list_items(seeded_store)
    assert [json.loads(item) for item in stored] == [json.loads(item) for item in expected]
    assert stored == expected


def test_list_doc_escapes_marker_in_profile(seeded_store):
    with seeded_store.transaction() as db:
        db.execute(
            "UPDATE users SET profile = json_set(profile, '$.title', char(1)) WHERE id = ?",
            (ACTIVE_ID,),
        )
    doc = seeded_store.one("SELECT list_doc FROM users WHERE id = ?", (ACTIVE_ID,))["list_doc"]
    assert doc.count("\x01") == 1
    assert '"title":"\\u0001"' in doc


def test_old_state_file_gets_list_doc(tmp_path):
    import sqlite3

    from okta_emulator.store import CORE_SCHEMA

    # The schema before users.list_doc existed: no column, view or triggers.
    before_triggers, _, rest = CORE_SCHEMA.read_text().partition(
        "DROP TRIGGER IF EXISTS users_list_doc_insert"
    )
    after_triggers = rest[rest.index("CREATE TABLE IF NOT EXISTS groups") :]
    old_schema = re.sub(
        r"password_hash TEXT,.*?list_doc TEXT\n",
        "password_hash TEXT\n",
        before_triggers,
        flags=re.S,
    )
    old_schema += after_triggers
    path = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(path)
    connection.executescript(old_schema)
    connection.execute(
        "INSERT INTO users (id, login_lower, status, created, last_updated, profile) VALUES "
        "('00uoldstate000000001', 'old@example.com', 'ACTIVE', '2025-01-01T00:00:00.000Z', "
        '\'2025-01-01T00:00:00.000Z\', \'{"login": "old@example.com", "email": "old@example.com"}\')'
    )
    connection.commit()
    connection.close()
    store = Store(path)
    doc = json.loads(
        store.one("SELECT list_doc FROM users")["list_doc"].replace("\x01", "http://org")
    )
    assert doc["_links"]["self"]["href"] == "http://org/api/v1/users/00uoldstate000000001"
