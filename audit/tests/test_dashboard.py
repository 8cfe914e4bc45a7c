import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import AccessRequest, Drift, Grant, OktaOperation
from audit import dashboard
from audit.templatetags.durations import readable_duration
from audit.tests.conftest import record_at

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@pytest.mark.parametrize(
    "values, fraction, expected",
    [
        ([], 0.5, None),
        ([5], 0.9, 5),
        ([1, 2, 3, 4], 0.5, 2),
        (list(range(1, 11)), 0.9, 9),
        (list(range(1, 11)), 0.5, 5),
    ],
)
def test_percentile_nearest_rank(values, fraction, expected):
    assert dashboard.percentile(values, fraction) == expected


def make_request(user, resource, *, created, decided=None, status=AccessRequest.Status.APPROVED):
    return AccessRequest.objects.create(
        requester=user, resource=resource, created_at=created, decided_at=decided, status=status
    )


@pytest.fixture
def activity(personas, resource):
    now = timezone.now()
    subject, outsider = personas["subject"], personas["outsider"]
    fast = make_request(subject, resource, created=now - 10 * HOUR, decided=now - 9 * HOUR)
    slow = make_request(
        outsider,
        resource,
        created=now - 30 * HOUR,
        decided=now - 20 * HOUR,
        status=AccessRequest.Status.DENIED,
    )
    pending = make_request(
        personas["manager"],
        resource,
        created=now - 50 * HOUR,
        decided=None,
        status=AccessRequest.Status.PENDING,
    )
    grant = Grant.objects.create(
        user=subject,
        resource=resource,
        request=fast,
        status=Grant.Status.ACTIVE,
        ends_at=now + 48 * HOUR,
    )
    OktaOperation.objects.create(
        grant=grant,
        action=OktaOperation.Action.ADD_MEMBER,
        status=OktaOperation.Status.SUCCEEDED,
        completed_at=now,
    )
    OktaOperation.objects.create(
        grant=grant,
        action=OktaOperation.Action.ADD_MEMBER,
        status=OktaOperation.Status.FAILED,
        completed_at=now,
    )
    OktaOperation.objects.create(
        grant=grant,
        action=OktaOperation.Action.ADD_MEMBER,
        status=OktaOperation.Status.SUCCEEDED,
        completed_at=now,
    )
    record_at(None, "grant.applied", target=grant, subject_user=subject, resource=resource)
    return {"fast": fast, "slow": slow, "pending": pending, "grant": grant}


def test_summary_figures(activity):
    figures = dashboard.summary()
    assert figures["time_to_decision"].count == 2
    assert figures["time_to_decision"].median == HOUR
    assert figures["time_to_decision"].p90 == 10 * HOUR
    assert figures["time_to_applied"].count == 1
    assert figures["provisioning"] == {"succeeded": 2, "failed": 1, "rate": 66.7}
    assert list(figures["oldest_pending"]) == [activity["pending"]]
    assert list(figures["expiring_soon"]) == [activity["grant"]]
    assert figures["drift"]["count"] == 0


def test_requests_per_day_has_every_day(activity):
    points = dashboard.requests_per_day(timezone.now())
    assert len(points) == dashboard.WINDOW_DAYS
    assert sum(count for _, count in points) == 3
    assert points[-1][0] == timezone.localdate()


def test_dashboard_page_draws_chart(client, activity, personas):
    client.force_login(personas["admin"])
    response = client.get(reverse("audit:dashboard"))
    content = response.content.decode()
    assert "<svg" in content
    assert content.count("<rect") == dashboard.WINDOW_DAYS
    assert "None recorded." in content
    assert "66.7%" in content


def test_dashboard_lists_drift(client, personas, resource):
    Drift.objects.create(
        resource=resource,
        user_okta_id="00uextra",
        kind=Drift.Kind.UNAPPROVED,
        source="reconciliation",
    )
    client.force_login(personas["admin"])
    response = client.get(reverse("audit:dashboard"))
    content = response.content.decode()
    assert "1 finding (in okta without a grant: 1); 1 open now." in content
    assert "00uextra on Finance reports" in content


@pytest.mark.parametrize(
    "value, expected",
    [
        (datetime.timedelta(seconds=0.2), "under 1 s"),
        (datetime.timedelta(seconds=22.755139), "23 s"),
        (datetime.timedelta(seconds=59.7), "1 min"),
        (datetime.timedelta(minutes=4, seconds=10.2), "4 min 10 s"),
        (datetime.timedelta(minutes=59, seconds=59.8), "1 h"),
        (datetime.timedelta(hours=3, minutes=5, seconds=20), "3 h 5 min"),
        (datetime.timedelta(hours=23, minutes=59, seconds=50), "1 d"),
        (datetime.timedelta(days=2, hours=4, minutes=10), "2 d 4 h"),
        (datetime.timedelta(days=40), "40 d"),
        (datetime.timedelta(seconds=-5), "-5 s"),
        (None, ""),
    ],
)
def test_readable_duration(value, expected):
    assert readable_duration(value) == expected


def test_dashboard_shows_readable_durations(client, activity, personas):
    client.force_login(personas["admin"])
    response = client.get(reverse("audit:dashboard"))
    content = response.content.decode()
    assert "median 1 h, 90th percentile 10 h (2 requests)" in content
    assert "1:00:00" not in content
