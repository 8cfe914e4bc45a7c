"""Test helpers that drive the emulator's sign-in over HTTP, as a browser would.

`SignInBrowser` follows the authorize redirect chain with a cookie jar, fills in the sign-in
form and stops at the client's redirect URI without contacting it, so tests get the code and
state that the client's callback would receive.
"""

import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

DEMO_PASSWORD = "Demo-Passw0rd!"  # noqa: S105 (the seed org's documented demo password)
PORTAL_CLIENT_ID = "0oaportaldemo0000001"
PORTAL_CLIENT_SECRET = "demo-portal-client-secret-change-me"  # noqa: S105 (seed demo secret)
PORTAL_REDIRECT_URI = "http://127.0.0.1:8000/oidc/callback/"
PORTAL_POST_LOGOUT_URI = "http://127.0.0.1:8000/"

MAX_REDIRECTS = 10


def new_pkce_pair() -> tuple[str, str]:
    """Return a fresh (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


@dataclass
class SignInForm:
    action: str
    fields: dict[str, str]
    error: str | None


class _SignInFormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, str] = {}
        self.error_parts: list[str] = []
        self._in_alert = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action")
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""
        elif attributes.get("role") == "alert":
            self._in_alert = True

    def handle_endtag(self, tag):
        self._in_alert = False

    def handle_data(self, data):
        if self._in_alert:
            self.error_parts.append(data.strip())


def parse_sign_in_form(html: str) -> SignInForm | None:
    """Return the sign-in form of a page, or None if the page has no form."""
    parser = _SignInFormParser()
    parser.feed(html)
    if parser.action is None:
        return None
    error = " ".join(part for part in parser.error_parts if part) or None
    return SignInForm(parser.action, parser.fields, error)


@dataclass
class AuthorizeResult:
    """End of an authorize flow: the client's redirect URI (with its query) or a page."""

    response: requests.Response
    redirect_uri: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """Return the query parameters of the client redirect (code, state, error…)."""
        if self.redirect_uri is None:
            raise AssertionError(
                f"authorize ended on a page (HTTP {self.response.status_code}), not a redirect"
            )
        query = parse_qs(urlsplit(self.redirect_uri).query)
        return {name: values[0] for name, values in query.items()}


class SignInBrowser:
    """A cookie-keeping HTTP client for the emulator's authorize endpoint and sign-in page."""

    def __init__(self, issuer: str, stop_at: str = "http://127.0.0.1:8000/"):
        self.issuer = issuer
        self.stop_at = stop_at
        self.http = requests.Session()

    def authorize_url_params(self, **overrides) -> tuple[dict, str]:
        """Return (query parameters, code_verifier) of a valid authorize request."""
        verifier, challenge = new_pkce_pair()
        params = {
            "client_id": PORTAL_CLIENT_ID,
            "redirect_uri": PORTAL_REDIRECT_URI,
            "response_type": "code",
            "scope": "openid profile email",
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}, verifier

    def open(self, url: str, method: str = "GET", data: dict | None = None) -> AuthorizeResult:
        """Request url and follow redirects until the client's redirect URI or a page."""
        response = self.http.request(method, url, data=data, allow_redirects=False, timeout=30)
        for _ in range(MAX_REDIRECTS):
            if response.status_code not in (301, 302, 303, 307):
                return AuthorizeResult(response)
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(self.stop_at):
                return AuthorizeResult(response, redirect_uri=location)
            response = self.http.get(location, allow_redirects=False, timeout=30)
        raise AssertionError(f"more than {MAX_REDIRECTS} redirects from {url}")

    def authorize(self, params: dict) -> AuthorizeResult:
        request = requests.Request("GET", f"{self.issuer}/v1/authorize", params=params).prepare()
        return self.open(request.url)

    def submit_sign_in(self, page: AuthorizeResult, username: str, password: str):
        form = parse_sign_in_form(page.response.text)
        if form is None:
            raise AssertionError(f"no sign-in form on the page (HTTP {page.response.status_code})")
        data = dict(form.fields, username=username, password=password)
        return self.open(urljoin(page.response.url, form.action), method="POST", data=data)

    def sign_in(self, params: dict, username: str, password: str = DEMO_PASSWORD):
        """Run authorize, fill in the sign-in form and return where the flow ended."""
        page = self.authorize(params)
        if page.redirect_uri is not None:
            return page
        return self.submit_sign_in(page, username, password)

    def logout(self, **params) -> requests.Response:
        """GET the logout endpoint with the browser's cookies, without following the redirect."""
        return self.http.get(
            f"{self.issuer}/v1/logout", params=params, allow_redirects=False, timeout=30
        )

    def exchange_code(
        self,
        code: str,
        verifier: str,
        redirect_uri: str = PORTAL_REDIRECT_URI,
        client_id: str = PORTAL_CLIENT_ID,
        client_secret: str = PORTAL_CLIENT_SECRET,
    ) -> requests.Response:
        """POST the code to the token endpoint with client_secret_basic."""
        return requests.post(
            f"{self.issuer}/v1/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
            timeout=30,
        )


def get_userinfo(issuer: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{issuer}/v1/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    )
