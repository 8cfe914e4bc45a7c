"""Who may open which audit page, and what each persona sees there."""

import csv
import json

import pytest
from django.test import RequestFactory
from django.urls import reverse

from audit.tests.conftest import record_at

pytestmark = pytest.mark.django_db

PERSONAS = ("admin", "manager", "subject", "outsider")


def get(client, persona, url, params=None):
    client.force_login(persona)
    return client.get(url, params or {})


def sequences(response) -> set[int]:
    return {event.sequence for event in response.context["page"].events}


# --- The permission matrix ----------------------------------------------------------------


def event_urls(history, personas, resource):
    subject = personas["subject"]
    return {
        "event list": reverse("audit:events"),
        "event export": reverse("audit:events_export", args=["csv"]),
        "event page": reverse("audit:event", args=[history["submitted"].sequence]),
        "user timeline": reverse("audit:user", args=[subject.okta_id]),
        "resource timeline": reverse("audit:resource", args=[resource.okta_id]),
    }


# Expected status per view and persona for pages about the subject's history.
EVENT_MATRIX = {
    "event list": {"admin": 200, "manager": 200, "subject": 200, "outsider": 200},
    "event export": {"admin": 200, "manager": 200, "subject": 200, "outsider": 200},
    "event page": {"admin": 200, "manager": 200, "subject": 200, "outsider": 404},
    "user timeline": {"admin": 200, "manager": 200, "subject": 200, "outsider": 404},
    "resource timeline": {"admin": 200, "manager": 200, "subject": 200, "outsider": 200},
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("view", EVENT_MATRIX)
def test_event_view_status(client, history, personas, resource, view, persona):
    url = event_urls(history, personas, resource)[view]
    response = get(client, personas[persona], url)
    assert response.status_code == EVENT_MATRIX[view][persona]


def admin_urls(resource, personas):
    subject = personas["subject"]
    access = {"resource": resource.okta_id, "day": "2026-01-01"}
    changes = {"user": subject.login, "since": "2026-01-01", "until": "2026-12-31"}
    return {
        "dashboard": (reverse("audit:dashboard"), {}),
        "report index": (reverse("audit:reports"), {}),
        "access on day": (reverse("audit:access_on_day"), access),
        "access on day csv": (reverse("audit:access_on_day_export", args=["csv"]), access),
        "user changes": (reverse("audit:user_changes"), changes),
        "user changes jsonl": (reverse("audit:user_changes_export", args=["jsonl"]), changes),
        "current access": (reverse("audit:current_access"), {}),
        "current access csv": (reverse("audit:current_access_export", args=["csv"]), {}),
    }


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "view",
    [
        "dashboard",
        "report index",
        "access on day",
        "access on day csv",
        "user changes",
        "user changes jsonl",
        "current access",
        "current access csv",
    ],
)
def test_admin_view_status(client, history, personas, resource, view, persona):
    url, params = admin_urls(resource, personas)[view]
    response = get(client, personas[persona], url, params)
    assert response.status_code == (200 if persona == "admin" else 403)


@pytest.mark.parametrize("name", ["audit:events", "audit:dashboard", "audit:reports"])
def test_anonymous_is_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302


# --- What each persona sees ---------------------------------------------------------------


def test_admin_sees_every_event(client, history, personas):
    response = get(client, personas["admin"], reverse("audit:events"))
    expected = {history[key].sequence for key in ("submitted", "approved", "unrelated")}
    assert sequences(response) == expected


def test_admin_sees_last_verification(client, history, personas):
    from audit.verification import verify_chain

    verify_chain()
    response = get(client, personas["admin"], reverse("audit:events"))
    assert b"Last chain verification" in response.content


def test_employee_does_not_see_verification(client, history, personas):
    response = get(client, personas["subject"], reverse("audit:events"))
    assert b"chain" not in response.content.lower()


def test_manager_sees_reports_history_only(client, history, personas):
    response = get(client, personas["manager"], reverse("audit:events"))
    assert sequences(response) == {history["submitted"].sequence, history["approved"].sequence}


def test_subject_sees_own_history_only(client, history, personas):
    response = get(client, personas["subject"], reverse("audit:events"))
    assert sequences(response) == {history["submitted"].sequence, history["approved"].sequence}


def test_outsider_sees_only_own_events(client, history, personas):
    response = get(client, personas["outsider"], reverse("audit:events"))
    assert sequences(response) == {history["unrelated"].sequence}


def test_outsider_export_leaves_out_others(client, history, personas):
    response = get(client, personas["outsider"], reverse("audit:events_export", args=["jsonl"]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["sequence"] for line in lines] == [history["unrelated"].sequence]


def test_outsider_resource_timeline_is_empty(client, history, personas, resource):
    response = get(client, personas["outsider"], reverse("audit:resource", args=[resource.okta_id]))
    assert sequences(response) == set()


def test_event_page_lists_same_request(client, history, personas):
    url = reverse("audit:event", args=[history["submitted"].sequence])
    response = get(client, personas["admin"], url)
    related = [event.sequence for event in response.context["related"]]
    assert related == [history["submitted"].sequence, history["approved"].sequence]
    assert response.context["hash_matches"]
    assert b"quarterly close needs the ledger" in response.content


def test_unknown_event_is_404(client, personas):
    response = get(client, personas["admin"], reverse("audit:event", args=[999]))
    assert response.status_code == 404


def test_unknown_export_format_is_404(client, personas):
    response = get(client, personas["admin"], reverse("audit:events_export", args=["xlsx"]))
    assert response.status_code == 404


# --- Dates the code cannot turn into a time range ------------------------------------------


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize(
    "view",
    ["event list", "event export", "access on day", "access on day csv", "user changes"],
)
def test_extreme_date_is_field_error(client, history, personas, resource, view, day):
    subject = personas["subject"]
    urls = {
        "event list": (reverse("audit:events"), {"since": day, "until": day}),
        "event export": (reverse("audit:events_export", args=["csv"]), {"until": day}),
        "access on day": (
            reverse("audit:access_on_day"),
            {"resource": resource.okta_id, "day": day},
        ),
        "access on day csv": (
            reverse("audit:access_on_day_export", args=["csv"]),
            {"resource": resource.okta_id, "day": day},
        ),
        "user changes": (
            reverse("audit:user_changes"),
            {"user": subject.login, "since": day, "until": day},
        ),
    }
    url, params = urls[view]

    response = get(client, personas["admin"], url, params)

    assert response.status_code == 400
    assert "Enter a day from 0001-01-02 to 9998-12-31" in response.content.decode()


# --- Client details (IP address and user agent) ----------------------------------------------


@pytest.fixture
def client_events(personas, resource):
    """An event the subject caused from one client and one the manager caused from another."""
    factory = RequestFactory()
    subject, manager = personas["subject"], personas["manager"]
    by_subject = record_at(
        None,
        "request.submitted",
        actor=subject,
        subject_user=subject,
        resource=resource,
        http_request=factory.get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="SubjectBrowser/1"),
    )
    by_manager = record_at(
        None,
        "step.approved",
        actor=manager,
        subject_user=subject,
        resource=resource,
        http_request=factory.get("/", REMOTE_ADDR="10.9.8.7", HTTP_USER_AGENT="ManagerBrowser/2"),
    )
    return {"subject": by_subject, "manager": by_manager}


def exported(client, persona, file_format="jsonl") -> dict[int, dict]:
    response = get(client, persona, reverse("audit:events_export", args=[file_format]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    if file_format == "csv":
        return {int(row["sequence"]): row for row in csv.DictReader(lines)}
    return {record["sequence"]: record for record in map(json.loads, lines)}


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_manager_export_hides_others_clients(client, personas, client_events, file_format):
    rows = exported(client, personas["manager"], file_format)

    other = rows[client_events["subject"].sequence]
    assert other["ip"] == ""
    assert other["user_agent"] == ""
    own = rows[client_events["manager"].sequence]
    assert own["ip"] == "10.9.8.7"
    assert own["user_agent"] == "ManagerBrowser/2"


def test_admin_export_shows_every_client(client, personas, client_events):
    rows = exported(client, personas["admin"])

    assert rows[client_events["subject"].sequence]["ip"] == "10.1.2.3"
    assert rows[client_events["subject"].sequence]["user_agent"] == "SubjectBrowser/1"
    assert rows[client_events["manager"].sequence]["ip"] == "10.9.8.7"


def test_event_page_hides_others_client(client, personas, client_events):
    url = reverse("audit:event", args=[client_events["subject"].sequence])

    as_manager = get(client, personas["manager"], url)
    assert as_manager.status_code == 200
    assert b"10.1.2.3" not in as_manager.content
    assert b"SubjectBrowser" not in as_manager.content
    assert b"shown only to portal admins" in as_manager.content

    as_subject = get(client, personas["subject"], url)
    assert b"10.1.2.3" in as_subject.content

    as_admin = get(client, personas["admin"], url)
    assert b"SubjectBrowser/1" in as_admin.content
