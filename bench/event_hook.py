"""Response time of the Okta event hook endpoint while no worker runs.

Okta waits 3 s for a delivery's response and retries once; the endpoint only stores the events
and queues a task, so its response time must not depend on the worker. This script migrates a
database of its own and points the broker at a closed loopback port (so every queueing
attempt fails fast, as with the worker and broker down). It then POSTs deliveries of 1 and 50
membership events through Django's test client (in-process: no network), each event new, and
prints the median and maximum response times. Run it with LOG_LEVEL=ERROR: every delivery
logs a warning that the broker is down.

    .venv/bin/python bench/event_hook.py                    # SQLite file var/bench-hooks.sqlite3
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_hooks .venv/bin/python bench/event_hook.py

Options: --repeat N (deliveries per batch size, default 50).
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SECRET = "bench-hook-secret"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure() -> None:
    os.environ.setdefault("PORTAL_ENV", "test")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{REPO / 'var' / 'bench-hooks.sqlite3'}")
    os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    os.environ["PORTAL_EVENT_HOOK_SECRET"] = SECRET
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def event(number: int) -> dict:
    published = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    return {
        "uuid": str(uuid.uuid4()),
        "published": published,
        "eventType": "group.user_membership.add",
        "target": [
            {"id": f"00ubench{number:012d}", "type": "User"},
            {"id": "00gbench000000000000", "type": "UserGroup"},
        ],
    }


def measure(repeat: int) -> None:
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    # The first request loads the URL configuration and middleware: not counted.
    warm_up = json.dumps({"data": {"events": [event(0)]}})
    client.post(
        "/hooks/okta/", warm_up, content_type="application/json", headers={"Authorization": SECRET}
    )
    for size in (1, 50):
        times = []
        for _ in range(repeat):
            body = json.dumps({"data": {"events": [event(n) for n in range(size)]}})
            start = time.perf_counter()
            response = client.post(
                "/hooks/okta/",
                body,
                content_type="application/json",
                headers={"Authorization": SECRET},
            )
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content
        print(
            f"{size:3d} events per delivery: median {statistics.median(times):6.1f} ms, "
            f"max {max(times):6.1f} ms over {repeat} deliveries"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    configure()
    from django.core.management import call_command

    (REPO / "var").mkdir(exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    measure(args.repeat)


if __name__ == "__main__":
    main()
