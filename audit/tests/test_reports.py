"""Access reports over grants that started, were extended, expired and were revoked."""

import csv
import datetime
import io
import json
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import (
    AccessRequest,
    AppGroupAssignment,
    Grant,
    GroupMembership,
    Resource,
)
from audit import reports
from audit.tests.conftest import record_at

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
DAY = datetime.date(2026, 3, 10)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Case:
    """One grant: when it started, what happened to it, and whether it counts on DAY."""

    name: str
    starts_at: datetime.datetime
    status: str = Grant.Status.ACTIVE
    # (time, action) events of the grant, besides its approval.
    events: list = field(default_factory=list)
    ends_at: datetime.datetime | None = None
    # When an extension request was approved, moving ends_at.
    extended_at: datetime.datetime | None = None
    pre_existing: bool = False
    # Set Grant.updated_at to this, for terminal grants without an ending event.
    updated_at: datetime.datetime | None = None
    other_resource: bool = False
    expected: bool = False


CASES = [
    Case("active since before", at(3, 1), expected=True),
    Case("started during the day", at(3, 10, 15), expected=True),
    Case("started at next midnight", at(3, 11), expected=False),
    Case("started the day after", at(3, 12), expected=False),
    Case(
        "expired the day before",
        at(3, 1),
        Grant.Status.EXPIRED,
        [(at(3, 9, 23, 59), "grant.expired")],
        ends_at=at(3, 9, 23, 50),
    ),
    Case(
        "expired at midnight starting the day",
        at(3, 1),
        Grant.Status.EXPIRED,
        [(at(3, 10), "grant.expired")],
        ends_at=at(3, 10),
    ),
    Case(
        "expired during the day",
        at(3, 1),
        Grant.Status.EXPIRED,
        [(at(3, 10, 8, 5), "grant.expired")],
        ends_at=at(3, 10, 8),
        expected=True,
    ),
    Case(
        "expired the day after",
        at(3, 1),
        Grant.Status.EXPIRED,
        [(at(3, 11, 0, 5), "grant.expired")],
        ends_at=at(3, 11),
        expected=True,
    ),
    # Its planned end was before the day, but the worker removed it only during the day, so the
    # user still had access that morning.
    Case(
        "planned end before, removed during",
        at(3, 1),
        Grant.Status.EXPIRED,
        [(at(3, 10, 0, 30), "grant.expired")],
        ends_at=at(3, 9, 18),
        expected=True,
    ),
    Case(
        "revoked the day before",
        at(3, 1),
        Grant.Status.REVOKED,
        [(at(3, 5, 9), "grant.revoking"), (at(3, 5, 9, 1), "grant.revoked")],
    ),
    Case(
        "revoked during the day",
        at(3, 1),
        Grant.Status.REVOKED,
        [(at(3, 10, 12), "grant.revoking"), (at(3, 10, 12, 1), "grant.revoked")],
        expected=True,
    ),
    Case(
        "revoked the day after",
        at(3, 1),
        Grant.Status.REVOKED,
        [(at(3, 12), "grant.revoking"), (at(3, 12, 0, 1), "grant.revoked")],
        expected=True,
    ),
    Case(
        "revocation pending",
        at(3, 1),
        Grant.Status.REVOKING,
        [(at(3, 9), "grant.revoking")],
        expected=True,
    ),
    Case(
        "extended across the day", at(2, 1), ends_at=at(4, 1), extended_at=at(3, 4), expected=True
    ),
    Case(
        "extended, expired before anyway",
        at(2, 1),
        Grant.Status.EXPIRED,
        [(at(3, 8), "grant.expired")],
        ends_at=at(3, 8),
        extended_at=at(3, 12),
    ),
    Case("still provisioning", at(3, 1), Grant.Status.PROVISIONING),
    Case("provisioning failed", at(3, 1), Grant.Status.FAILED, [(at(3, 1, 0, 5), "grant.failed")]),
    Case("pre-existing in Okta", at(3, 1), pre_existing=True, expected=True),
    Case("other resource", at(3, 1), other_resource=True),
    Case(
        "expired, no event, updated during",
        at(3, 1),
        Grant.Status.EXPIRED,
        updated_at=at(3, 10, 6),
        expected=True,
    ),
    Case(
        "expired, no event, updated before", at(3, 1), Grant.Status.EXPIRED, updated_at=at(3, 9, 6)
    ),
]


@pytest.fixture
def other_resource(db):
    return Resource.objects.create(
        kind=Resource.Kind.APP, okta_id="0oaother000000000001", name="Other app"
    )


@pytest.fixture
def approver(make_user):
    return make_user("approver")


def build(case: Case, index: int, resource, other_resource, approver, make_user):
    """Create the case's user, request, grant and extension; return (grant, timed events)."""
    user = make_user(f"case{index:02d}")
    target_resource = other_resource if case.other_resource else resource
    request = AccessRequest.objects.create(
        requester=user,
        resource=target_resource,
        justification=f"needed for {case.name}",
        status=AccessRequest.Status.APPROVED,
        created_at=case.starts_at - datetime.timedelta(hours=2),
        decided_at=case.starts_at - datetime.timedelta(hours=1),
    )
    grant = Grant.objects.create(
        user=user,
        resource=target_resource,
        request=request,
        starts_at=case.starts_at,
        ends_at=case.ends_at,
        status=case.status,
        pre_existing=case.pre_existing,
    )
    if case.updated_at is not None:
        Grant.objects.filter(pk=grant.pk).update(updated_at=case.updated_at)

    context = {"subject_user": user, "resource": target_resource}
    timed = [
        (
            request.decided_at,
            "step.approved",
            {
                "actor": approver,
                "target": request,
                "access_request": request,
                "payload": {"comment": f"ok {case.name}"},
            },
        ),
    ]
    if case.extended_at is not None:
        extension = AccessRequest.objects.create(
            requester=user,
            resource=target_resource,
            justification="still needed",
            status=AccessRequest.Status.APPROVED,
            extends_grant=grant,
            created_at=case.extended_at - datetime.timedelta(hours=1),
            decided_at=case.extended_at,
        )
        timed.append(
            (
                case.extended_at,
                "step.approved",
                {"actor": approver, "target": extension, "access_request": extension},
            )
        )
    for when, action in case.events:
        timed.append((when, action, {"actor": None, "target": grant}))
    return grant, [(when, action, {**context, **kwargs}) for when, action, kwargs in timed]


@pytest.fixture
def scenario(resource, other_resource, approver, make_user):
    grants = {}
    timed = []
    for index, case in enumerate(CASES):
        grant, events = build(case, index, resource, other_resource, approver, make_user)
        grants[case.name] = grant
        timed.extend(events)
    # The chain's created_at never decreases, so record in time order.
    for when, action, kwargs in sorted(timed, key=lambda item: item[0]):
        record_at(when, action, **kwargs)
    return grants


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_access_on_day(scenario, resource, case):
    found = set(reports.access_on_day(resource, DAY).values_list("pk", flat=True))
    assert (scenario[case.name].pk in found) == case.expected


def test_access_on_day_names_approval(scenario, resource):
    rows = {row["grant_id"]: row for row in reports.access_on_day_rows(resource, DAY)}
    row = rows[scenario["active since before"].pk]
    assert row["justification"] == "needed for active since before"
    assert row["approved_by"].startswith("approver@example.com (")
    assert row["approval_comments"] == "approver@example.com: ok active since before"
    assert row["ended_at"] is None


def test_access_on_day_lists_extension(scenario, resource):
    rows = {row["grant_id"]: row for row in reports.access_on_day_rows(resource, DAY)}
    row = rows[scenario["extended across the day"].pk]
    extension = AccessRequest.objects.get(extends_grant=scenario["extended across the day"])
    assert row["extension_request_ids"] == str(extension.pk)
    assert row["approved_by"].count("approver@example.com") == 2


def test_ended_at_comes_from_event(scenario, resource):
    rows = {row["grant_id"]: row for row in reports.access_on_day_rows(resource, DAY)}
    row = rows[scenario["revoked during the day"].pk]
    assert row["ended_at"] == at(3, 10, 12, 1)
    assert row["ended_at_source"] == "audit event"


def test_ended_at_falls_back_to_updated_at(scenario, resource):
    rows = {row["grant_id"]: row for row in reports.access_on_day_rows(resource, DAY)}
    row = rows[scenario["expired, no event, updated during"].pk]
    assert row["ended_at"] == at(3, 10, 6)
    assert row["ended_at_source"] == "grant updated_at"


def test_current_access(scenario):
    found = set(reports.current_access().values_list("pk", flat=True))
    expected = {
        scenario[name].pk
        for name in (
            "active since before",
            "started during the day",
            "started at next midnight",
            "started the day after",
            "revocation pending",
            "extended across the day",
            "pre-existing in Okta",
            "other resource",
        )
    }
    assert found == expected


def test_user_changes_in_time_order(scenario):
    grant = scenario["revoked during the day"]
    rows = list(reports.user_changes_rows(grant.user, datetime.date(2026, 3, 1), DAY))
    assert [(row["change"], row["at"]) for row in rows] == [
        ("gained", at(3, 1)),
        ("lost", at(3, 10, 12, 1)),
    ]


def test_user_changes_outside_range_is_empty(scenario):
    grant = scenario["revoked during the day"]
    rows = list(
        reports.user_changes_rows(grant.user, datetime.date(2026, 4, 1), datetime.date(2026, 4, 30))
    )
    assert rows == []


def test_access_on_day_csv_export(client, scenario, resource, personas):
    client.force_login(personas["admin"])
    url = reverse("audit:access_on_day_export", args=["csv"])
    response = client.get(url, {"resource": resource.okta_id, "day": DAY.isoformat()})
    assert response.status_code == 200
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = {scenario[case.name].pk for case in CASES if case.expected}
    assert {int(row["grant_id"]) for row in rows} == expected
    assert list(rows[0]) == list(reports.ACCESS_ON_DAY_COLUMNS)
    assert {row["through_groups_listed"] for row in rows} == {"yes"}


def test_user_changes_jsonl_export(client, scenario, personas):
    grant = scenario["revoked during the day"]
    client.force_login(personas["admin"])
    url = reverse("audit:user_changes_export", args=["jsonl"])
    response = client.get(
        url, {"user": grant.user.okta_id, "since": "2026-03-01", "until": "2026-03-31"}
    )
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["change"] for line in lines] == ["gained", "lost"]
    assert lines[1]["at"] == "2026-03-10T12:01:00+00:00"


def test_report_page_shows_rows(client, scenario, resource, personas):
    client.force_login(personas["admin"])
    response = client.get(
        reverse("audit:access_on_day"), {"resource": resource.name, "day": DAY.isoformat()}
    )
    assert response.status_code == 200
    assert b"needed for revoked during the day" in response.content


@pytest.mark.parametrize(
    "params, message",
    [
        ({"resource": "nope", "day": "2026-03-10"}, "No resource has the Okta id or name"),
        ({"resource": "Finance reports", "day": "10/03/2026x"}, "Enter a valid date"),
        ({"day": "2026-03-10"}, "This field is required"),
    ],
)
def test_access_on_day_bad_input(client, resource, personas, params, message):
    client.force_login(personas["admin"])
    response = client.get(reverse("audit:access_on_day"), params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_user_changes_reversed_range(client, personas):
    client.force_login(personas["admin"])
    response = client.get(
        reverse("audit:user_changes"),
        {"user": "subject@example.com", "since": "2026-03-10", "until": "2026-03-01"},
    )
    assert response.status_code == 400
    assert "is before the first day" in response.content.decode()


# --- Tracking: the baseline ------------------------------------------------------------------


def test_user_changes_labels_baseline_grant(resource, make_user):
    user = make_user("baseline")
    resource.baseline_taken_at = at(3, 5, 9)
    resource.save()
    baseline = Grant.objects.create(
        user=user,
        resource=resource,
        starts_at=at(3, 5, 9),
        status=Grant.Status.ACTIVE,
        pre_existing=True,
    )

    (row,) = reports.user_changes_rows(user, datetime.date(2026, 3, 1), DAY)
    assert row["change"] == "held when tracking began"
    assert row["grant_id"] == baseline.pk
    assert row["tracked_since"] == at(3, 5, 9)


def test_user_changes_labels_already_held(scenario):
    grant = scenario["pre-existing in Okta"]
    (row,) = reports.user_changes_rows(grant.user, datetime.date(2026, 3, 1), DAY)
    assert row["change"] == "granted, already held in Okta"


def access_on_day_page(client, personas, resource, day=DAY):
    client.force_login(personas["admin"])
    response = client.get(
        reverse("audit:access_on_day"), {"resource": resource.name, "day": day.isoformat()}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_day_before_tracking_is_unknown(client, resource, personas):
    resource.baseline_taken_at = at(3, 12, 8)
    resource.save()

    page = access_on_day_page(client, personas, resource)
    assert "began tracking Finance reports in Okta at 2026-03-12 08:00 UTC" in page
    assert "Who held it on 2026-03-10 is unknown" in page
    assert "No grants match." not in page


def test_day_of_tracking_start_is_noted(client, scenario, resource, personas):
    resource.baseline_taken_at = at(3, 10, 8)
    resource.save()

    page = access_on_day_page(client, personas, resource)
    assert "Before that time, only access granted through the portal is known" in page
    assert "needed for active since before" in page


def test_day_after_tracking_has_no_note(client, scenario, resource, personas):
    resource.baseline_taken_at = at(2, 1)
    resource.save()

    page = access_on_day_page(client, personas, resource)
    assert "began tracking" not in page
    assert "has not compared" not in page


def test_untracked_resource_is_noted(client, scenario, resource, personas):
    page = access_on_day_page(client, personas, resource)
    assert "has not compared Finance reports with Okta yet" in page


# --- Future days and access through groups -------------------------------------------------


def access_on_day_response(client, personas, resource, day, file_format=None):
    client.force_login(personas["admin"])
    params = {"resource": resource.name, "day": day.isoformat()}
    if file_format is None:
        return client.get(reverse("audit:access_on_day"), params)
    return client.get(reverse("audit:access_on_day_export", args=[file_format]), params)


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("file_format", [None, "csv"])
def test_access_on_day_rejects_future_day(client, scenario, resource, personas, file_format):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = access_on_day_response(client, personas, resource, tomorrow, file_format)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"{tomorrow.isoformat()} is in the future" in page
    assert f"today is {timezone.localdate().isoformat()}" in page


def test_access_on_day_accepts_today(client, scenario, resource, personas):
    response = access_on_day_response(client, personas, resource, timezone.localdate())
    assert response.status_code == 200
    assert "needed for active since before" in response.content.decode()


@pytest.fixture
def app_with_group(make_user):
    """An app that one user holds through a portal grant and another through a group."""
    app = Resource.objects.create(
        kind=Resource.Kind.APP, okta_id="0oagrafana0000000001", name="Grafana"
    )
    group = Resource.objects.create(
        kind=Resource.Kind.GROUP,
        okta_id="00goncall00000000001",
        name="On-Call Engineers",
        group_type=Resource.GroupType.OKTA_GROUP,
    )
    AppGroupAssignment.objects.create(app=app, group=group)
    # Access to another app through the same group must stay out of Grafana's report.
    other_app = Resource.objects.create(
        kind=Resource.Kind.APP, okta_id="0oaother000000000002", name="Wiki"
    )
    AppGroupAssignment.objects.create(app=other_app, group=group)
    member = make_user("member")
    GroupMembership.objects.create(group=group, user=member)
    holder = make_user("holder")
    Grant.objects.create(
        user=holder,
        resource=app,
        status=Grant.Status.ACTIVE,
        starts_at=timezone.now() - datetime.timedelta(days=30),
        pre_existing=True,
    )
    return app


def test_access_on_day_lists_groups_today(client, personas, app_with_group):
    today = timezone.localdate()
    response = access_on_day_response(client, personas, app_with_group, today, "csv")
    rows = csv_rows(response)
    assert [(row["user_login"], row["through_group"]) for row in rows] == [
        ("holder@example.com", ""),
        ("member@example.com", "On-Call Engineers"),
    ]
    assert {row["through_groups_listed"] for row in rows} == {"yes"}

    page = access_on_day_response(client, personas, app_with_group, today).content.decode()
    assert "through Okta group assignments is listed as the portal knows it now" in page
    assert "through group On-Call Engineers" in page


def test_access_on_day_matches_current_access(client, personas, app_with_group):
    today = timezone.localdate()
    on_day = csv_rows(access_on_day_response(client, personas, app_with_group, today, "csv"))
    current = csv_rows(client.get(reverse("audit:current_access_export", args=["csv"])))
    current_for_app = [row for row in current if row["resource_name"] == "Grafana"]
    assert [(row["user_login"], row["through_group"]) for row in on_day] == [
        (row["user_login"], row["through_group"]) for row in current_for_app
    ]


def test_access_on_day_past_says_groups_unlisted(client, personas, app_with_group):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = access_on_day_response(client, personas, app_with_group, yesterday, "csv")
    rows = csv_rows(response)
    assert [row["user_login"] for row in rows] == ["holder@example.com"]
    assert [row["through_groups_listed"] for row in rows] == ["no"]

    page = access_on_day_response(client, personas, app_with_group, yesterday).content.decode()
    assert "through Okta group assignments is not listed" in page
    assert f"who was in the app&#x27;s groups on {yesterday.isoformat()}" in page


def test_group_resource_has_no_group_note(client, scenario, resource, personas):
    page = access_on_day_page(client, personas, resource)
    assert "group assignments" not in page
