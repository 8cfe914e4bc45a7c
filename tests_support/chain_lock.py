"""Run a transaction while another one holds the audit chain's lock (PostgreSQL only)."""

import threading
import time
from collections.abc import Callable

from django.db import connections, transaction

from audit.services import record_event

TIMEOUT_SECONDS = 30


def while_chain_is_held(subject_user, change: Callable[[], object]) -> list[BaseException]:
    """Call `change` while a worker's event about `subject_user` keeps the chain locked.

    The worker writes its event and keeps its transaction open until `change`, in a second
    thread, waits for a lock. Then the worker commits, which is when PostgreSQL checks the
    event's reference to the user. Returns the exceptions that either transaction raised: a
    deadlock shows as an OperationalError.
    """
    chain_held, commit_now = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                record_event("user.synced", subject_user=subject_user)
                chain_held.set()
                commit_now.wait(timeout=TIMEOUT_SECONDS)
        except BaseException as error:  # noqa: BLE001 - returned to the test
            failures.append(error)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            change()
        except BaseException as error:  # noqa: BLE001 - returned to the test
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker), threading.Thread(target=second)]
    threads[0].start()
    if not chain_held.wait(timeout=TIMEOUT_SECONDS):
        raise AssertionError("the worker never wrote its event")
    threads[1].start()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not _someone_waits():
        if time.monotonic() > deadline:
            commit_now.set()
            raise AssertionError("the second transaction never waited for a lock")
        time.sleep(0.05)
    commit_now.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT_SECONDS * 2)
    return failures


def _someone_waits() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0
