"""A loopback HTTP server that plays an event hook endpoint for the emulator's tests."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HookReceiver:
    """Replies to the verification GET and records every delivery POST.

    `post_statuses` lists the statuses for the next POSTs (then 200); `post_delay` stalls each POST.
    """

    def __init__(self):
        self.deliveries = []
        self.verifications = []
        self.post_statuses = []
        self.post_delay = 0.0
        self.redirect_to = None
        self.verification_answer = None  # None echoes the challenge
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                challenge = self.headers.get("X-Okta-Verification-Challenge", "")
                receiver.verifications.append(dict(self.headers))
                answer = receiver.verification_answer
                self._reply(200, {"verification": challenge if answer is None else answer})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.post_statuses.pop(0) if receiver.post_statuses else 200
                    receiver.deliveries.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(body),
                            "status": status,
                        }
                    )
                if receiver.post_delay:
                    time.sleep(receiver.post_delay)
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._reply(status, {})

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/okta/events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def events(self, event_type=None):
        """Return every delivered event (duplicates included), in arrival order."""
        found = []
        for delivery in self.deliveries:
            if delivery["status"] >= 300:
                continue
            for event in delivery["body"]["data"]["events"]:
                if event_type is None or event["eventType"] == event_type:
                    found.append(event)
        return found

    def wait_for(self, predicate, timeout=10.0):
        """Poll until predicate() is true; return its last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        return predicate()
