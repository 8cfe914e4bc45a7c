import time
from pathlib import Path

from portal.tasks import ping, prune_files_older_than


def test_ping_returns_pong():
    # A direct call: the task body only; the worker round trip is in test_worker.py.
    assert ping() == "pong"


def test_prune_removes_only_old_messages(tmp_path: Path):
    message = tmp_path / "1_abc.celery.msg"
    message.write_bytes(b"{}")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep")
    now = time.time()

    kept = prune_files_older_than(tmp_path, max_age_seconds=3600, now=now)
    deleted = prune_files_older_than(tmp_path, max_age_seconds=3600, now=now + 7200)

    assert kept == 0
    assert deleted == 1
    assert not message.exists()
    assert unrelated.exists()
