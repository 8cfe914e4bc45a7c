"""Admin endpoints for tests and the CLI, under /_emulator/ (API token required, JSON in and out).

None of these exist in Okta. Faults and rate limits here are never on unless a client turns them on.
"""

import time

from flask import Blueprint, request

from .. import clock
from ..app import json_response, read_json, runtime
from ..errors import OktaError, not_found, validation_failed

blueprint = Blueprint("emulator_admin", __name__)


def _bad_request(message):
    return OktaError("E0000001", summary=f"Api validation failed: {message}", causes=[message])


@blueprint.get("/_emulator/status")
def status():
    state = runtime()
    store = state.store
    counts = {
        table: store.one(f"SELECT count(*) FROM {table}")[0]
        for table in (
            "users",
            "groups",
            "group_members",
            "apps",
            "app_users",
            "log_events",
            "event_hooks",
        )
    }
    pending = store.one("SELECT count(*) FROM hook_deliveries WHERE state = 'pending'")[0]
    return json_response(
        {
            "counts": counts,
            "pending_hook_deliveries": pending,
            "clock_offset_seconds": clock.get_offset(),
            "rate_limits": state.limiter.describe(),
            "faults": state.faults.describe(),
        }
    )


@blueprint.post("/_emulator/reset")
def reset():
    """Restore the seeded org and the start-up settings: no faults, default rate limits, no clock offset."""
    state = runtime()
    started = time.perf_counter()
    state.store.reset()
    state.reset_runtime_settings()
    clock.set_offset(0)
    return json_response(
        {"reset": True, "milliseconds": round((time.perf_counter() - started) * 1000, 2)}
    )


@blueprint.get("/_emulator/faults")
def list_faults():
    return json_response(runtime().faults.describe())


@blueprint.post("/_emulator/faults")
def add_fault():
    try:
        rule = runtime().faults.add(read_json())
    except ValueError as error:
        raise _bad_request(str(error)) from None
    return json_response(rule.describe(), status=201)


@blueprint.delete("/_emulator/faults")
def clear_faults():
    runtime().faults.clear()
    return json_response(runtime().faults.describe())


@blueprint.delete("/_emulator/faults/<int:rule_id>")
def delete_fault(rule_id):
    if not runtime().faults.remove(rule_id):
        raise not_found(rule_id, "FaultRule")
    return json_response(runtime().faults.describe())


@blueprint.put("/_emulator/faults/hooks")
def set_hook_faults():
    body = read_json()
    if not isinstance(body, dict) or set(body) - {"duplicate_fraction", "reorder"}:
        raise _bad_request('send {"duplicate_fraction": 0..1, "reorder": true|false}')
    try:
        runtime().faults.set_hook_faults(body.get("duplicate_fraction"), body.get("reorder"))
    except ValueError as error:
        raise _bad_request(str(error)) from None
    return json_response(runtime().faults.describe())


@blueprint.get("/_emulator/rate-limits")
def get_rate_limits():
    return json_response(runtime().limiter.describe())


@blueprint.put("/_emulator/rate-limits")
def set_rate_limits():
    body = read_json()
    allowed = {"enabled", "window_seconds", "token_share", "concurrency_limit", "limits"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise _bad_request(f"send a JSON object with some of {sorted(allowed)}")
    try:
        runtime().limiter.configure(**body)
    except (ValueError, TypeError) as error:
        raise _bad_request(str(error)) from None
    return json_response(runtime().limiter.describe())


@blueprint.get("/_emulator/clock")
def get_clock():
    return json_response({"offset_seconds": clock.get_offset(), "now": clock.now_iso()})


@blueprint.put("/_emulator/clock")
def set_clock():
    body = read_json()
    offset = body.get("offset_seconds") if isinstance(body, dict) else None
    if not isinstance(offset, (int, float)) or isinstance(offset, bool):
        raise validation_failed(
            "offset_seconds", "must be a number of seconds to add to the wall clock"
        )
    clock.set_offset(offset)
    return json_response({"offset_seconds": clock.get_offset(), "now": clock.now_iso()})


@blueprint.post("/_emulator/tokens")
def add_token():
    """Accept another API token until the next reset (e.g. to test a second client's rate budget)."""
    body = read_json()
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or len(token) < 8:
        raise validation_failed("token", "must be a string of at least 8 characters")
    store = runtime().store
    user_id = None
    if body.get("user"):
        user = store.get_user(body["user"])
        if user is None:
            raise not_found(body["user"], "User")
        user_id = user["id"]
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO api_tokens (token, name, user_id) VALUES (?, ?, ?)",
            (token, body.get("name") or "test token", user_id),
        )
    return json_response({"name": body.get("name") or "test token", "user_id": user_id}, status=201)


@blueprint.get("/_emulator/hook-deliveries")
def hook_deliveries():
    rows = runtime().store.all(
        "SELECT d.id, d.hook_id, d.attempts, d.state, d.last_error, e.uuid, e.event_type FROM hook_deliveries d "
        "JOIN log_events e ON e.seq = d.event_seq ORDER BY d.id"
    )
    return json_response([dict(row) for row in rows])


@blueprint.get("/_emulator/request")
def echo_request():
    """Return what the emulator received (method, path, headers) so clients can debug their calls."""
    return json_response(
        {
            "method": request.method,
            "path": request.full_path,
            "headers": {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        }
    )
