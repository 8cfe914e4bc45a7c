"""pytest plugin: runs the emulator as a subprocess for a test session and resets it per test.

Enable it with `pytest_plugins = ["okta_emulator.testing"]` in the root conftest.py. Fixtures:

- `okta_emulator` (session): the running emulator, seeded with the demo org (override the
  `okta_emulator_seed_file` fixture to seed another org file).
- `okta_org` (function): the same object, reset to the seed before the test (data, faults,
  rate limits and clock).
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

DEMO_API_TOKEN = "00demoEmulatorApiToken0000000000000000000"
STARTUP_TIMEOUT_SECONDS = 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatorResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return f"<EmulatorResponse {self.status} {self.body[:200]!r}>"


class RunningEmulator:
    """A started emulator process and helpers to drive it over HTTP (urllib only)."""

    def __init__(self, process, port, state_path, api_token, log_path):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.issuer = f"{self.url}/oauth2/default"
        self.state_path = state_path
        self.api_token = api_token
        self.log_path = log_path

    def request(self, method, path, body=None, headers=None, token=True, timeout=10):
        """Send a request; return an EmulatorResponse for every status (no exception on 4xx/5xx)."""
        data = None
        all_headers = {"Accept": "application/json"}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif method in ("POST", "PUT"):
            data = b""
        if token:
            all_headers["Authorization"] = f"SSWS {self.api_token if token is True else token}"
        all_headers.update(headers or {})
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return EmulatorResponse(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            return EmulatorResponse(error.code, error.headers, error.read().decode())

    def _admin(self, method, path, body=None):
        response = self.request(method, path, body)
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} failed: HTTP {response.status} {response.body}")
        return response.json()

    def reset(self):
        """Restore the seeded org, remove faults, restore default rate limits and the clock."""
        return self._admin("POST", "/_emulator/reset")

    def set_fault(
        self, path, status=None, drop=False, fraction=1.0, latency_ms=0, methods=None, count=None
    ):
        """Add a fault rule (see okta_emulator/faults.py); return it as a dict with its id."""
        spec = {"path": path, "fraction": fraction}
        if status is not None:
            spec["status"] = status
        if drop:
            spec["drop"] = True
        if latency_ms:
            spec["latency_ms"] = latency_ms
        if methods:
            spec["methods"] = list(methods)
        if count is not None:
            spec["count"] = count
        return self._admin("POST", "/_emulator/faults", spec)

    def set_hook_faults(self, duplicate_fraction=None, reorder=None):
        body = {}
        if duplicate_fraction is not None:
            body["duplicate_fraction"] = duplicate_fraction
        if reorder is not None:
            body["reorder"] = reorder
        return self._admin("PUT", "/_emulator/faults/hooks", body)

    def clear_faults(self):
        return self._admin("DELETE", "/_emulator/faults")

    def set_rate_limits(self, **settings):
        """Change rate limiting: enabled, window_seconds, token_share, limits={bucket: per window},
        concurrency_limit (requests in flight)."""
        return self._admin("PUT", "/_emulator/rate-limits", settings)

    def set_clock_offset(self, seconds):
        return self._admin("PUT", "/_emulator/clock", {"offset_seconds": seconds})

    def hook_deliveries(self):
        return self._admin("GET", "/_emulator/hook-deliveries")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(directory, seed_file=None, extra_args=(), env=None):
    """Start `python -m okta_emulator serve` on a free loopback port; return once it responds."""
    directory = Path(directory)
    state_path = directory / "okta_emulator.sqlite3"
    log_path = directory / "okta_emulator.log"
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "okta_emulator",
        "serve",
        "--port",
        str(port),
        "--state",
        str(state_path),
    ]
    if seed_file:
        command += ["--seed", str(seed_file)]
    command += list(extra_args)
    process_env = dict(os.environ if env is None else env)
    process_env.setdefault("PYTHONUNBUFFERED", "1")
    api_token = process_env.get("OKTA_EMULATOR_API_TOKEN") or DEMO_API_TOKEN
    repo_root = Path(__file__).resolve().parent.parent
    log = open(log_path, "w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=repo_root, env=process_env
    )
    log.close()
    emulator = RunningEmulator(process, port, state_path, api_token, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the emulator exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            if emulator.request("GET", "/_emulator/status", timeout=2).status == 200:
                return emulator
        except OSError:
            pass
        time.sleep(0.1)
    emulator.stop()
    raise RuntimeError(
        f"the emulator did not respond within {STARTUP_TIMEOUT_SECONDS} s: {log_path.read_text()[-2000:]}"
    )


@pytest.fixture(scope="session")
def okta_emulator_seed_file():
    """Org file the session's emulator is seeded with; None means the shipped demo org."""
    return None


@pytest.fixture(scope="session")
def okta_emulator(tmp_path_factory, okta_emulator_seed_file):
    emulator = start_emulator(tmp_path_factory.mktemp("okta_emulator"), okta_emulator_seed_file)
    yield emulator
    emulator.stop()


@pytest.fixture
def okta_org(okta_emulator):
    okta_emulator.reset()
    return okta_emulator
