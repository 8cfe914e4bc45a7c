import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class DiscoveryStandIn(ThreadingHTTPServer):
    """A loopback HTTP server that serves only an authorization server's discovery document.

    Tests use the Okta emulator wherever it can produce the case; this serves the rest.
    `issuer_override` makes it name another issuer, as a misconfigured org URL would.
    """

    issuer_override: str | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class DiscoveryHandler(BaseHTTPRequestHandler):
    server: DiscoveryStandIn

    def do_GET(self) -> None:
        issuer = f"{self.server.url}/oauth2/default"
        if self.path != "/oauth2/default/.well-known/openid-configuration":
            self.send_error(404)
            return
        body = json.dumps({"issuer": self.server.issuer_override or issuer}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        # Keep test output clean; failures show up in assertions instead.
        pass


@pytest.fixture
def okta_discovery(settings) -> Iterator[DiscoveryStandIn]:
    """Point the portal's Okta issuer at a discovery stand-in on 127.0.0.1."""
    server = DiscoveryStandIn(("127.0.0.1", 0), DiscoveryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OKTA_ISSUER = f"{server.url}/oauth2/default"
    yield server
    server.shutdown()
    server.server_close()
