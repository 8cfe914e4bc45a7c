"""Reading the test emulator's org over its HTTP API, and mirroring its users in the portal."""

import datetime
import re
from collections import Counter
from urllib.parse import quote, urlsplit

from django.utils import timezone

from access_requests.models import Resource
from accounts.models import User

NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


def get_all(okta_org, path: str) -> list[dict]:
    """GET every page of a Management API listing."""
    items = []
    while path:
        response = okta_org.request("GET", path)
        assert response.status == 200, response
        items.extend(response.json())
        match = NEXT_LINK.search(response.headers.get("Link") or "")
        path = None
        if match:
            url = urlsplit(match.group(1))
            path = f"{url.path}?{url.query}"
    return items


def active_users(okta_org) -> list[dict]:
    return [
        user for user in get_all(okta_org, "/api/v1/users?limit=200") if user["status"] == "ACTIVE"
    ]


def okta_groups(okta_org) -> list[dict]:
    """The org's groups whose membership the API can change."""
    return [
        group
        for group in get_all(okta_org, "/api/v1/groups?limit=200")
        if group["type"] == "OKTA_GROUP"
    ]


def group_member_ids(okta_org, group_id: str) -> set[str]:
    return {user["id"] for user in get_all(okta_org, f"/api/v1/groups/{group_id}/users?limit=200")}


def portal_user(okta_user: dict, **fields) -> User:
    """Create the portal's row for an Okta user, as sign-in or the user sync would."""
    profile = okta_user["profile"]
    values = {
        "login": profile["login"],
        "email": profile.get("email") or "",
        "first_name": profile.get("firstName") or "",
        "last_name": profile.get("lastName") or "",
    }
    values.update(fields)
    return User.objects.create_user(okta_id=okta_user["id"], **values)


def group_resource(okta_group: dict, **fields) -> Resource:
    # Managed for a while already: its Okta members were compared before (the baseline).
    defaults = {
        "baseline_taken_at": timezone.now(),
        "kind": Resource.Kind.GROUP,
        "name": okta_group["profile"]["name"],
        "group_type": okta_group["type"],
        "requestable": True,
        "approval_policy": Resource.ApprovalPolicy.OWNERS,
        "allow_no_end": True,
    }
    defaults.update(fields)
    return Resource.objects.create(okta_id=okta_group["id"], **defaults)


def emulator_now(okta_org) -> str:
    """Return the emulator's current time as an ISO 8601 string, for the System Log's since."""
    return okta_org.request("GET", "/_emulator/clock").json()["now"]


def log_events(okta_org, since: str, event_type: str) -> list[dict]:
    """Return the System Log events of `event_type` published from `since` until now."""
    # `until` is exclusive and has millisecond precision, so an event published in the same
    # millisecond as "now" would be left out: end the range one millisecond later.
    now = datetime.datetime.fromisoformat(emulator_now(okta_org).replace("Z", "+00:00"))
    until = (now + datetime.timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
    event_filter = quote(f'eventType eq "{event_type}"')
    # With `until`, the last page has no next link; a poll without it always has one.
    return get_all(
        okta_org,
        f"/api/v1/logs?since={quote(since)}&until={quote(until)}&filter={event_filter}&limit=1000",
    )


def membership_adds(okta_org, since: str) -> Counter:
    """Count group.user_membership.add events per (user id, group id) since `since`."""
    events = log_events(okta_org, since, "group.user_membership.add")
    counts = Counter()
    for event in events:
        user = next(target["id"] for target in event["target"] if target["type"] == "User")
        group = next(target["id"] for target in event["target"] if target["type"] == "UserGroup")
        counts[(user, group)] += 1
    return counts
