import time
from pathlib import Path

from portal.tasks import ping, prune_files_older_than


def test_ping_returns_pong():
    # Calls the task body directly. test_worker.py covers the round trip through a worker.
    assert ping() == "pong"


def test_prune_removes_only_old_messages(tmp_path: Path):
    message = tmp_path / "1_abc.celery.msg"
    message.write_bytes(b"{}")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep")
    now = time.time()

    deleted_while_fresh = prune_files_older_than(tmp_path, max_age_seconds=3600, now=now)
    deleted_when_old = prune_files_older_than(tmp_path, max_age_seconds=3600, now=now + 7200)

    assert deleted_while_fresh == 0
    assert deleted_when_old == 1
    assert not message.exists()
    assert unrelated.exists()
