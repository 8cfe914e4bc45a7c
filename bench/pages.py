"""Latency of the catalog, inbox and my-requests pages on a large portal database.

Fills a database of its own with 10,000 users, 2,000 resources and 100,000 requests (bulk
inserts, no Okta). Then it requests each page many times through Django's test client, signed
in, and compares the median latency with that of /healthz. That trivial page passes the same
middleware and is measured in the same run.

    .venv/bin/python bench/pages.py                      # SQLite file var/bench-pages.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pages .venv/bin/python bench/pages.py

Options: --repeat N (requests per page, default 50), --keep (reuse an existing filled
database instead of refilling it). The PostgreSQL database must exist; its tables are
created and emptied.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

USERS = 10_000
RESOURCES = 2_000
REQUESTS = 100_000
# Reports per manager. With 100,000 requests this puts a few dozen steps in an inbox.
REPORTS_PER_MANAGER = 10
BATCH = 2_000


def configure() -> None:
    os.environ.setdefault("PORTAL_ENV", "test")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{REPO / 'var' / 'bench-pages.sqlite3'}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def fill() -> None:
    """Create the users, resources, requests, steps and grants with bulk inserts."""
    from django.utils import timezone

    from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
    from accounts.models import User

    rng = random.Random(5)
    now = timezone.now()
    users = [
        User(
            okta_id=f"00ubench{number:012d}",
            login=f"user{number:05d}@example.com",
            email=f"user{number:05d}@example.com",
            first_name="User",
            last_name=f"{number:05d}",
            department=rng.choice(["Engineering", "Sales", "Finance", "IT", "Support"]),
        )
        for number in range(USERS)
    ]
    User.objects.bulk_create(users, batch_size=BATCH)
    users = list(User.objects.order_by("pk"))
    managers = users[: USERS // REPORTS_PER_MANAGER]
    for index, user in enumerate(users[len(managers) :]):
        user.manager = managers[index // REPORTS_PER_MANAGER]
    User.objects.bulk_update(users[len(managers) :], ["manager"], batch_size=BATCH)

    resources = [
        Resource(
            kind=Resource.Kind.GROUP if number % 4 else Resource.Kind.APP,
            okta_id=f"00gbench{number:012d}",
            name=f"Resource {number:04d}",
            okta_description=f"Benchmark resource number {number}",
            group_type=Resource.GroupType.OKTA_GROUP if number % 4 else "",
            requestable=number % 10 != 0,
        )
        for number in range(RESOURCES)
    ]
    Resource.objects.bulk_create(resources, batch_size=BATCH)
    resources = list(Resource.objects.order_by("pk"))

    statuses = [status for status, _ in AccessRequest.Status.choices]
    pairs = set()
    requests = []
    while len(requests) < REQUESTS:
        requester = rng.choice(users[len(managers) :])
        resource = rng.choice(resources)
        if (requester.pk, resource.pk) in pairs:
            continue
        pairs.add((requester.pk, resource.pk))
        requests.append(
            AccessRequest(
                requester=requester,
                resource=resource,
                justification="Benchmark request.",
                status=rng.choice(statuses),
                created_at=now,
            )
        )
    AccessRequest.objects.bulk_create(requests, batch_size=BATCH)

    pending = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING).select_related(
        "requester"
    )
    steps = [
        ApprovalStep(
            request=request,
            position=1,
            kind=ApprovalStep.Kind.MANAGER,
            status=ApprovalStep.Status.WAITING,
        )
        for request in pending
    ]
    ApprovalStep.objects.bulk_create(steps, batch_size=BATCH)
    manager_of = dict(User.objects.values_list("pk", "manager_id"))
    Through = ApprovalStep.approvers.through
    links = [
        Through(approvalstep_id=step_id, user_id=manager_of[requester_id])
        for step_id, requester_id in ApprovalStep.objects.values_list("pk", "request__requester")
    ]
    Through.objects.bulk_create(links, batch_size=BATCH)

    approved = AccessRequest.objects.filter(status=AccessRequest.Status.APPROVED)
    grants = [
        Grant(
            user_id=request.requester_id,
            resource_id=request.resource_id,
            request=request,
            status=Grant.Status.ACTIVE if request.pk % 5 else Grant.Status.FAILED,
            failure_reason="" if request.pk % 5 else "Refused by Okta.",
        )
        for request in approved
    ]
    Grant.objects.bulk_create(grants, batch_size=BATCH)


def prepare(keep: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User

    call_command("migrate", verbosity=0, interactive=False)
    if not (keep and User.objects.count() >= USERS):
        call_command("flush", verbosity=0, interactive=False)
        started = time.perf_counter()
        fill()
        print(f"Filled the database in {time.perf_counter() - started:.0f} s")
    # Fresh statistics, as PostgreSQL's autovacuum would gather after a bulk load. Without them
    # both databases plan the inbox count by scanning every waiting step.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def signed_in_client(user):
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    session = client.session
    # Keeps mozilla-django-oidc's session refresh from sending the client to Okta.
    session["oidc_id_token_expiration"] = time.time() + 24 * 3600
    session.save()
    return client


def medians_ms(clients: dict, repeat: int) -> dict:
    """Return each page's median latency in ms; `clients` maps a label to (client, url).

    The pages take turns within each round, so a change of machine load during the run
    affects all of them alike and their ratios stay comparable.
    """
    timings = {label: [] for label in clients}
    for client, url in clients.values():
        client.get(url)  # warm up caches and lazy imports
    for _ in range(repeat):
        for label, (client, url) in clients.items():
            started = time.perf_counter()
            response = client.get(url)
            timings[label].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {url} returned HTTP {response.status_code}")
    return {label: statistics.median(values) for label, values in timings.items()}


def measure(repeat: int) -> None:
    from django.db import connection
    from django.db.models import Count

    from access_requests.models import ApprovalStep
    from accounts.models import User

    # The busiest approver and a requester with a typical number of requests.
    approver = (
        User.objects.filter(approval_steps__status=ApprovalStep.Status.WAITING)
        .annotate(waiting=Count("approval_steps"))
        .order_by("-waiting")
        .first()
    )
    requester = User.objects.annotate(made=Count("access_requests")).filter(made__gte=10).first()
    pages = {
        "trivial page (/healthz)": ("/healthz", approver),
        "catalog, first page": ("/catalog/", requester),
        "catalog, search": ("/catalog/?q=Resource%2019", requester),
        f"inbox (first page of {approver.waiting})": ("/inbox/", approver),
        f"my requests ({requester.made})": ("/requests/", requester),
    }
    clients = {label: (signed_in_client(user), url) for label, (url, user) in pages.items()}
    results = medians_ms(clients, repeat)

    baseline = results["trivial page (/healthz)"]
    print(f"Database: {connection.vendor}; {repeat} requests per page; median latency")
    print(f"{'page':32} {'median ms':>10} {'x trivial':>10}")
    for label, value in results.items():
        print(f"{label:32} {value:10.2f} {value / baseline:10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="requests per page (default 50)")
    parser.add_argument("--keep", action="store_true", help="reuse an already filled database")
    arguments = parser.parse_args()
    configure()
    prepare(arguments.keep)
    measure(arguments.repeat)


if __name__ == "__main__":
    main()
