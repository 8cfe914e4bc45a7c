"""Concurrent writers, each on its own database connection, must form one unbroken chain."""

import threading

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEvent
from audit.services import record_event
from audit.verification import verify_chain
from tests_support.chain_lock import while_chain_is_held

WRITERS = 20
EVENTS_PER_WRITER = 10


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serialises all writers with one file lock, so there is no race to test; "
    "run with DATABASE_URL=postgres://... (CI does)",
)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_form_one_chain():
    start = threading.Barrier(WRITERS)
    errors = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for number in range(EVENTS_PER_WRITER):
                with transaction.atomic():
                    record_event("user.synced", payload={"writer": writer, "number": number})
        except Exception as error:  # reported by the assert below
            errors.append(error)
        finally:
            # Django opens one connection per thread; close it so the test database can be
            # dropped.
            connections.close_all()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    total = WRITERS * EVENTS_PER_WRITER
    rows = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "prev_hash"))
    assert [sequence for sequence, _ in rows] == list(range(1, total + 1))
    # No fork: no two events claim the same predecessor.
    assert len({prev_hash for _, prev_hash in rows}) == total
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_event_naming_a_user_does_not_deadlock_with_a_lock_on_that_user(django_user_model):
    """A writer that locks the user FOR UPDATE and then records an event waits, not deadlocks.

    The first event takes its key-share lock on the user before the chain lock, so the second
    writer waits for the row before it can hold anything the first one needs.
    """
    user = django_user_model.objects.create_user(
        okta_id="00ulockedrow", login="locked.row@example.com", email="locked.row@example.com"
    )

    def lock_then_record() -> None:
        with transaction.atomic():
            django_user_model.objects.select_for_update().get(pk=user.pk)
            record_event("user.role_changed", subject_user=user)

    failures = while_chain_is_held(user, lock_then_record)

    assert not failures, failures
    assert AuditEvent.objects.filter(action="user.role_changed").count() == 1
    assert verify_chain().ok
