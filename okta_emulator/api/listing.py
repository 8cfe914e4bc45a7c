"""One page of the members of a group or an app: group users, app users and app groups."""

from flask import request

from ..app import base_url, json_response, runtime
from ..paging import decode_cursor, encode_cursor, link_header, parse_limit


def member_list_response(*, select, params, sort_column, render, path, default_limit, max_limit):
    """Return one page of members as Okta sends it: a JSON array and a Link header.

    `select` is a SELECT statement whose WHERE clause, with `params`, picks the members of one
    group or app. The page is ordered and cut by `sort_column`, whose name after the last dot
    must also name a column of the result rows. `render(rows, base)` returns the JSON array
    text for the page's rows. The caller checks first that the group or app exists.
    """
    limit = parse_limit(request.args, default_limit, max_limit)
    after = request.args.get("after")
    where_params = list(params)
    if after:
        select += f" AND {sort_column} > ?"
        where_params.append(decode_cursor(after))
    rows = (
        runtime()
        .store.db.execute(f"{select} ORDER BY {sort_column} LIMIT ?", where_params + [limit + 1])
        .fetchall()
    )
    key = sort_column.rsplit(".", 1)[-1]
    next_cursor = encode_cursor(rows[limit - 1][key]) if len(rows) > limit else None
    base = base_url()
    link_params = {"limit": request.args.get("limit") or str(default_limit), "after": after}
    return json_response(
        render(rows[:limit], base),
        headers={"Link": link_header(base, path, link_params, next_cursor)},
    )
