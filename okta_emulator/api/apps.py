"""Apps: list, get, app users (list, get, assign, unassign) and app group assignments."""

from flask import Blueprint, request

from .. import directory, query
from ..app import base_url, current_actor, empty_response, json_response, read_json, runtime
from ..errors import OktaError, not_found
from ..paging import decode_cursor, encode_cursor, link_header, parse_limit
from .listing import member_list_response

blueprint = Blueprint("apps", __name__)

_APP_FIELDS = {
    "id": "id",
    "status": "status",
    "name": "name",
    "label": "label",
    "signOnMode": "sign_on_mode",
    "lastUpdated": "last_updated",
    "created": "created",
}


def _app_column(attribute):
    return _APP_FIELDS.get(attribute)


def _json_array(items):
    return "[" + ",".join(items) + "]"


@blueprint.get("/api/v1/apps")
def list_apps():
    store = runtime().store
    args = request.args
    limit = parse_limit(args, 20, 200)
    where, params = [], []
    filter_text, q = args.get("filter"), args.get("q")
    if filter_text:
        sql, sql_params = query.to_sql(query.parse(filter_text), _app_column, filter_text)
        where.append(sql)
        params += sql_params
    if q:
        # `q` matches the start of the app's name or label.
        where.append("(lower(label) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\')")
        params += [query.like_prefix(q)] * 2
    after = args.get("after")
    if after:
        where.append("id > ?")
        params.append(decode_cursor(after))
    sql = (
        "SELECT * FROM apps"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY id LIMIT ?"
    )
    rows = store.db.execute(sql, params + [limit + 1]).fetchall()
    next_cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    base = base_url()
    body = "[" + ",".join(directory.render_app(row, base) for row in rows[:limit]) + "]"
    link_params = {
        "filter": filter_text,
        "q": q,
        "limit": args.get("limit") or "20",
        "after": after,
    }
    return json_response(
        body, headers={"Link": link_header(base, "/api/v1/apps", link_params, next_cursor)}
    )


@blueprint.post("/api/v1/apps")
def create_app():
    store = runtime().store
    activate = request.args.get("activate", "true").lower() != "false"
    app_id = directory.create_app(store, read_json(), activate, current_actor(), request)
    return json_response(directory.render_app(directory.find_app(store, app_id), base_url()))


@blueprint.post("/api/v1/apps/<app_id>/lifecycle/<operation>")
def app_lifecycle(app_id, operation):
    if operation not in ("activate", "deactivate"):
        raise OktaError("E0000007", f"{request.path} (Path)")
    directory.set_app_status(
        runtime().store, app_id, operation == "activate", current_actor(), request
    )
    return json_response({})


@blueprint.delete("/api/v1/apps/<app_id>")
def delete_app(app_id):
    directory.delete_app(runtime().store, app_id, current_actor(), request)
    return empty_response()


@blueprint.get("/api/v1/apps/<app_id>")
def get_app(app_id):
    return json_response(
        directory.render_app(directory.find_app(runtime().store, app_id), base_url())
    )


@blueprint.get("/api/v1/apps/<app_id>/users")
def list_app_users(app_id):
    directory.find_app(runtime().store, app_id)
    return member_list_response(
        select=directory.APP_USER_SELECT + "WHERE au.app_id = ?",
        params=[app_id],
        sort_column="au.user_id",
        render=lambda rows, base: _json_array(directory.render_app_user(row, base) for row in rows),
        path=f"/api/v1/apps/{app_id}/users",
        default_limit=50,
        max_limit=500,
    )


@blueprint.post("/api/v1/apps/<app_id>/users")
def assign_user(app_id):
    store = runtime().store
    user_id = directory.assign_user(store, app_id, read_json(), current_actor(), request)
    return json_response(
        directory.render_app_user(directory.find_app_user(store, app_id, user_id), base_url())
    )


@blueprint.get("/api/v1/apps/<app_id>/users/<user_id>")
def get_app_user(app_id, user_id):
    store = runtime().store
    directory.find_app(store, app_id)
    return json_response(
        directory.render_app_user(directory.find_app_user(store, app_id, user_id), base_url())
    )


@blueprint.delete("/api/v1/apps/<app_id>/users/<user_id>")
def unassign_user(app_id, user_id):
    directory.unassign_user(runtime().store, app_id, user_id, current_actor(), request)
    return empty_response()


@blueprint.get("/api/v1/apps/<app_id>/groups")
def list_app_groups(app_id):
    directory.find_app(runtime().store, app_id)
    return member_list_response(
        select="SELECT * FROM app_groups WHERE app_id = ?",
        params=[app_id],
        sort_column="group_id",
        render=lambda rows, base: _json_array(
            directory.render_app_group(row, base) for row in rows
        ),
        path=f"/api/v1/apps/{app_id}/groups",
        default_limit=20,
        max_limit=200,
    )


@blueprint.get("/api/v1/apps/<app_id>/groups/<group_id>")
def get_app_group(app_id, group_id):
    store = runtime().store
    directory.find_app(store, app_id)
    row = store.db.execute(
        "SELECT * FROM app_groups WHERE app_id = ? AND group_id = ?", (app_id, group_id)
    ).fetchone()
    if row is None:
        raise not_found(group_id, "ApplicationGroupAssignment")
    return json_response(directory.render_app_group(row, base_url()))


@blueprint.put("/api/v1/apps/<app_id>/groups/<group_id>")
def assign_group(app_id, group_id):
    store = runtime().store
    directory.assign_group(
        store, app_id, group_id, read_json(required=False), current_actor(), request
    )
    row = store.db.execute(
        "SELECT * FROM app_groups WHERE app_id = ? AND group_id = ?", (app_id, group_id)
    ).fetchone()
    return json_response(directory.render_app_group(row, base_url()))


@blueprint.delete("/api/v1/apps/<app_id>/groups/<group_id>")
def unassign_group(app_id, group_id):
    directory.unassign_group(runtime().store, app_id, group_id, current_actor(), request)
    return empty_response()
