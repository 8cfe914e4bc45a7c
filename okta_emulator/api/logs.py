"""System Log: GET /api/v1/logs with Okta's polling semantics.

A poll (no `until`, ascending order) always carries a rel="next" link, even on an empty page, so a
client can keep following it to receive new events. A bounded query (with `until`, or in
descending order) has a next link only while more events remain.
"""

import json

from flask import Blueprint, request

from .. import clock, query
from ..app import base_url, json_response, runtime
from ..errors import validation_failed
from ..paging import decode_cursor, encode_cursor, link_header, parse_limit

blueprint = Blueprint("logs", __name__)

RETENTION_SECONDS = 90 * 24 * 3600
DEFAULT_SINCE_SECONDS = 7 * 24 * 3600
SCAN_BATCH = 500


def _time_arg(name):
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return clock.parse_iso(raw)
    except ValueError:
        raise validation_failed(
            name, f"{raw!r} is not an ISO 8601 time such as 2026-01-31T12:00:00.000Z"
        ) from None


def _cursor_seq(raw):
    value = decode_cursor(raw)
    if not value.isdigit():
        raise validation_failed(
            "after", f"invalid paging cursor {raw!r}: pass the after value of a next link"
        )
    return int(value)


def _keyword_match(event, words):
    text = " ".join(
        str(value)
        for value in (
            event.get("eventType"),
            event.get("displayMessage"),
            json.dumps(event.get("actor")),
            json.dumps(event.get("target")),
        )
    )
    text = text.lower()
    return all(word.lower() in text for word in words)


def _matching_events(store, sql, params, limit, tree, words):
    """Scan events in SCAN_BATCH steps; return up to limit matching docs and the last one's seq."""
    events, last_seq, offset = [], None, 0
    while len(events) < limit:
        rows = store.all(sql, params + [SCAN_BATCH, offset])
        for row in rows:
            event = json.loads(row["doc"])
            if tree is not None and not query.evaluate(
                tree, lambda attribute, e=event: query.values_at(e, attribute)
            ):
                continue
            if words and not _keyword_match(event, words):
                continue
            events.append(row["doc"])
            last_seq = row["seq"]
            if len(events) == limit:
                break
        if len(rows) < SCAN_BATCH:
            break
        offset += SCAN_BATCH
    return events, last_seq


@blueprint.get("/api/v1/logs")
def list_logs():
    store = runtime().store
    args = request.args
    limit = parse_limit(args, 100, 1000)
    sort_order = args.get("sortOrder", "ASCENDING").upper()
    if sort_order not in ("ASCENDING", "DESCENDING"):
        raise validation_failed(
            "sortOrder", f"must be ASCENDING or DESCENDING, not {args.get('sortOrder')!r}"
        )
    now = clock.now()
    since = _time_arg("since")
    until = _time_arg("until")
    if since is None:
        since = now - DEFAULT_SINCE_SECONDS
    since = max(since, now - RETENTION_SECONDS)
    if until is not None and until < since:
        raise validation_failed("until", "must not be earlier than since")
    filter_text, q = args.get("filter"), args.get("q")
    tree = query.parse(filter_text) if filter_text else None
    words = q.split() if q else []
    after = args.get("after")
    after_seq = _cursor_seq(after) if after else None
    polling = until is None and sort_order == "ASCENDING"

    # Everything up to max_seq is examined in this request; later events belong to the next poll.
    max_seq = store.one("SELECT coalesce(max(seq), 0) FROM log_events")[0]
    conditions = ["published >= ?", "seq <= ?"]
    params = [clock.iso(since), max_seq]
    if until is not None:
        conditions.append("published < ?")
        params.append(clock.iso(until))
    if after_seq is not None:
        conditions.append("seq > ?" if sort_order == "ASCENDING" else "seq < ?")
        params.append(after_seq)
    order = "ASC" if sort_order == "ASCENDING" else "DESC"
    sql = f"SELECT seq, doc FROM log_events WHERE {' AND '.join(conditions)} ORDER BY seq {order} LIMIT ? OFFSET ?"

    events, last_seq = _matching_events(store, sql, params, limit, tree, words)

    next_cursor = None
    if len(events) == limit:
        next_cursor = encode_cursor(last_seq)
    elif polling:
        # Every event up to max_seq has been examined, so the next poll starts after it.
        next_cursor = encode_cursor(max(max_seq, after_seq or 0))
    base = base_url()
    link_params = {
        "since": args.get("since"),
        "until": args.get("until"),
        "filter": filter_text,
        "q": q,
        "sortOrder": args.get("sortOrder"),
        "limit": args.get("limit"),
        "after": after,
    }
    body = "[" + ",".join(events) + "]"
    return json_response(
        body, headers={"Link": link_header(base, "/api/v1/logs", link_params, next_cursor)}
    )
