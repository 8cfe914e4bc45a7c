"""Event hook verification and delivery over plain HTTP, to loopback URLs only.

Deliveries are batched per hook, POSTed with the hook's configured headers, and retried as Okta
does: a timeout, a connection error or a 5xx gets another attempt (hook_max_attempts in total);
a 4xx or any other status does not. Redirects are never followed. At-least-once: a delivery is
marked done only after a 2xx, so a crash between POST and marking repeats it.
"""

import http.client
import json
import logging
import threading
import uuid
from urllib.parse import urlsplit

from . import clock

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
REORDER_HOLD_SECONDS = 0.5


class HookTargetError(ValueError):
    """The hook URI is not one the emulator may call."""


def check_hook_uri(uri):
    """Raise HookTargetError unless uri is an http(s) URL on a loopback host."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HookTargetError(f"channel.config.uri must be an absolute http(s) URL, not {uri!r}")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError as error:
        raise HookTargetError(f"channel.config.uri {uri!r} has an invalid port: {error}") from None
    if parts.hostname not in LOOPBACK_HOSTS:
        raise HookTargetError(
            f"channel.config.uri {uri!r} is not on a loopback host; the emulator calls only "
            f"{', '.join(sorted(LOOPBACK_HOSTS))}"
        )


def send(method, uri, headers, body, timeout):
    """Send one request without following redirects; return (status, response body bytes)."""
    check_hook_uri(uri)
    parts = urlsplit(uri)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(65536)
    finally:
        connection.close()


def hook_headers(hook_row):
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "Okta Event Hooks (okta_emulator)",
    }
    for header in json.loads(hook_row["headers"] or "[]"):
        headers[header["key"]] = header["value"]
    if hook_row["auth_scheme"]:
        scheme = json.loads(hook_row["auth_scheme"])
        headers[scheme.get("key") or "Authorization"] = scheme.get("value", "")
    return headers


def verify(hook_row, timeout):
    """Run Okta's one-time verification GET; return None on success or the reason it failed."""
    challenge = uuid.uuid4().hex
    headers = hook_headers(hook_row)
    headers["X-Okta-Verification-Challenge"] = challenge
    try:
        status, body = send("GET", hook_row["uri"], headers, None, timeout)
    except (OSError, http.client.HTTPException) as error:
        return f"verification request failed: {error}"
    if status != 200:
        return f"verification request got HTTP {status}, expected 200"
    try:
        answer = json.loads(body)
    except ValueError:
        return "verification response is not JSON"
    if not isinstance(answer, dict) or answer.get("verification") != challenge:
        return 'verification response must be {"verification": "<the X-Okta-Verification-Challenge value>"}'
    return None


class HookDeliverer:
    """Background thread that sends due hook deliveries from the hook_deliveries outbox."""

    def __init__(self, store, settings, faults, org_url):
        self.store = store
        self.settings = settings
        self.faults = faults
        self.org_url = org_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hook-delivery", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self.store.events_committed.set()
        self._thread.join(timeout=5)

    def _run(self):
        logger.info("event hook delivery started")
        while not self._stop.is_set():
            self.store.events_committed.wait(timeout=0.2)
            self.store.events_committed.clear()
            try:
                while self._deliver_due() and not self._stop.is_set():
                    pass
            except Exception:
                logger.exception("event hook delivery loop failed; retrying")
                self._stop.wait(1.0)
        self.store.close()
        logger.info("event hook delivery stopped")

    def _deliver_due(self):
        """Send one batch per hook with due deliveries; return True if anything was sent."""
        if not self.settings.hook_deliveries_enabled:
            return False
        now = clock.now()
        if self.faults.hook_reorder:
            # Hold events back a little so they pile up into batches that can go out reversed.
            now -= REORDER_HOLD_SECONDS
        due = self.store.all(
            "SELECT d.id, d.hook_id, d.attempts, e.doc, e.seq FROM hook_deliveries d "
            "JOIN log_events e ON e.seq = d.event_seq "
            "WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.hook_id, e.seq",
            (now,),
        )
        if not due:
            return False
        by_hook = {}
        for row in due:
            by_hook.setdefault(row["hook_id"], []).append(row)
        for hook_id, rows in by_hook.items():
            for start in range(0, len(rows), self.settings.hook_batch_size):
                self._send_batch(hook_id, rows[start : start + self.settings.hook_batch_size])
        return True

    def _send_batch(self, hook_id, rows):
        hook = self.store.one("SELECT * FROM event_hooks WHERE id = ?", (hook_id,))
        ids = [row["id"] for row in rows]
        if hook is None or hook["status"] != "ACTIVE":
            self._mark(ids, "failed", "hook deleted or deactivated")
            return
        events = [json.loads(row["doc"]) for row in rows]
        if self.faults.hook_reorder and len(events) > 1:
            events.reverse()
        body = json.dumps(
            {
                "eventType": "com.okta.event_hook",
                "eventTypeVersion": "1.0",
                "cloudEventsVersion": "0.1",
                "source": f"{self.org_url}/api/v1/eventHooks/{hook_id}",
                "eventId": str(uuid.uuid4()),
                "eventTime": clock.now_iso(),
                "contentType": "application/json",
                "data": {"events": events},
            }
        ).encode()
        headers = hook_headers(hook)
        copies = 2 if self.faults.duplicate_delivery() else 1
        for _copy in range(copies):
            outcome = self._post(hook, headers, body)
        attempts = rows[0]["attempts"] + 1
        if outcome is None:
            self._mark(ids, "delivered", None, attempts)
        elif outcome.startswith("retry:") and attempts < self.settings.hook_max_attempts:
            logger.info(
                "event hook %s delivery of %d events failed (%s); retrying",
                hook_id,
                len(ids),
                outcome,
            )
            with self.store.transaction() as db:
                db.executemany(
                    "UPDATE hook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
                    [
                        (attempts, clock.now() + self.settings.hook_retry_delay_seconds, outcome, i)
                        for i in ids
                    ],
                )
        else:
            logger.warning(
                "event hook %s delivery of %d events failed for good: %s",
                hook_id,
                len(ids),
                outcome,
            )
            self._mark(ids, "failed", outcome, attempts)

    def _post(self, hook, headers, body):
        """POST once; return None on 2xx, "retry: …" when Okta would retry, else the reason."""
        try:
            status, _ = send("POST", hook["uri"], headers, body, self.settings.hook_timeout_seconds)
        except (OSError, http.client.HTTPException) as error:
            return f"retry: {type(error).__name__}: {error}"
        except ValueError as error:
            return f"invalid hook URI: {error}"
        if 200 <= status < 300:
            return None
        if status >= 500:
            return f"retry: HTTP {status}"
        return f"HTTP {status}"

    def _mark(self, ids, state, error, attempts=None):
        with self.store.transaction() as db:
            db.executemany(
                "UPDATE hook_deliveries SET state = ?, last_error = ?, attempts = coalesce(?, attempts) WHERE id = ?",
                [(state, error, attempts, i) for i in ids],
            )
