"""A real `celery -A portal worker` process consumes a task and returns its result.

Each test gives the worker its own queue, so a worker started by `make run` on the same broker
never takes the test's message.
"""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from portal.config import broker_settings, default_result_backend

REPO = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT_SECONDS = 60
RESULT_TIMEOUT_SECONDS = 60


def redis_url() -> str:
    """Return the Redis broker URL configured for this run, or a scratch database on 127.0.0.1."""
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return settings.CELERY_BROKER_URL
    return os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def client_app(broker_url: str, result_backend: str, var_dir: Path) -> Celery:
    broker = broker_settings(broker_url, var_dir)
    app = Celery("portal-test-client", set_as_current=False)
    app.conf.update(
        broker_url=broker["broker_url"],
        broker_transport_options=broker["broker_transport_options"],
        result_backend=result_backend,
        accept_content=["json"],
    )
    return app


def start_worker(broker_url: str, result_backend: str, queue: str, log: Path):
    environment = dict(os.environ)
    environment.update(
        PORTAL_ENV="test",
        CELERY_BROKER_URL=broker_url,
        CELERY_RESULT_BACKEND=result_backend,
        LOG_LEVEL="INFO",
    )
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker",
        "--pool=prefork", "--concurrency=1", f"--queues={queue}",
        f"--hostname={queue}@%h", "--without-mingle", "--without-gossip", "--loglevel=INFO",
    ]  # fmt: skip
    with log.open("wb") as output:
        return subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen) -> None:
    # SIGTERM requests a warm shutdown: the worker finishes its task and the pool exits.
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=10)


def round_trip(broker_url: str, result_backend: str, tmp_path: Path) -> tuple[str, int, str]:
    """Send portal.ping to a fresh worker; return the result, the worker's exit code and log."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    worker = start_worker(broker_url, result_backend, queue, log)
    try:
        app = client_app(broker_url, result_backend, tmp_path)
        result = app.send_task("portal.ping", queue=queue)
        # The worker may still be starting. The message waits in the queue until it consumes it.
        value = result.get(timeout=WORKER_START_TIMEOUT_SECONDS + RESULT_TIMEOUT_SECONDS)
    except Exception:
        stop_worker(worker)
        print(log.read_text(errors="replace"))
        raise
    stop_worker(worker)
    return value, worker.returncode, log.read_text(errors="replace")


@pytest.fixture(autouse=True)
def celery_environment_cleared(monkeypatch):
    # Celery prefers these environment variables to an app's configuration, which would send the
    # test client's messages to the broker of the whole run instead of the worker's.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)


def test_worker_round_trip_embedded_broker(tmp_path: Path):
    broker_url = f"filesystem://{tmp_path / 'celery'}"
    result_backend = default_result_backend(broker_url, tmp_path)

    value, returncode, log = round_trip(broker_url, result_backend, tmp_path)

    assert value == "pong"
    assert returncode == 0, log
    assert "portal.ping" in log


def test_worker_round_trip_redis(tmp_path: Path):
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis at {url} is unreachable ({exc}); .ci/run provides one")

    value, returncode, log = round_trip(url, url, tmp_path)

    assert value == "pong"
    assert returncode == 0, log
