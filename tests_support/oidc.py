"""Sign a demo user in for real: portal -> emulator's sign-in form -> portal callback.

The Django test client plays the portal side and a `SignInBrowser` (a requests session with
its own cookie jar) plays the browser at the emulator, so the emulator's SSO session persists
between sign-ins made with the same `SignInBrowser`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.test import Client

from okta_emulator.oidc.testing import DEMO_PASSWORD, SignInBrowser

# The host the portal is registered under in the demo org (its redirect URI's host).
PORTAL_HOST = "127.0.0.1:8000"
PORTAL_ORIGIN = f"http://{PORTAL_HOST}"

# Demo org personas (okta_emulator/orgs/demo.yaml), by role.
EMPLOYEE = "fatima.haddad@example.com"  # reports to MANAGER
MANAGER = "priya.natarajan@example.com"  # has reports, so an approver
ADMIN = "ngozi.adeyemi@example.com"  # member of "Portal Admins"
SUSPENDED = "noah.fischer@example.com"
DEPROVISIONED = "amara.okafor@example.com"


@dataclass
class CallbackStart:
    """An authorize request that the emulator redirected back to the portal with a code."""

    callback_path: str
    params: dict[str, str]


def start_sign_in(
    client: Client,
    browser: SignInBrowser,
    login: str,
    *,
    password: str = DEMO_PASSWORD,
    next_url: str | None = None,
) -> CallbackStart:
    """Run the sign-in up to the redirect back to the portal, without following it."""
    response = client.get(
        "/oidc/authenticate/", {"next": next_url} if next_url else {}, HTTP_HOST=PORTAL_HOST
    )
    if response.status_code != 302:
        raise AssertionError(f"/oidc/authenticate/ returned HTTP {response.status_code}")
    page = browser.open(response["Location"])
    if page.redirect_uri is None:
        page = browser.submit_sign_in(page, login, password)
    if page.redirect_uri is None:
        raise AssertionError(
            f"the emulator did not redirect back for {login}: HTTP "
            f"{page.response.status_code} {page.response.text[:300]}"
        )
    parts = urlsplit(page.redirect_uri)
    return CallbackStart(f"{parts.path}?{parts.query}", page.params)


def finish_sign_in(client: Client, start: CallbackStart) -> HttpResponse:
    """Deliver the code to the portal's callback, as the browser would."""
    return client.get(start.callback_path, HTTP_HOST=PORTAL_HOST)


def sign_in(
    client: Client,
    issuer: str,
    login: str,
    *,
    password: str = DEMO_PASSWORD,
    next_url: str | None = None,
    browser: SignInBrowser | None = None,
) -> HttpResponse:
    """Sign `login` in on `client` through the emulator; return the callback's response.

    A successful sign-in returns a 302 to `next_url` (or "/"); a failed one returns the
    failure page (403).
    """
    browser = browser or new_browser(issuer)
    start = start_sign_in(client, browser, login, password=password, next_url=next_url)
    return finish_sign_in(client, start)


def new_browser(issuer: str) -> SignInBrowser:
    return SignInBrowser(issuer, stop_at=f"{PORTAL_ORIGIN}/")
