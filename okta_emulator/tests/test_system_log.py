"""System Log: events for every change, polling order, next link on an empty page, filters."""

import re
from urllib.parse import parse_qs, urlsplit

from okta_emulator import clock

from .demo_org import ACTIVE_ID, OKTA_GROUP_ID, PORTAL_ADMINS_ID, SECOND_ACTIVE_ID

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def next_path(emulator, response):
    links = {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}
    url = links.get("next")
    return url[len(emulator.url) :] if url else None


def membership_events(okta_org, path):
    response = okta_org.request("GET", path)
    assert response.status == 200
    return response, response.json()


def test_poll_returns_membership_changes_in_order(okta_org):
    first = okta_org.request("GET", "/api/v1/logs")
    cursor_path = next_path(okta_org, first)
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{SECOND_ACTIVE_ID}")
    okta_org.request("DELETE", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")

    response, events = membership_events(okta_org, cursor_path)

    assert [(event["eventType"], event["target"][0]["id"]) for event in events] == [
        ("group.user_membership.add", ACTIVE_ID),
        ("group.user_membership.add", SECOND_ACTIVE_ID),
        ("group.user_membership.remove", ACTIVE_ID),
    ]
    assert [event["published"] for event in events] == sorted(
        event["published"] for event in events
    )
    assert next_path(okta_org, response)


def test_empty_poll_keeps_next_link(okta_org):
    first = okta_org.request("GET", "/api/v1/logs")
    empty = okta_org.request("GET", next_path(okta_org, first))
    assert empty.json() == []
    assert next_path(okta_org, empty)
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    after_empty = okta_org.request("GET", next_path(okta_org, empty))
    assert [event["eventType"] for event in after_empty.json()] == ["group.user_membership.add"]


def test_poll_pages_by_limit(okta_org):
    for user_id in (ACTIVE_ID, SECOND_ACTIVE_ID):
        okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{user_id}")
        okta_org.request("DELETE", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{user_id}")
    seen = []
    path = "/api/v1/logs?limit=1"
    for _ in range(6):
        response = okta_org.request("GET", path)
        seen += response.json()
        path = next_path(okta_org, response)
    assert [event["eventType"] for event in seen] == [
        "group.user_membership.add",
        "group.user_membership.remove",
    ] * 2
    assert len({event["uuid"] for event in seen}) == 4


def test_event_shape_names_actor_target_outcome(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    event = okta_org.request("GET", "/api/v1/logs").json()[-1]
    assert event["actor"]["type"] == "User"
    assert event["actor"]["alternateId"] == "portal.service@example.com"
    assert [target["type"] for target in event["target"]] == ["User", "UserGroup"]
    assert event["outcome"] == {"result": "SUCCESS"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["published"])
    assert event["debugContext"]["debugData"]["requestId"]


def test_repeated_put_writes_no_second_event(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    events = okta_org.request("GET", "/api/v1/logs").json()
    assert len(events) == 1


def test_filter_by_event_type_and_target(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    okta_org.request("PUT", f"/api/v1/groups/{PORTAL_ADMINS_ID}/users/{ACTIVE_ID}")
    okta_org.request("POST", f"/api/v1/users/{SECOND_ACTIVE_ID}/lifecycle/suspend")
    by_type = okta_org.request(
        "GET", '/api/v1/logs?filter=eventType+eq+"user.lifecycle.suspend"'
    ).json()
    by_target = okta_org.request(
        "GET", f'/api/v1/logs?filter=target.id+eq+"{PORTAL_ADMINS_ID}"'
    ).json()
    assert [event["target"][0]["id"] for event in by_type] == [SECOND_ACTIVE_ID]
    assert len(by_target) == 1


def test_descending_bounded_query_ends_without_next(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    okta_org.request("DELETE", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    response = okta_org.request(
        "GET", "/api/v1/logs?sortOrder=DESCENDING&until=2100-01-01T00:00:00.000Z"
    )
    assert [event["eventType"] for event in response.json()] == [
        "group.user_membership.remove",
        "group.user_membership.add",
    ]
    assert next_path(okta_org, response) is None


def test_since_excludes_older_events(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    published = okta_org.request("GET", "/api/v1/logs").json()[0]["published"]
    later = clock.iso(clock.parse_iso(published) + 0.001)
    assert len(okta_org.request("GET", f"/api/v1/logs?since={published}").json()) == 1
    assert okta_org.request("GET", f"/api/v1/logs?since={later}").json() == []


def test_events_older_than_90_days_are_gone(okta_org):
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    okta_org.set_clock_offset(91 * 24 * 3600)
    response = okta_org.request("GET", "/api/v1/logs?since=2000-01-01T00:00:00.000Z")
    assert response.json() == []


def test_invalid_since_rejected(okta_org):
    response = okta_org.request("GET", "/api/v1/logs?since=yesterday")
    assert response.status == 400
    assert response.json()["errorCode"] == "E0000001"
    assert "since" in response.json()["errorCauses"][0]["errorSummary"]


def test_next_link_keeps_filter(okta_org):
    response = okta_org.request(
        "GET", '/api/v1/logs?filter=eventType+eq+"user.lifecycle.suspend"&limit=5'
    )
    query = parse_qs(urlsplit(next_path(okta_org, response)).query)
    assert query["filter"] == ['eventType eq "user.lifecycle.suspend"']
    assert query["limit"] == ["5"]
