"""Readiness checks for /readyz: the database, the Celery broker and Okta.

Each check returns a CheckResult instead of raising, so one failing dependency never hides the
state of the others. Okta is reached with `requests` on purpose: importing the okta SDK costs
several seconds and about 100 MB per process, and discovery needs no API token.
"""

import logging
import os
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
OKTA_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict:
        result = {"status": "ok" if self.ok else "error", "latency_ms": round(self.latency_ms, 1)}
        if self.error:
            result["error"] = self.error
        return result


def run_check(name: str, check) -> CheckResult:
    """Run `check()` and time it. Any exception becomes a failed result with its message."""
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # A readiness probe reports every failure, whatever its type.
        latency_ms = (time.perf_counter() - started) * 1000
        logger.warning("Readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
        return CheckResult(name, False, latency_ms, f"{type(exc).__name__}: {exc}")
    return CheckResult(name, True, (time.perf_counter() - started) * 1000)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.connect_timeout = BROKER_TIMEOUT_SECONDS
        # One attempt, no retry, so the probe returns within its own timeout.
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        if broker.transport_cls == "filesystem":
            check_embedded_broker_folders()


def check_embedded_broker_folders() -> None:
    # The filesystem transport "connects" without touching the disk, so test the folders
    # that publishing and consuming need.
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options[key]
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OSError(f"embedded broker folder {folder} is missing or not writable")


def check_okta() -> None:
    url = f"{settings.OKTA_ISSUER}/.well-known/openid-configuration"
    response = requests.get(url, timeout=OKTA_TIMEOUT_SECONDS, allow_redirects=False)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} returned HTTP {response.status_code}")
    issuer = response.json().get("issuer")
    if issuer != settings.OKTA_ISSUER:
        raise RuntimeError(
            f"discovery at {url} names issuer {issuer!r}, expected {settings.OKTA_ISSUER!r}"
        )


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "okta": check_okta,
}


def run_all_checks() -> list[CheckResult]:
    return [run_check(name, check) for name, check in CHECKS.items()]
