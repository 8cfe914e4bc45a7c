"""Every view of the portal sends an anonymous request to sign-in.

The test walks the whole URL configuration, so a view added later is covered without
listing it. Public views are listed in PUBLIC_VIEWS with the reason they are public.
"""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

# URL name -> why an anonymous request may reach it.
PUBLIC_VIEWS = {
    "healthz": "load balancer liveness probe",
    "readyz": "load balancer readiness probe",
    "oidc_authentication_init": "starts the sign-in",
    "oidc_authentication_callback": "completes the sign-in",
    "oidc_logout": "sign-out (POST only) must work for an expired session too",
    "admin_sign_in": "sends the admin site's sign-in to Okta",
    "access_requests:okta_event_hook": "called by Okta, authenticated by the hook's secret",
}
SAMPLE_VALUES = {"int": "1", "str": "x", "slug": "x", "path": "x/y", "uuid": str(uuid.UUID(int=1))}
SIGN_IN_PATH = "/oidc/authenticate/"


def sample_path(route_parts: list) -> str:
    path = ""
    for pattern in route_parts:
        if isinstance(pattern, RoutePattern):
            path += re.sub(
                r"<(?:(\w+):)?\w+>",
                lambda match: SAMPLE_VALUES[match.group(1) or "str"],
                str(pattern._route),
            )
        elif isinstance(pattern, RegexPattern):
            path += sample_for_regex(pattern._regex)
    return "/" + path


def sample_for_regex(regex: str) -> str:
    """Build a string the admin's regex routes accept: first alternative of each group."""

    def group_value(match: re.Match) -> str:
        body = match.group(1)
        alternatives = body.split("|")
        first = alternatives[0]
        return first if re.fullmatch(r"[\w-]+", first) else "1"

    text = re.sub(r"\(\?P<\w+>([^)]*)\)", group_value, regex)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def walk(patterns, prefix=(), namespace=None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part) or None
            yield from walk(entry.url_patterns, (*prefix, entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            path = sample_path([*prefix, entry.pattern])
            yield name or path, path, entry


def all_views():
    return list(walk(get_resolver().url_patterns))


def is_public(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "login_required", True) is False


@pytest.mark.django_db
def test_every_view_redirects_anonymous_to_sign_in(client):
    checked = 0
    for name, path, pattern in all_views():
        if is_public(pattern):
            continue
        match = resolve(path)
        assert match.func == pattern.callback, f"sample path {path} does not reach view {name}"

        response = client.get(path)

        assert response.status_code == 302, f"{path} ({name}) returned {response.status_code}"
        location = response["Location"]
        if location.startswith("/admin/login/"):
            location = client.get(location)["Location"]
        assert location.startswith(SIGN_IN_PATH), f"{path} ({name}) redirected to {location}"
        checked += 1
    assert checked > 20


@pytest.mark.django_db
def test_every_view_answers_htmx_and_json_with_401(client):
    for name, path, pattern in all_views():
        if is_public(pattern):
            continue

        htmx = client.get(
            path, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{path}"
        )
        api = client.get(path, HTTP_ACCEPT="application/json")

        assert htmx.status_code == 401, f"{path} ({name}) answered htmx with {htmx.status_code}"
        assert htmx["HX-Redirect"].startswith(SIGN_IN_PATH)
        assert api.status_code == 401, f"{path} ({name}) answered JSON with {api.status_code}"


def test_public_views_are_the_listed_ones():
    public = {name for name, _path, pattern in all_views() if is_public(pattern)}
    # The admin site marks its own login, logout and password views public; its login is
    # shadowed by admin_sign_in, and the others need a session to do anything.
    public = {name for name in public if not name.startswith("admin:")}

    assert public == set(PUBLIC_VIEWS)
