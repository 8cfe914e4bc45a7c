"""The audit trail at 1,000,000 events: list pages at depth, export memory, chain verification.

Fills a database of its own with hash-chained events (bulk inserts that bypass record_event,
with the same canonical hashes), then, signed in as an admin through Django's test client:

- requests page 1 and page 1,000 of the event list under several filters and reports the
  ratio (keyset paging should keep it near 1), next to the same pages fetched with OFFSET;
- streams the CSV export of 10,000 and of 100,000 events and reports the peak of Python
  allocations (tracemalloc) and the process's resident memory;
- runs the chain verification over every event and reports its time and peak memory.

    .venv/bin/python bench/audit.py                     # SQLite file var/bench-audit.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_audit .venv/bin/python bench/audit.py

Options: --events N (default 1,000,000), --repeat N (timed requests per page, default 5;
page 1 and the deep page alternate), --keep (reuse a filled database), --skip-export,
--skip-verify. The PostgreSQL database must exist; its tables are created and emptied.
"""

import argparse
import datetime
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

USERS = 1_000
RESOURCES = 200
PAGE_SIZE = 50
DEEP_PAGE = 1_000
BATCH = 5_000
# Every tenth event is a failure, so `outcome=failure` selects exactly a tenth of the chain:
# 100,000 rows at the default size, the export measured below.
FAILURE_EVERY = 10
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
SPAN = datetime.timedelta(days=365)

ACTIONS = [
    ("user.synced", 20),
    ("auth.signed_in", 15),
    ("request.submitted", 10),
    ("step.waiting", 8),
    ("step.approved", 8),
    ("request.approved", 6),
    ("grant.created", 6),
    ("operation.claimed", 6),
    ("operation.succeeded", 6),
    ("grant.applied", 6),
    ("grant.expired", 4),
    ("hook.received", 5),
]
WORDS = (
    "ledger audit quarterly close reporting migration oncall incident payroll budget review "
    "customer support escalation release deploy analytics warehouse backup restore training"
).split()


def configure() -> None:
    os.environ.setdefault("PORTAL_ENV", "test")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{REPO / 'var' / 'bench-audit.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def prepare_schema(keep: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if keep:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE is not refused by the append-only trigger, which guards rows only.
            cursor.execute(
                "TRUNCATE audit_auditevent, audit_auditchainhead, audit_auditverification"
            )
        else:
            for table in ("audit_auditevent", "audit_auditchainhead", "audit_auditverification"):
                cursor.execute(f"DELETE FROM {table}")


def create_users() -> tuple[list, object]:
    """Create the users events refer to, and an admin to sign in as; return both."""
    from accounts.models import User

    users = [
        User(okta_id=f"00ubench{number:012d}", login=f"user{number:04d}@example.com")
        for number in range(USERS)
    ]
    User.objects.bulk_create(users, batch_size=BATCH, ignore_conflicts=True)
    admin, _ = User.objects.get_or_create(
        okta_id="00ubenchadmin0000000", defaults={"login": "admin@example.com", "is_admin": True}
    )
    return list(User.objects.filter(okta_id__startswith="00ubench").order_by("pk")), admin


def generate_events(count: int, users: list):
    """Yield event rows in chain order as dicts of column values, hashes included."""
    from audit.hashing import GENESIS_HASH, compute_hash

    rng = random.Random(7)
    actions, weights = zip(*ACTIONS, strict=True)
    step = SPAN / count
    prev_hash = GENESIS_HASH
    for sequence in range(1, count + 1):
        action = rng.choices(actions, weights)[0]
        actor = None if rng.random() < 0.3 else rng.choice(users)
        subject = rng.choice(users)
        resource = rng.randrange(RESOURCES) if rng.random() < 0.8 else None
        fields = {
            "sequence": sequence,
            "created_at": START + step * sequence,
            "actor_id": actor.pk if actor else None,
            "actor_label": actor.login if actor else "system",
            "action": action,
            "outcome": "failure" if sequence % FAILURE_EVERY == 0 else "success",
            "target_type": "access_requests.AccessRequest",
            "target_id": str(rng.randrange(200_000)),
            "target_label": "",
            "subject_user_id": subject.pk,
            "resource_okta_id": f"00gbench{resource:012d}" if resource is not None else "",
            "resource_name": f"Group {resource}" if resource is not None else "",
            "access_request_id": rng.randrange(200_000),
            "grant_id": None,
            "payload": _payload(rng, action),
            "okta_request_id": "",
            "ip": None,
            "user_agent": "",
            "prev_hash": prev_hash,
        }
        fields["hash"] = prev_hash = compute_hash(fields)
        yield fields


def _payload(rng: random.Random, action: str) -> dict:
    words = " ".join(rng.choices(WORDS, k=rng.randint(3, 10)))
    if action == "request.submitted":
        return {"justification": f"project {words}"}
    if action == "step.approved":
        return {"comment": f"approved for project {words}"}
    return {"n": rng.randrange(1000)}


def fill(count: int, users: list) -> float:
    from django.db import connection, transaction

    from audit.models import AuditChainHead

    started = time.perf_counter()
    last = None
    batch = []
    for fields in generate_events(count, users):
        batch.append(fields)
        if len(batch) == BATCH:
            _insert(batch)
            last = batch[-1]
            batch = []
            if last["sequence"] % 100_000 == 0:
                print(f"  {last['sequence']:,} events", flush=True)
    if batch:
        _insert(batch)
        last = batch[-1]
    with transaction.atomic():
        AuditChainHead.objects.update_or_create(
            pk=1,
            defaults={
                "sequence": last["sequence"],
                "hash": last["hash"],
                "updated_at": last["created_at"],
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _insert(batch: list[dict]) -> None:
    from django.db import connection, transaction

    from audit.hashing import HASHED_FIELDS

    columns = (*HASHED_FIELDS, "hash")
    rows = [
        tuple(json.dumps(row[name]) if name == "payload" else row[name] for name in columns)
        for row in batch
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_sql = f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO audit_auditevent ({', '.join(columns)}) VALUES ({placeholders})",
                rows,
            )


def timed_pair(first, second, repeat: int) -> tuple[float, float]:
    """Return the median wall times of `first()` and `second()` in milliseconds.

    The calls alternate, after one warm-up call each, so that both see the same load from
    other processes on the machine.
    """
    first()
    second()
    samples = ([], [])
    for _ in range(repeat):
        for function, times in zip((first, second), samples, strict=True):
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def cursor_for_page(filters: dict, page: int) -> int | None:
    """Return the `older_than` cursor that opens `page` (1-based) of the filtered list."""
    from audit.forms import EventFilterForm
    from audit.models import AuditEvent

    if page == 1:
        return None
    form = EventFilterForm(filters)
    assert form.is_valid(), form.errors
    events = form.filter(AuditEvent.objects.all()).order_by("-sequence")
    return events.values_list("sequence", flat=True)[PAGE_SIZE * (page - 1) - 1]


def keyset_query(filters: dict, cursor: int | None) -> list:
    from audit.forms import EventFilterForm
    from audit.models import AuditEvent

    form = EventFilterForm({**filters, **({"older_than": cursor} if cursor else {})})
    assert form.is_valid(), form.errors
    return form.page(AuditEvent.objects.all()).events


def offset_page(filters: dict, page: int) -> list:
    from audit.forms import EventFilterForm
    from audit.models import AuditEvent

    form = EventFilterForm(filters)
    assert form.is_valid(), form.errors
    events = form.filter(AuditEvent.objects.all()).order_by("-sequence")
    start = PAGE_SIZE * (page - 1)
    return list(events[start : start + PAGE_SIZE + 1])


def measure_pages(client, scenarios: dict, repeat: int) -> list[dict]:
    from django.urls import reverse

    from audit.forms import EventFilterForm
    from audit.models import AuditEvent

    results = []
    for name, filters in scenarios.items():
        form = EventFilterForm(filters)
        assert form.is_valid(), form.errors
        matching = form.filter(AuditEvent.objects.all()).count()
        deep = min(DEEP_PAGE, max(1, matching // PAGE_SIZE))
        cursor = cursor_for_page(filters, deep)

        def fetch(params):
            response = client.get(reverse("audit:events"), params)
            assert response.status_code == 200, response.status_code
            return response

        deep_params = {**filters, **({"older_than": cursor} if cursor else {})}
        first_ms, deep_ms = timed_pair(
            lambda filters=filters: fetch(filters),
            lambda params=deep_params: fetch(params),
            repeat,
        )
        keyset_first, keyset_deep = timed_pair(
            lambda filters=filters: keyset_query(filters, None),
            lambda filters=filters, c=cursor: keyset_query(filters, c),
            repeat,
        )
        offset_first, offset_deep = timed_pair(
            lambda filters=filters: offset_page(filters, 1),
            lambda filters=filters, deep=deep: offset_page(filters, deep),
            repeat,
        )
        result = {
            "scenario": name,
            "matching": matching,
            "deep_page": deep,
            "page1_ms": first_ms,
            "deep_ms": deep_ms,
            "ratio": deep_ms / first_ms,
            "keyset_page1_ms": keyset_first,
            "keyset_deep_ms": keyset_deep,
            "offset_page1_ms": offset_first,
            "offset_deep_ms": offset_deep,
        }
        print(
            f"  {name:<24} {matching:>9,} rows  page 1 {first_ms:7.1f} ms  page {deep:,} "
            f"{deep_ms:7.1f} ms  ratio {result['ratio']:.2f}  |  query only: keyset "
            f"{keyset_first:6.1f} / {keyset_deep:6.1f} ms, OFFSET {offset_first:6.1f} / "
            f"{offset_deep:8.1f} ms",
            flush=True,
        )
        results.append(result)
    return results


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure_export(client, filters: dict) -> dict:
    from django.urls import reverse

    response = client.get(reverse("audit:events_export", args=["csv"]), filters)
    assert response.status_code == 200
    rss_before = rss_peak = rss_kib()
    tracemalloc.start()
    started = time.perf_counter()
    lines = size = 0
    for chunk in response.streaming_content:
        lines += 1
        size += len(chunk)
        if lines % 5_000 == 0:
            rss_peak = max(rss_peak, rss_kib())
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = lines - 1  # the header
    print(
        f"  export {rows:>7,} rows, {size / 1e6:6.1f} MB in {elapsed:5.1f} s: "
        f"tracemalloc peak {peak / 1e6:5.2f} MB, RSS {rss_before / 1024:6.1f} -> "
        f"{rss_peak / 1024:6.1f} MiB",
        flush=True,
    )
    return {"rows": rows, "seconds": elapsed, "peak_mb": peak / 1e6, "rss_peak_kib": rss_peak}


def measure_verify() -> None:
    """Run `manage.py verify_audit` as its own process and report its time and peak RSS."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "verify_audit"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    output = (completed.stdout or completed.stderr).strip()
    print(f"  verify_audit: {elapsed:.1f} s, peak RSS {peak_mib:.1f} MiB: {output}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse a filled database")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    options = parser.parse_args()
    if options.events < FAILURE_EVERY * PAGE_SIZE:
        parser.error(f"--events must be at least {FAILURE_EVERY * PAGE_SIZE}")

    configure()
    from django.db import connection
    from django.test import Client

    from audit.models import AuditEvent

    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}", flush=True)
    prepare_schema(options.keep)
    users, admin = create_users()
    existing = AuditEvent.objects.count()
    if existing != options.events:
        if existing:
            raise SystemExit(
                f"The database contains {existing:,} events, not {options.events:,}: run "
                "without --keep to refill it."
            )
        print(f"Filling {options.events:,} events…", flush=True)
        print(f"  filled in {fill(options.events, users):.0f} s", flush=True)

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    middle = START + SPAN / 2
    scenarios = {
        "no filter": {},
        "outcome=failure": {"outcome": "failure"},
        "action=step.*": {"action": "step.*"},
        "actor=system": {"actor": "system"},
        "text 'project'": {"q": "project"},
        "90-day range": {
            "since": middle.date().isoformat(),
            "until": (middle + datetime.timedelta(days=89)).date().isoformat(),
        },
        "one subject user": {"subject": users[0].login},
        "resource + failure": {"resource": "00gbench000000000007", "outcome": "failure"},
    }
    print(f"List pages (median of {options.repeat}, through the view):", flush=True)
    measure_pages(client, scenarios, options.repeat)

    if not options.skip_export:
        print("CSV export (outcome=failure, streamed through the view):", flush=True)
        tenth = (START + SPAN / 10).date().isoformat()
        measure_export(client, {"outcome": "failure", "until": tenth})
        measure_export(client, {"outcome": "failure"})

    if not options.skip_verify:
        measure_verify()


if __name__ == "__main__":
    main()
