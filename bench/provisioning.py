"""Drain N approved group memberships through real workers against the emulator's rate limits.

    .venv/bin/python bench/provisioning.py --approvals 400 --window-seconds 20 --workers 2

The script starts its own emulator (Okta's default per-minute limits, with the window shortened
to --window-seconds) and its own database (SQLite under var/ unless DATABASE_URL is set). It
writes N approved requests with their grants and outbox operations, as the final approval does,
then starts `celery -A portal worker` processes and measures until every operation is done.

It reports the achieved rate of membership changes as a fraction of the token's budget (half of
the groups limit per window), the 429 responses the workers received (and how many came after
the first window), and lost or duplicated changes, checked against the emulator's memberships
and System Log.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The groups bucket (member PUT/DELETE, member listings): Okta's published per-minute limit
# and the share one API token may use by default.
GROUPS_LIMIT = 500
TOKEN_SHARE = 0.5


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=400, help="memberships to apply (N)")
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=20.0,
        help="length of the emulator's rate-limit window in seconds (Okta: 60)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many s")
    return parser.parse_args()


def configure_environment(var_dir: Path, queue: str) -> None:
    """Give this process and its workers one database, cache and queue of the bench's own."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'portal.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_ENV"] = "development"
    os.environ["DEBUG"] = "false"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue
    os.environ["PORTAL_OKTA_RETRY_BASE_MS"] = "500"
    os.environ["PORTAL_OKTA_RESEND_AFTER_SECONDS"] = "5"
    os.environ["LOG_LEVEL"] = "WARNING"


def start_emulator(var_dir: Path, window_seconds: float):
    from okta_emulator.testing import start_emulator as start

    (var_dir / "emulator").mkdir()
    emulator = start(var_dir / "emulator")
    emulator.set_rate_limits(window_seconds=window_seconds, token_share=TOKEN_SHARE)
    os.environ["OKTA_ORG_URL"] = emulator.url
    os.environ["OKTA_API_TOKEN"] = emulator.api_token
    return emulator


def prepare_database() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)


def write_approvals(emulator, count: int) -> list[tuple[str, str]]:
    """Write `count` approved requests with grants and pending operations; return the pairs."""
    from django.db import transaction

    from access_requests.models import AccessRequest, Grant, OktaOperation
    from access_requests.tests import okta_data

    users = okta_data.active_users(emulator)
    groups = okta_data.okta_groups(emulator)
    pairs = []
    for group in groups:
        members = okta_data.group_member_ids(emulator, group["id"])
        pairs += [(user, group) for user in users if user["id"] not in members]
    if len(pairs) < count:
        raise SystemExit(f"The demo org has only {len(pairs)} free user/group pairs: use fewer.")
    pairs = pairs[:count]

    with transaction.atomic():
        portal_users, resources = {}, {}
        for user, group in pairs:
            if user["id"] not in portal_users:
                portal_users[user["id"]] = okta_data.portal_user(user)
            if group["id"] not in resources:
                resources[group["id"]] = okta_data.group_resource(group)
        for user, group in pairs:
            request_obj = AccessRequest.objects.create(
                requester=portal_users[user["id"]],
                resource=resources[group["id"]],
                justification="benchmark",
                status=AccessRequest.Status.APPROVED,
            )
            grant = Grant.objects.create(
                user=request_obj.requester, resource=request_obj.resource, request=request_obj
            )
            OktaOperation.objects.create(grant=grant, action=OktaOperation.Action.ADD_MEMBER)
    return [(user["id"], group["id"]) for user, group in pairs]


def start_workers(count: int, concurrency: int, queue: str, log_dir: Path) -> list:
    workers = []
    for number in range(count):
        log = (log_dir / f"worker-{number}.log").open("wb")
        command = [
            sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", f"--queues={queue}",
            f"--hostname={queue}-{number}@%h", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        workers.append(subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
    return workers


def send_all() -> int:
    from access_requests.models import OktaOperation
    from access_requests.services.provisioning import send_operation

    pending = OktaOperation.objects.filter(status=OktaOperation.Status.PENDING)
    return sum(send_operation(pk) for pk in pending.values_list("pk", flat=True))


def wait_until_drained(timeout: float) -> list:
    """Return each operation's completion time (epoch seconds) once none is open."""
    from access_requests.models import OktaOperation
    from access_requests.services.provisioning import sweep_operations

    deadline = time.time() + timeout
    while OktaOperation.objects.filter(status__in=OktaOperation.OPEN).exists():
        if time.time() > deadline:
            raise SystemExit("Timed out: some operations are still open.")
        sweep_operations()
        time.sleep(1.0)
    completed = OktaOperation.objects.values_list("completed_at", flat=True)
    return sorted(moment.timestamp() for moment in completed)


def received_429s() -> list[float]:
    """Times of the 429 responses the workers got from Okta (not the budget's own holds)."""
    from audit.models import AuditEvent

    events = AuditEvent.objects.filter(action="operation.retry_scheduled")
    return sorted(
        event.created_at.timestamp()
        for event in events
        if "returned 429" in str(event.payload.get("error", ""))
    )


def check_okta(emulator, pairs, since: str) -> tuple[int, int]:
    """Return (lost, duplicated) changes according to the emulator."""
    from access_requests.tests import okta_data

    adds = okta_data.membership_adds(emulator, since)
    members = {}
    lost = 0
    for user_id, group_id in pairs:
        if group_id not in members:
            members[group_id] = okta_data.group_member_ids(emulator, group_id)
        if user_id not in members[group_id]:
            lost += 1
    duplicated = sum(count - 1 for count in adds.values() if count > 1)
    return lost, duplicated


def main() -> None:
    arguments = parse_arguments()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-provisioning-", dir=REPO / "var"))
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    configure_environment(var_dir, queue)
    emulator = start_emulator(var_dir, arguments.window_seconds)
    workers = []
    try:
        prepare_database()
        from access_requests.models import OktaOperation
        from access_requests.tests import okta_data

        pairs = write_approvals(emulator, arguments.approvals)
        since = okta_data.emulator_now(emulator)
        workers = start_workers(arguments.workers, arguments.concurrency, queue, var_dir)
        started = time.time()
        send_all()
        completions = wait_until_drained(arguments.timeout)
        finished = time.time()
        statuses = Counter(OktaOperation.objects.values_list("status", flat=True))
        lost, duplicated = check_okta(emulator, pairs, since)
        report(
            arguments, started, finished, completions, received_429s(), statuses, lost, duplicated
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        emulator.stop()
        if os.environ["DATABASE_URL"].startswith("sqlite"):
            shutil.rmtree(var_dir, ignore_errors=True)


def report(arguments, started, finished, completions, rate_limited, statuses, lost, duplicated):
    window = arguments.window_seconds
    budget_per_second = GROUPS_LIMIT * TOKEN_SHARE / window
    # The rate over the span in which changes completed: from the first to the last, which
    # leaves out the workers' start-up.
    span = completions[-1] - completions[0]
    achieved = (len(completions) - 1) / span if span > 0 else float("nan")
    first_window_end = started + window
    late_429s = sum(1 for moment in rate_limited if moment > first_window_end)
    print(
        f"approvals: {arguments.approvals}, workers: {arguments.workers} x {arguments.concurrency}"
    )
    print(f"window: {window:g} s, budget: {budget_per_second:.2f} changes/s")
    print(f"drained in {finished - started:.1f} s; operations by status: {dict(statuses)}")
    print(f"achieved: {achieved:.2f} changes/s = {achieved / budget_per_second:.2f} of the budget")
    print(f"429 responses: {len(rate_limited)} ({late_429s} after the first window)")
    print(f"lost changes: {lost}, duplicated changes: {duplicated}")


if __name__ == "__main__":
    main()
