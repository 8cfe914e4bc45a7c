"""Groups: list/search, get, create, delete, members (list, PUT, DELETE)."""

import json

from flask import Blueprint, request

from .. import directory, query
from ..app import base_url, current_actor, empty_response, json_response, read_json, runtime
from ..errors import OktaError
from ..paging import decode_cursor, encode_cursor, link_header, parse_limit
from .listing import member_list_response

blueprint = Blueprint("groups", __name__)

_GROUP_FIELDS = {
    "id": "id",
    "type": "type",
    "created": "created",
    "lastUpdated": "last_updated",
    "lastMembershipUpdated": "last_membership_updated",
}
_FILTERABLE = {"id", "type", "lastUpdated", "lastMembershipUpdated"}
_group_column = query.column_resolver(_GROUP_FIELDS)


def _render_with_stats(row, base, store):
    text = directory.render_group(row, base)
    users = store.db.execute(
        "SELECT count(*) FROM group_members WHERE group_id = ?", (row["id"],)
    ).fetchone()[0]
    apps = store.db.execute(
        "SELECT count(*) FROM app_groups WHERE group_id = ?", (row["id"],)
    ).fetchone()[0]
    stats = {
        "usersCount": users,
        "appsCount": apps,
        "groupPushMappingsCount": 0,
        "hasAdminPrivilege": False,
        "_links": {"self": {"href": f"{base}/api/v1/groups/{row['id']}/stats"}},
    }
    return text[:-1] + ',"_embedded":{"stats":' + json.dumps(stats, separators=(",", ":")) + "}}"


@blueprint.get("/api/v1/groups")
def list_groups():
    store = runtime().store
    args = request.args
    search, filter_text, q = args.get("search"), args.get("filter"), args.get("q")
    if search and (filter_text or q):
        raise OktaError("E0000033")
    expand = args.get("expand")
    if expand not in (None, "", "stats", "app"):
        raise query.invalid(expand, "expand supports only 'stats' and 'app'")
    base = base_url()
    limit = parse_limit(args, 10000, 10000)
    where, params = [], []
    if search:
        sql, sql_params = query.to_sql(query.parse(search), _group_column, search)
        where.append(sql)
        params += sql_params
    if filter_text:
        tree = query.parse(filter_text)
        query.check_filter(tree, filter_text, _FILTERABLE, {"lastUpdated", "lastMembershipUpdated"})
        sql, sql_params = query.to_sql(tree, _group_column, filter_text)
        where.append(sql)
        params += sql_params
    paged = True
    if q is not None:
        # `q` matches the start of the group name; Okta returns it without paging.
        where.append("lower(json_extract(profile, '$.name')) LIKE ? ESCAPE '\\'")
        params.append(query.like_prefix(q))
        paged = False
    after = args.get("after")
    if after and paged:
        where.append("id > ?")
        params.append(decode_cursor(after))
    sql = (
        "SELECT * FROM groups"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY id LIMIT ?"
    )
    rows = store.db.execute(sql, params + [limit + 1]).fetchall()
    next_cursor = encode_cursor(rows[limit - 1]["id"]) if paged and len(rows) > limit else None
    rows = rows[:limit]
    if expand == "stats":
        items = [_render_with_stats(row, base, store) for row in rows]
    else:
        items = [directory.render_group(row, base) for row in rows]
    headers = {}
    if paged:
        link_params = {
            "search": search,
            "filter": filter_text,
            "expand": expand or None,
            "limit": args.get("limit") or "10000",
            "after": after,
        }
        headers["Link"] = link_header(base, "/api/v1/groups", link_params, next_cursor)
    return json_response("[" + ",".join(items) + "]", headers=headers)


@blueprint.post("/api/v1/groups")
def create_group():
    store = runtime().store
    group_id = directory.create_group(store, read_json(), current_actor(), request)
    return json_response(directory.render_group(directory.find_group(store, group_id), base_url()))


@blueprint.get("/api/v1/groups/<group_id>")
def get_group(group_id):
    store = runtime().store
    row = directory.find_group(store, group_id)
    if request.args.get("expand") == "stats":
        return json_response(_render_with_stats(row, base_url(), store))
    return json_response(directory.render_group(row, base_url()))


@blueprint.delete("/api/v1/groups/<group_id>")
def delete_group(group_id):
    directory.delete_group(runtime().store, group_id, current_actor(), request)
    return empty_response()


@blueprint.get("/api/v1/groups/<group_id>/users")
def list_members(group_id):
    directory.find_group(runtime().store, group_id)
    return member_list_response(
        select="SELECT u.id, u.list_doc FROM group_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.group_id = ?",
        params=[group_id],
        sort_column="u.id",
        render=lambda rows, base: directory.render_user_list([row[1] for row in rows], base),
        path=f"/api/v1/groups/{group_id}/users",
        default_limit=1000,
        max_limit=1000,
    )


@blueprint.put("/api/v1/groups/<group_id>/users/<user_id>")
def add_member(group_id, user_id):
    directory.add_member(runtime().store, group_id, user_id, current_actor(), request)
    return empty_response()


@blueprint.delete("/api/v1/groups/<group_id>/users/<user_id>")
def remove_member(group_id, user_id):
    directory.remove_member(runtime().store, group_id, user_id, current_actor(), request)
    return empty_response()
