"""Fixtures for provisioning tests: the portal pointed at the emulator, and a real worker.

A provisioning test needs `transactional_db`: the task is sent when the approval commits, and
the worker process reads the committed rows from the same test database.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from portal.celery import app as celery_app
from portal.okta_api import get_client

REPO = Path(__file__).resolve().parents[2]

# Short enough that the reliability tests finish quickly; the defaults are minutes.
TEST_CLAIM_TIMEOUT_SECONDS = 3
TEST_RETRY_BASE_MS = 200
# With 30% of calls failing, a change may fail eight times in a row. Uncapped, its last waits
# alone would take minutes of the suite's time.
TEST_RETRY_MAX_SECONDS = 2


@pytest.fixture
def okta_settings(okta_org, settings, django_db_blocker):
    """Point this process's Okta facade at the test emulator, with a fresh rate budget."""
    settings.OKTA_ORG_URL = okta_org.url
    settings.OKTA_API_TOKEN = okta_org.api_token
    get_client.cache_clear()
    # The budget of an earlier test's emulator window must not hold this test's calls.
    with django_db_blocker.unblock():
        cache.clear()
    yield okta_org
    get_client.cache_clear()


def database_url() -> str:
    """Return a URL of the test database that this process uses, for the worker."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    host = database["HOST"] or "127.0.0.1"
    port = database["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"


class Worker:
    """A `celery -A portal worker` process consuming this test's own queue."""

    def __init__(self, okta_org, queue: str, log_dir: Path, concurrency: int, environment: dict):
        self.okta_org = okta_org
        self.queue = queue
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.extra_environment = environment
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        environment = dict(os.environ)
        environment.update(
            PORTAL_ENV="test",
            DATABASE_URL=database_url(),
            OKTA_ORG_URL=self.okta_org.url,
            OKTA_API_TOKEN=self.okta_org.api_token,
            PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS=str(TEST_CLAIM_TIMEOUT_SECONDS),
            PORTAL_OKTA_RETRY_BASE_MS=str(TEST_RETRY_BASE_MS),
            PORTAL_OKTA_RETRY_MAX_SECONDS=str(TEST_RETRY_MAX_SECONDS),
            LOG_LEVEL="INFO",
            # Retries that the worker itself sends must reach this test's queue too.
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
        )
        environment.update(self.extra_environment)
        command = [
            sys.executable, "-m", "celery", "-A", "portal", "worker",
            "--pool=prefork", f"--concurrency={self.concurrency}", f"--queues={self.queue}",
            f"--hostname={self.queue}-{self.starts}@%h", "--without-mingle", "--without-gossip",
            "--loglevel=INFO",
        ]  # fmt: skip
        log = self.log_dir / f"worker-{self.starts}.log"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a crashed host would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.log_dir.glob("worker-*.log"))
        )


@pytest.fixture
def worker_queue(monkeypatch):
    """Send this test's tasks to a queue of its own, so no other worker takes them."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(celery_app.conf, "task_default_queue", queue)
    return queue


@pytest.fixture
def provisioning_worker(transactional_db, okta_settings, worker_queue, tmp_path, request):
    """Start a real worker (concurrency from the `worker_concurrency` marker, default 2)."""
    marker = request.node.get_closest_marker("worker_concurrency")
    concurrency = marker.args[0] if marker else 2
    worker = Worker(okta_settings, worker_queue, tmp_path, concurrency, environment={})
    worker.start()
    yield worker
    worker.stop()
    # pytest shows a test's output only when it fails.
    print(worker.logs()[-20000:])


def wait_for(condition, timeout: float, interval: float = 0.2, message: str = "condition"):
    """Poll `condition` until it returns a truthy value; return it, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "worker_concurrency(n): pool size of the provisioning_worker fixture"
    )


def celery_broker_is_network() -> bool:
    return not settings.CELERY_BROKER_URL.startswith("filesystem")
