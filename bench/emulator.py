"""Measure the Okta emulator's Management API throughput with 50,000 seeded users.

Seeds a temporary state with the demo org plus generated users. Starts
`python -m okta_emulator serve` with rate limits and hook delivery off, pinned to one CPU core
(taskset), and drives it from this process, pinned to another core, over keep-alive HTTP/1.1
connections in threads. Reports requests per second and latency for:

- GET /api/v1/users/{id}       (random seeded users)
- GET /api/v1/users?limit=200  (200-user pages from random positions, via `after` cursors)

Usage: .venv/bin/python bench/emulator.py [--users 50000] [--seconds 10] [--connections 8]
"""

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from okta_emulator.paging import encode_cursor  # noqa: E402
from okta_emulator.seed import DEMO_ORG, load_file, seed_store  # noqa: E402
from okta_emulator.store import Store  # noqa: E402
from okta_emulator.testing import DEMO_API_TOKEN, free_port  # noqa: E402

DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Finance", "People", "IT", "Support"]


def seed_large_org(state_path, extra_users):
    """Seed the demo org plus extra_users generated users; return the ids of all users."""
    org = load_file(DEMO_ORG)
    base = len(org["users"])
    for index in range(extra_users - base):
        login = f"bench.user{index:06d}@example.com"
        org["users"].append(
            {
                "id": f"00ubench{index:012d}",
                "status": "ACTIVE",
                "profile": {
                    "firstName": "Bench",
                    "lastName": f"User{index:06d}",
                    "login": login,
                    "email": login,
                    "department": DEPARTMENTS[index % len(DEPARTMENTS)],
                    "title": "Engineer",
                    "mobilePhone": None,
                    "secondEmail": None,
                },
            }
        )
    store = Store(state_path)
    started = time.perf_counter()
    seed_store(store, org)
    print(
        f"seeded {len(org['users'])} users in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    ids = [row["id"] for row in store.all("SELECT id FROM users ORDER BY id")]
    store.close()
    return ids


def start_server(state_path, port, core, threads):
    command = [
        sys.executable,
        "-m",
        "okta_emulator",
        "serve",
        "--state",
        str(state_path),
        "--port",
        str(port),
        "--no-rate-limits",
        "--no-hooks",
        "--threads",
        str(threads),
        "--log-level",
        "WARNING",
    ]
    # exec replaces taskset with the emulator, so process.pid is the emulator's pid.
    if core is not None:
        command = ["taskset", "-c", str(core)] + command
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request(
                "GET", "/_emulator/status", headers={"Authorization": f"SSWS {DEMO_API_TOKEN}"}
            )
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"emulator did not start: {process.stderr.read().decode()[-2000:]}")


def run_load(port, make_path, seconds, connections, check):
    """Send requests from `connections` threads for `seconds`; return (count, latencies in ms)."""
    stop_at = time.monotonic() + seconds
    latencies = [[] for _ in range(connections)]
    errors = []
    headers = {"Authorization": f"SSWS {DEMO_API_TOKEN}", "Accept": "application/json"}

    def worker(slot):
        rng = random.Random(slot)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            path = make_path(rng)
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            latencies[slot].append((time.perf_counter() - started) * 1000)
            if response.status != 200 or not check(body):
                errors.append((response.status, path))
        connection.close()

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    merged = [value for values in latencies for value in values]
    return len(merged), merged


def process_cpu_seconds(pid):
    """Return user + system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name, count, latencies, seconds, server_cpu_seconds):
    ordered = sorted(latencies)
    result = {
        "endpoint": name,
        "requests": count,
        "requests_per_second": round(count / seconds, 1),
        # Requests per CPU-second of the emulator: what one core would serve if nothing else ran on it.
        "requests_per_server_cpu_second": round(count / server_cpu_seconds, 1),
        "latency_ms_p50": round(statistics.median(ordered), 2),
        "latency_ms_p99": round(ordered[int(len(ordered) * 0.99) - 1], 2),
    }
    print(json.dumps(result))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=50_000, help="users in the org (default 50000)"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent keep-alive connections (default 8)"
    )
    parser.add_argument(
        "--server-threads", type=int, default=8, help="waitress threads (default 8)"
    )
    parser.add_argument(
        "--server-core", type=int, default=0, help="CPU core for the emulator (default 0)"
    )
    parser.add_argument(
        "--client-core", type=int, default=1, help="CPU core for the load generator (default 1)"
    )
    args = parser.parse_args(argv)

    os.sched_setaffinity(0, {args.client_core})
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory) / "bench.sqlite3"
        ids = seed_large_org(state, args.users)
        port = free_port()
        server = start_server(state, port, args.server_core, args.server_threads)
        try:

            def one_user(rng):
                return f"/api/v1/users/{rng.choice(ids)}"

            def user_page(rng):
                start = rng.randrange(0, len(ids) - 400)
                return f"/api/v1/users?limit=200&after={encode_cursor(ids[start])}"

            cases = [
                ("GET /api/v1/users/{id}", one_user, lambda body: body.startswith(b'{"id":"00u')),
                (
                    "GET /api/v1/users?limit=200",
                    user_page,
                    lambda body: body.count(b'"id":"00u') == 200,
                ),
            ]
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                f"server on core {args.server_core}, client on core {args.client_core}",
                file=sys.stderr,
            )
            for name, make_path, check in cases:
                run_load(port, make_path, args.warmup, args.connections, check)
                cpu_before = process_cpu_seconds(server.pid)
                count, latencies = run_load(port, make_path, args.seconds, args.connections, check)
                cpu_used = process_cpu_seconds(server.pid) - cpu_before
                report(name, count, latencies, args.seconds, cpu_used)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
