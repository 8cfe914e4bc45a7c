"""Filters and keyset paging of the event list."""

import datetime

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.queries import keyset_page
from audit.tests.conftest import record_at

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


@pytest.fixture
def admin_client(client, personas):
    client.force_login(personas["admin"])
    return client


def listed(client, **params) -> list[int]:
    response = client.get(reverse("audit:events"), params)
    assert response.status_code == 200, response.context["form"].errors
    return [event.sequence for event in response.context["page"].events]


def test_keyset_pages_cover_all_without_overlap():
    for number in range(12):
        record_at(None, "user.synced", payload={"number": number})
    events = AuditEvent.objects.all()

    seen = []
    page = keyset_page(events, size=5)
    seen.extend(event.sequence for event in page.events)
    while page.older_than is not None:
        page = keyset_page(events, older_than=page.older_than, size=5)
        seen.extend(event.sequence for event in page.events)

    assert seen == list(range(12, 0, -1))


def test_keyset_newer_page_returns_previous_page():
    for _ in range(12):
        record_at(None, "user.synced")
    events = AuditEvent.objects.all()
    first = keyset_page(events, size=5)
    second = keyset_page(events, older_than=first.older_than, size=5)

    back = keyset_page(events, newer_than=second.newer_than, size=5)

    assert [e.sequence for e in back.events] == [e.sequence for e in first.events]
    assert back.newer_than is None
    assert back.older_than == first.older_than


def test_list_pages_through_links(admin_client):
    for _ in range(60):
        record_at(None, "user.synced")
    response = admin_client.get(reverse("audit:events"))
    page = response.context["page"]
    assert len(page.events) == 50
    assert f"older_than={page.older_than}".encode() in response.content
    assert listed(admin_client, older_than=page.older_than) == list(range(10, 0, -1))


@pytest.fixture
def varied(history, personas, resource):
    """Events differing in actor, action, outcome, resource and day."""
    subject = personas["subject"]
    return {
        "failed": record_at(
            None,
            "grant.failed",
            target=resource,
            subject_user=subject,
            resource=resource,
            outcome="failure",
            payload={"reason": "Okta said no"},
        ),
        "denied": record_at(
            None,
            "step.denied",
            actor=personas["manager"],
            subject_user=subject,
            payload={"comment": "not during the freeze"},
        ),
    }


def test_filter_by_actor(admin_client, history, varied):
    assert listed(admin_client, actor="manager@example.com") == [
        varied["denied"].sequence,
        history["approved"].sequence,
    ]


def test_filter_by_system_actor(admin_client, history, varied):
    assert listed(admin_client, actor="system") == [
        varied["failed"].sequence,
        history["unrelated"].sequence,
    ]


def test_filter_by_subject(admin_client, history, varied, personas):
    assert listed(admin_client, subject=personas["outsider"].okta_id) == [
        history["unrelated"].sequence
    ]


def test_filter_by_resource(admin_client, history, varied, resource):
    expected = [
        varied["failed"].sequence,
        history["approved"].sequence,
        history["submitted"].sequence,
    ]
    assert listed(admin_client, resource=resource.okta_id) == expected
    assert listed(admin_client, resource=resource.name) == expected


def test_filter_by_action_and_area(admin_client, history, varied):
    assert listed(admin_client, action="step.denied") == [varied["denied"].sequence]
    assert listed(admin_client, action="step.*") == [
        varied["denied"].sequence,
        history["approved"].sequence,
    ]


def test_filter_by_outcome(admin_client, history, varied):
    assert listed(admin_client, outcome="failure") == [varied["failed"].sequence]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("freeze", ["denied"]),
        ("ledger", ["submitted"]),
        ("audit season", ["approved"]),
        ("said no", ["failed"]),
        ("payroll", []),
    ],
)
def test_text_search_in_free_text(admin_client, history, varied, text, expected):
    events = {**history, **varied}
    assert listed(admin_client, q=text) == [events[name].sequence for name in expected]


def test_filter_by_date_range(admin_client):
    days = [datetime.datetime(2026, 5, day, 12, tzinfo=UTC) for day in (1, 2, 3, 4)]
    events = [record_at(when, "user.synced") for when in days]
    assert listed(admin_client, since="2026-05-02", until="2026-05-03") == [
        events[2].sequence,
        events[1].sequence,
    ]
    assert listed(admin_client, since="2026-05-04") == [events[3].sequence]
    assert listed(admin_client, until="2026-05-01") == [events[0].sequence]
    assert listed(admin_client, since="2026-06-01") == []
    assert listed(admin_client, until="2026-04-30") == []


def test_filters_combine(admin_client, history, varied, personas):
    assert listed(
        admin_client, subject=personas["subject"].login, outcome="failure", action="grant.*"
    ) == [varied["failed"].sequence]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"actor": "nobody@example.com"}, "No user has the login or Okta id"),
        ({"since": "yesterday"}, "Enter a valid date"),
        ({"since": "2026-05-03", "until": "2026-05-01"}, "is before the first day"),
        ({"action": "grant.teleported"}, "Select a valid choice"),
        ({"outcome": "maybe"}, "Select a valid choice"),
        ({"older_than": "abc"}, "Enter a whole number"),
    ],
)
def test_bad_filter_is_explained(admin_client, params, message):
    response = admin_client.get(reverse("audit:events"), params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_timeline_shows_user_as_actor_and_subject(client, history, personas):
    client.force_login(personas["manager"])
    response = client.get(reverse("audit:user", args=[personas["manager"].okta_id]))
    assert [e.sequence for e in response.context["page"].events] == [history["approved"].sequence]


def count_queries(client, url, params=None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("persona", ["admin", "manager"])
def test_list_query_count_is_constant(client, personas, resource, persona):
    client.force_login(personas[persona])
    subject = personas["subject"]
    url = reverse("audit:events")
    record_at(None, "request.submitted", actor=subject, subject_user=subject, resource=resource)
    few = count_queries(client, url)
    for _ in range(60):
        record_at(None, "request.submitted", actor=subject, subject_user=subject, resource=resource)
    assert count_queries(client, url) == few
    assert few <= 6


def test_date_range_pages_both_ways(admin_client):
    start = datetime.datetime(2026, 5, 1, tzinfo=UTC)
    # One event every 30 minutes for four days: 96 events on 2 and 3 May, two pages of 50.
    events = [
        record_at(start + datetime.timedelta(minutes=30 * number), "user.synced")
        for number in range(4 * 48)
    ]
    in_range = [event.sequence for event in events if event.created_at.day in (2, 3)]
    params = {"since": "2026-05-02", "until": "2026-05-03"}

    first = admin_client.get(reverse("audit:events"), params).context["page"]
    older = admin_client.get(
        reverse("audit:events"), {**params, "older_than": first.older_than}
    ).context["page"]
    back = admin_client.get(
        reverse("audit:events"), {**params, "newer_than": older.newer_than}
    ).context["page"]

    listed_sequences = [e.sequence for e in first.events] + [e.sequence for e in older.events]
    assert listed_sequences == sorted(in_range, reverse=True)
    assert older.older_than is None
    assert [e.sequence for e in back.events] == [e.sequence for e in first.events]
    assert back.newer_than is None
