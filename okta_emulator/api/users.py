"""Users: list/search, get, create, partial profile update, lifecycle, delete and a user's groups."""

from flask import Blueprint, request

from .. import directory, query
from ..app import base_url, current_actor, empty_response, json_response, read_json, runtime
from ..errors import OktaError
from ..paging import decode_cursor, encode_cursor, link_header, parse_limit
from ..store import user_actor

blueprint = Blueprint("users", __name__)

_USER_FIELDS = {
    "id": "id",
    "status": "status",
    "created": "created",
    "activated": "activated",
    "statusChanged": "status_changed",
    "lastLogin": "last_login",
    "lastUpdated": "last_updated",
    "passwordChanged": "password_changed",
}
# `filter` accepts only these attributes, with eq, except lastUpdated which also takes gt/ge/lt/le.
_FILTERABLE = {
    "id",
    "status",
    "lastUpdated",
    "profile.login",
    "profile.email",
    "profile.firstName",
    "profile.lastName",
}
_user_column = query.column_resolver(_USER_FIELDS, {"type.id": f"'{directory.USER_TYPE_ID}'"})


@blueprint.get("/api/v1/users")
def list_users():
    store = runtime().store
    args = request.args
    search, filter_text, q = args.get("search"), args.get("filter"), args.get("q")
    if search and (filter_text or q):
        raise OktaError("E0000033")
    base = base_url()
    if q is not None and not search and not filter_text:
        return _list_by_prefix(store, q, parse_limit(args, 10, 200), base)

    limit = parse_limit(args, 200, 200)
    where, params = [], []
    if search:
        sql, sql_params = query.to_sql(query.parse(search), _user_column, search)
        where.append(sql)
        params += sql_params
    elif filter_text:
        tree = query.parse(filter_text)
        query.check_filter(tree, filter_text, _FILTERABLE, {"lastUpdated"})
        sql, sql_params = query.to_sql(tree, _user_column, filter_text)
        where.append(sql)
        params += sql_params
    else:
        # Without search or filter Okta leaves DEPROVISIONED users out of the list.
        where.append("status != 'DEPROVISIONED'")
    after = args.get("after")
    if after:
        where.append("id > ?")
        params.append(decode_cursor(after))
    sql = f"SELECT id, list_doc FROM users WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
    rows = store.db.execute(sql, params + [limit + 1]).fetchall()
    next_cursor = encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    rows = rows[:limit]
    body = directory.render_user_list([row[1] for row in rows], base)
    link_params = {
        "search": search,
        "filter": filter_text,
        "limit": args.get("limit"),
        "after": after,
    }
    return json_response(
        body, headers={"Link": link_header(base, "/api/v1/users", link_params, next_cursor)}
    )


def _list_by_prefix(store, q, limit, base):
    """`q` matches the start of firstName, lastName or email, case-insensitively; it has no paging."""
    pattern = query.like_prefix(q)
    sql = (
        "SELECT id, list_doc FROM users WHERE status != 'DEPROVISIONED' AND ("
        "lower(json_extract(profile, '$.firstName')) LIKE ? ESCAPE '\\' OR "
        "lower(json_extract(profile, '$.lastName')) LIKE ? ESCAPE '\\' OR "
        "lower(json_extract(profile, '$.email')) LIKE ? ESCAPE '\\') ORDER BY id LIMIT ?"
    )
    rows = store.db.execute(sql, (pattern, pattern, pattern, limit)).fetchall()
    return json_response(directory.render_user_list([row[1] for row in rows], base))


@blueprint.post("/api/v1/users")
def create_user():
    store = runtime().store
    activate = request.args.get("activate", "true").lower() != "false"
    body = read_json()
    user_id = directory.create_user(store, body, activate, current_actor(), request)
    row = directory.find_user_row(store, user_id)
    return json_response(directory.render_user_row(row, base_url(), full=True))


@blueprint.get("/api/v1/users/<path:user_id>")
def get_user(user_id):
    if "/" in user_id:
        raise OktaError("E0000007", f"{request.path} (Path)")
    row = directory.find_user_row(runtime().store, user_id)
    return json_response(directory.render_user_row(row, base_url(), full=True))


@blueprint.post("/api/v1/users/<user_id>")
def update_user(user_id):
    store = runtime().store
    directory.update_user_profile(store, user_id, read_json(), current_actor(), request)
    row = directory.find_user_row(store, user_id)
    return json_response(directory.render_user_row(row, base_url(), full=True))


@blueprint.delete("/api/v1/users/<user_id>")
def delete_user(user_id):
    directory.delete_user(runtime().store, user_id, current_actor(), request)
    return empty_response()


@blueprint.post("/api/v1/users/<user_id>/lifecycle/<operation>")
def lifecycle(user_id, operation):
    if operation not in directory.LIFECYCLE:
        raise OktaError("E0000007", f"{request.path} (Path)")
    store = runtime().store
    before = directory.change_status(store, user_id, operation, current_actor(), request)
    if operation == "deactivate" and before["status"] == "STAGED":
        # Recorded Okta traffic: deactivating a STAGED user returns 204, an active one 200 with {}.
        return empty_response()
    if operation == "activate" and request.args.get("sendEmail", "true").lower() == "false":
        token = directory.activation_token()
        return json_response(
            {"activationUrl": f"{base_url()}/tokens/{token}/verify", "activationToken": token}
        )
    return json_response({})


@blueprint.delete("/api/v1/users/<user_id>/sessions")
def clear_sessions(user_id):
    """End the user's Okta sessions. The emulator's API has no sessions of its own, so only the event remains."""
    store = runtime().store
    user = directory.require_user(store, user_id)
    store.record_event(
        "user.session.clear",
        current_actor(),
        [user_actor(user)],
        "SUCCESS",
        "Clear user session",
        request=request,
    )
    return empty_response()


@blueprint.get("/api/v1/users/<user_id>/groups")
def user_groups(user_id):
    store = runtime().store
    user = directory.require_user(store, user_id)
    rows = store.db.execute(
        "SELECT g.* FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.id",
        (user["id"],),
    ).fetchall()
    base = base_url()
    body = "[" + ",".join(directory.render_group(row, base) for row in rows) + "]"
    link = link_header(base, f"/api/v1/users/{user['id']}/groups", {"limit": "200"}, None)
    return json_response(body, headers={"Link": link})
