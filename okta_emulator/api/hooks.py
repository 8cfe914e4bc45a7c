"""Event hooks: create, list, get, verify (the challenge GET), activate, deactivate, delete."""

import json

from flask import Blueprint, request

from .. import clock
from ..app import base_url, current_actor, empty_response, json_response, read_json, runtime
from ..errors import OktaError, not_found, validation_failed
from ..hook_delivery import HookTargetError, check_hook_uri, verify

blueprint = Blueprint("event_hooks", __name__)


def _find_hook(hook_id):
    row = runtime().store.one("SELECT * FROM event_hooks WHERE id = ?", (hook_id,))
    if row is None:
        raise not_found(hook_id, "EventHook")
    return row


def _render(row, base):
    auth = json.loads(row["auth_scheme"]) if row["auth_scheme"] else None
    hook_id = row["id"]
    lifecycle = "deactivate" if row["status"] == "ACTIVE" else "activate"
    return {
        "id": hook_id,
        "status": row["status"],
        "verificationStatus": row["verification_status"],
        "name": row["name"],
        "created": row["created"],
        "createdBy": row["created_by"],
        "lastUpdated": row["last_updated"],
        "events": {"type": "EVENT_TYPE", "items": json.loads(row["event_types"]), "filter": None},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": row["uri"],
                "headers": json.loads(row["headers"]),
                # Okta never returns the secret value of the authorization header.
                "authScheme": {"type": auth.get("type", "HEADER"), "key": auth.get("key")}
                if auth
                else None,
            },
        },
        "_links": {
            "self": {
                "href": f"{base}/api/v1/eventHooks/{hook_id}",
                "hints": {"allow": ["GET", "PUT", "DELETE"]},
            },
            "verify": {
                "href": f"{base}/api/v1/eventHooks/{hook_id}/lifecycle/verify",
                "hints": {"allow": ["POST"]},
            },
            lifecycle: {
                "href": f"{base}/api/v1/eventHooks/{hook_id}/lifecycle/{lifecycle}",
                "hints": {"allow": ["POST"]},
            },
        },
    }


def _hook_fields(body):
    """Validate an EventHook request body; return the column values."""
    if not isinstance(body, dict):
        raise validation_failed("body", "must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise validation_failed("name", "The field cannot be left blank.")
    events = body.get("events")
    if (
        not isinstance(events, dict)
        or events.get("type") != "EVENT_TYPE"
        or not events.get("items")
    ):
        raise validation_failed("events", 'must be {"type": "EVENT_TYPE", "items": [event types…]}')
    items = events["items"]
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise validation_failed("events.items", "must be a list of System Log event types")
    channel = body.get("channel")
    config = channel.get("config") if isinstance(channel, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("uri"), str):
        raise validation_failed("channel.config.uri", "The field cannot be left blank.")
    if channel.get("type", "HTTP") != "HTTP":
        raise validation_failed("channel.type", "must be HTTP")
    try:
        check_hook_uri(config["uri"])
    except HookTargetError as error:
        raise validation_failed("channel.config.uri", str(error)) from None
    headers = config.get("headers") or []
    if not isinstance(headers, list) or not all(
        isinstance(h, dict) and "key" in h and "value" in h for h in headers
    ):
        raise validation_failed(
            "channel.config.headers", 'must be a list of {"key", "value"} objects'
        )
    auth = config.get("authScheme")
    if auth is not None and (not isinstance(auth, dict) or auth.get("type", "HEADER") != "HEADER"):
        raise validation_failed(
            "channel.config.authScheme", 'must be {"type": "HEADER", "key", "value"}'
        )
    return name, items, config["uri"], headers, auth


@blueprint.post("/api/v1/eventHooks")
def create_hook():
    name, items, uri, headers, auth = _hook_fields(read_json())
    store = runtime().store
    hook_id = clock.new_id("who")
    now = clock.now_iso()
    with store.transaction() as db:
        db.execute(
            "INSERT INTO event_hooks (id, name, status, verification_status, event_types, uri, headers, auth_scheme, "
            "created, last_updated) VALUES (?, ?, 'ACTIVE', 'UNVERIFIED', ?, ?, ?, ?, ?, ?)",
            (
                hook_id,
                name,
                json.dumps(items),
                uri,
                json.dumps(headers),
                json.dumps(auth) if auth else None,
                now,
                now,
            ),
        )
        store.record_event(
            "event_hook.created",
            current_actor(),
            [_target(hook_id, name)],
            "SUCCESS",
            "Event hook created",
            request=request,
        )
    return json_response(_render(_find_hook(hook_id), base_url()))


def _target(hook_id, name):
    return {"id": hook_id, "type": "EventHook", "alternateId": name, "displayName": name}


@blueprint.get("/api/v1/eventHooks")
def list_hooks():
    rows = runtime().store.all("SELECT * FROM event_hooks ORDER BY created, id")
    base = base_url()
    return json_response([_render(row, base) for row in rows])


@blueprint.get("/api/v1/eventHooks/<hook_id>")
def get_hook(hook_id):
    return json_response(_render(_find_hook(hook_id), base_url()))


@blueprint.put("/api/v1/eventHooks/<hook_id>")
def replace_hook(hook_id):
    _find_hook(hook_id)
    name, items, uri, headers, auth = _hook_fields(read_json())
    store = runtime().store
    with store.transaction() as db:
        db.execute(
            "UPDATE event_hooks SET name = ?, event_types = ?, uri = ?, headers = ?, "
            "auth_scheme = coalesce(?, auth_scheme), last_updated = ?, "
            "verification_status = CASE WHEN uri = ? THEN verification_status ELSE 'UNVERIFIED' END WHERE id = ?",
            (
                name,
                json.dumps(items),
                uri,
                json.dumps(headers),
                json.dumps(auth) if auth else None,
                clock.now_iso(),
                uri,
                hook_id,
            ),
        )
    return json_response(_render(_find_hook(hook_id), base_url()))


@blueprint.post("/api/v1/eventHooks/<hook_id>/lifecycle/verify")
def verify_hook(hook_id):
    hook = _find_hook(hook_id)
    state = runtime()
    failure = verify(hook, state.settings.hook_timeout_seconds)
    if failure is not None:
        raise OktaError(
            "E0000001",
            summary=f"Api validation failed: event hook verification failed: {failure}",
            causes=[failure],
        )
    with state.store.transaction() as db:
        db.execute(
            "UPDATE event_hooks SET verification_status = 'VERIFIED', last_updated = ? WHERE id = ?",
            (clock.now_iso(), hook_id),
        )
        state.store.record_event(
            "event_hook.verified",
            current_actor(),
            [_target(hook_id, hook["name"])],
            "SUCCESS",
            "Event hook verified",
            request=request,
        )
    return json_response(_render(_find_hook(hook_id), base_url()))


@blueprint.post("/api/v1/eventHooks/<hook_id>/lifecycle/<operation>")
def hook_lifecycle(hook_id, operation):
    if operation not in ("activate", "deactivate"):
        raise OktaError("E0000007", f"{request.path} (Path)")
    hook = _find_hook(hook_id)
    store = runtime().store
    status = "ACTIVE" if operation == "activate" else "INACTIVE"
    with store.transaction() as db:
        db.execute(
            "UPDATE event_hooks SET status = ?, last_updated = ? WHERE id = ?",
            (status, clock.now_iso(), hook_id),
        )
        event_type = "event_hook.activated" if operation == "activate" else "event_hook.deactivated"
        store.record_event(
            event_type,
            current_actor(),
            [_target(hook_id, hook["name"])],
            "SUCCESS",
            f"Event hook {operation}d",
            request=request,
        )
    return json_response(_render(_find_hook(hook_id), base_url()))


@blueprint.delete("/api/v1/eventHooks/<hook_id>")
def delete_hook(hook_id):
    hook = _find_hook(hook_id)
    if hook["status"] == "ACTIVE":
        raise OktaError(
            "E0000001",
            summary="Api validation failed: deactivate the event hook before deleting it",
            causes=["status: the event hook must be INACTIVE to be deleted"],
        )
    store = runtime().store
    with store.transaction() as db:
        db.execute("DELETE FROM event_hooks WHERE id = ?", (hook_id,))
        db.execute(
            "DELETE FROM hook_deliveries WHERE hook_id = ? AND state = 'pending'", (hook_id,)
        )
        store.record_event(
            "event_hook.deleted",
            current_actor(),
            [_target(hook_id, hook["name"])],
            "SUCCESS",
            "Event hook deleted",
            request=request,
        )
    return empty_response()
