"""Sign-out, renewal under htmx, security headers, redirects and the landing and profile pages."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import UserSession
from audit.models import AuditEvent
from okta_emulator.oidc.testing import PORTAL_POST_LOGOUT_URI
from tests_support import oidc

User = get_user_model()
HOST = {"HTTP_HOST": oidc.PORTAL_HOST}


@pytest.mark.django_db
def test_sign_out_ends_session_at_okta(sign_in, okta_settings, client):
    browser = oidc.new_browser(okta_settings.issuer)
    sign_in(oidc.EMPLOYEE, browser=browser)
    session_key = client.session.session_key
    id_token = client.session["oidc_id_token"]

    response = client.post("/oidc/logout/", **HOST)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{okta_settings.issuer}/v1/logout"
    )
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == [PORTAL_POST_LOGOUT_URI]
    assert "_auth_user_id" not in client.session
    assert not UserSession.objects.filter(session_key=session_key).exists()
    assert AuditEvent.objects.filter(action="auth.signed_out").count() == 1
    okta_logout = browser.http.get(response["Location"], allow_redirects=False, timeout=10)
    assert okta_logout.status_code in (302, 303)
    assert okta_logout.headers["Location"] == PORTAL_POST_LOGOUT_URI
    # Okta's session ended too: the next authorize asks for the password again.
    start = client.get("/oidc/authenticate/", **HOST)
    assert browser.open(start["Location"]).redirect_uri is None


@pytest.mark.django_db
def test_sign_out_requires_post(sign_in, client):
    sign_in(oidc.EMPLOYEE)

    response = client.get("/oidc/logout/", **HOST)

    assert response.status_code == 405
    assert "_auth_user_id" in client.session


@pytest.mark.django_db
def test_sign_out_requires_csrf_token(sign_in):
    csrf_client = Client(enforce_csrf_checks=True)
    sign_in(oidc.EMPLOYEE, client=csrf_client)

    response = csrf_client.post("/oidc/logout/", **HOST)

    assert response.status_code == 403
    assert "_auth_user_id" in csrf_client.session


@pytest.mark.django_db
def test_signed_in_pages_not_stored(sign_in, client):
    sign_in(oidc.EMPLOYEE)

    for path in ("/", "/accounts/profile/"):
        response = client.get(path, **HOST)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_security_headers_present(sign_in, okta_settings, client):
    sign_in(oidc.EMPLOYEE)

    response = client.get("/", **HOST)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert f"form-action 'self' {okta_settings.url}" in policy
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/accounts/profile/", "/accounts/profile/"),
        ("http://127.0.0.1:8000/accounts/profile/", "http://127.0.0.1:8000/accounts/profile/"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_limited_to_portal(sign_in, next_url, landing):
    response = sign_in(oidc.EMPLOYEE, next_url=next_url)

    assert response.status_code == 302
    assert response["Location"] == landing


@pytest.mark.django_db
def test_htmx_renewal_returns_to_page(sign_in, okta_settings, client):
    browser = oidc.new_browser(okta_settings.issuer)
    sign_in(oidc.EMPLOYEE, browser=browser)
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()

    fragment = client.get(
        "/accounts/profile/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://127.0.0.1:8000/catalog/?q=git",
        **HOST,
    )

    assert fragment.status_code == 200
    assert fragment["HX-Redirect"] == "/catalog/?q=git"
    page = client.get("/catalog/?q=git", **HOST)
    assert page.status_code == 302
    authorize = browser.open(page["Location"])
    assert parse_qs(urlsplit(page["Location"]).query)["prompt"] == ["none"]
    assert authorize.redirect_uri is not None
    parts = urlsplit(authorize.redirect_uri)
    callback = client.get(f"{parts.path}?{parts.query}", **HOST)
    assert callback.status_code == 302
    assert callback["Location"] == "/catalog/?q=git"
    assert client.session["oidc_id_token_expiration"] > 0


@pytest.mark.django_db
def test_htmx_renewal_ignores_foreign_page(sign_in, client):
    sign_in(oidc.EMPLOYEE)
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()

    fragment = client.get(
        "/accounts/profile/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://evil.example/",
        **HOST,
    )

    assert fragment["HX-Redirect"] == "/"


@pytest.mark.django_db
def test_profile_shows_okta_directory_data(sign_in, client):
    from accounts.sync import sync_users

    sign_in(oidc.EMPLOYEE)
    sync_users()

    html = client.get("/accounts/profile/", **HOST).content.decode()

    assert "Priya Natarajan" in html
    assert "Software Engineer" in html
    assert "Engineering" in html
    assert "GitHub Developers" in html
    assert "00uaRe0ga6LZj6uv6hsG" in html
    assert "Sync users from Okta now" not in html


@pytest.mark.django_db
def test_profile_shows_roles(sign_in, client):
    from accounts.sync import sync_users

    sync_users()
    sign_in(oidc.MANAGER)

    html = client.get("/accounts/profile/", **HOST).content.decode()

    assert "employee, approver" in html


@pytest.mark.django_db
def test_admin_can_queue_user_sync(sign_in, client, django_capture_on_commit_callbacks):
    sign_in(oidc.ADMIN)
    assert "Sync users from Okta now" in client.get("/accounts/profile/", **HOST).content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/accounts/sync-users/", **HOST)

    assert response.status_code == 302
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_non_admin_cannot_queue_user_sync(sign_in, client, django_capture_on_commit_callbacks):
    sign_in(oidc.EMPLOYEE)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/accounts/sync-users/", **HOST)

    assert response.status_code == 403
    assert callbacks == []


@pytest.mark.django_db
def test_admin_site_denies_non_admin_without_loop(sign_in, client):
    sign_in(oidc.EMPLOYEE)

    response = client.get("/admin/", follow=True, **HOST)

    assert response.status_code == 403
    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **HOST)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/profile/"])
def test_page_queries_do_not_grow(client, path):
    manager = User.objects.create_user("00umanager", login="boss@example.com")
    User.objects.create_user("00ureport0", login="r0@example.com", manager=manager)
    client.force_login(manager)
    few = count_queries(client, path)

    for number in range(1, 25):
        User.objects.create_user(
            f"00ureport{number}", login=f"r{number}@example.com", manager=manager
        )
    manager.okta_groups = [f"Group {number}" for number in range(40)]
    manager.save()

    assert count_queries(client, path) == few


@pytest.mark.django_db
def test_landing_queries_do_not_grow_with_requests(client):
    from access_requests.models import Resource
    from access_requests.services import submit_request

    director = User.objects.create_user("00udirector", login="director@example.com")
    manager = User.objects.create_user("00umanager", login="boss@example.com", manager=director)
    client.force_login(manager)

    def add_requests(first, last):
        for number in range(first, last):
            resource = Resource.objects.create(
                kind=Resource.Kind.GROUP,
                okta_id=f"00gres{number}",
                name=f"Group {number}",
                requestable=True,
                approval_policy=Resource.ApprovalPolicy.MANAGER,
                allow_no_end=True,
            )
            report = User.objects.create_user(
                f"00ureport{number}", login=f"r{number}@example.com", manager=manager
            )
            submit_request(report, resource, justification="Needed for work.", ends_at=None)
            submit_request(manager, resource, justification="Needed for work.", ends_at=None)

    add_requests(0, 1)
    few = count_queries(client, "/")
    add_requests(1, 8)

    assert count_queries(client, "/") == few
    html = client.get("/", **HOST).content.decode()
    assert html.count("r7@example.com") + html.count("Group 7") >= 2


@pytest.mark.django_db
def test_profile_time_zone_ignores_sign_in(sign_in, client, settings):
    from accounts.models import User
    from accounts.sync import sync_users

    settings.PORTAL_DEFAULT_TIME_ZONE = "Europe/Berlin"
    sync_users()
    # The demo profile has no timezone, so Okta's zoneinfo claim is its default Los Angeles.
    sign_in(oidc.EMPLOYEE)

    html = client.get("/accounts/profile/", **HOST).content.decode()

    assert User.objects.get(login=oidc.EMPLOYEE).time_zone == ""
    assert "Europe/Berlin" in html
    assert "America/Los_Angeles" not in html
    assert "the portal's default time zone, because the portal's last user sync found" in html
