"""Changing the event table behind the ORM's back must be refused or detected."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditVerification
from audit.services import record_event
from audit.verification import verify_chain

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def chain():
    """Five events, 1 to 5."""
    for number in range(5):
        with transaction.atomic():
            record_event("user.synced", payload={"number": number, "comment": f"event {number}"})


def run_sql(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def tamper(sql, params=()):
    """Run SQL the way someone with the table owner's rights would: trigger off, then on."""
    if connection.vendor == "postgresql":
        # ALTER TABLE refuses while deferred foreign-key checks of the inserts are pending.
        run_sql("SET CONSTRAINTS ALL IMMEDIATE")
        run_sql("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
    run_sql(sql, params)
    if connection.vendor == "postgresql":
        run_sql("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_intact_chain_verifies(chain):
    result = verify_chain()
    assert result.ok
    assert result.events_checked == 5
    assert result.head_sequence == 5
    assert result.first_bad_sequence is None


def test_empty_chain_verifies():
    result = verify_chain()
    assert result.ok
    assert result.events_checked == 0


def test_command_reports_success_and_stores_it(chain, capsys):
    call_command("verify_audit")
    assert "All 5 events match" in capsys.readouterr().out
    assert AuditVerification.objects.latest().ok


@pytest.mark.parametrize(
    "column, value",
    [
        ("outcome", "failure"),
        ("actor_label", "someone-else"),
        ("payload", '{"number": 1, "comment": "rewritten"}'),
        ("created_at", "2020-01-01 00:00:00+00:00"),
    ],
)
def test_changed_row_is_named(chain, column, value):
    tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE sequence = 3", [value])

    result = verify_chain()

    assert not result.ok
    assert result.first_bad_sequence == 3
    assert "Event 3" in result.message
    assert result.events_checked == 2


def test_rehashed_row_breaks_next_link(chain):
    # Recomputing the changed event's own hash still breaks the link from event 4.
    tamper("UPDATE audit_auditevent SET hash = %s WHERE sequence = 3", ["f" * 64])
    result = verify_chain()
    assert result.first_bad_sequence == 3


def test_deleted_middle_row_is_named(chain):
    tamper("DELETE FROM audit_auditevent WHERE sequence = 2")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 2
    assert "missing" in result.message


def test_deleted_newest_row_is_named(chain):
    tamper("DELETE FROM audit_auditevent WHERE sequence = 5")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_sequence == 5
    assert "missing" in result.message


def test_command_fails_naming_event(chain):
    tamper("UPDATE audit_auditevent SET action = 'user.role_changed' WHERE sequence = 4")
    with pytest.raises(CommandError, match="Event 4"):
        call_command("verify_audit")
    assert AuditVerification.objects.latest().first_bad_sequence == 4


@on_postgresql
def test_trigger_refuses_update(chain):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        run_sql("UPDATE audit_auditevent SET outcome = 'failure' WHERE sequence = 3")
    assert verify_chain().ok


@on_postgresql
def test_trigger_refuses_delete(chain):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        run_sql("DELETE FROM audit_auditevent WHERE sequence = 3")
    assert verify_chain().ok


def test_rolled_back_event_leaves_no_gap():
    with transaction.atomic():
        record_event("user.synced")
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event("user.synced")
        raise RuntimeError("the state change failed")
    with transaction.atomic():
        second = record_event("user.synced")
    assert second.sequence == 2
    assert verify_chain().ok


def test_daily_task_stores_result(chain):
    from audit.tasks import verify_chain_task

    assert verify_chain_task() is True
    tamper("DELETE FROM audit_auditevent WHERE sequence = 1")
    assert verify_chain_task() is False
    assert AuditVerification.objects.latest().first_bad_sequence == 1
