"""Sign-in through the Okta emulator: the happy path, tabs, users and the session."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from accounts.models import UserSession
from audit.models import AuditEvent
from tests_support import oidc

User = get_user_model()


@pytest.mark.django_db
def test_sign_in_creates_user_from_claims(sign_in, client):
    response = sign_in(oidc.EMPLOYEE)

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(login=oidc.EMPLOYEE)
    assert user.okta_id == "00uaRe0ga6LZj6uv6hsG"
    assert user.email == oidc.EMPLOYEE
    assert user.first_name == "Fatima"
    assert user.last_name == "Haddad"
    assert "Engineering" in user.okta_groups
    assert not user.is_admin
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["oidc_id_token"]
    assert UserSession.objects.filter(user=user, session_key=client.session.session_key).exists()
    assert AuditEvent.objects.filter(action="auth.signed_in", actor=user).count() == 1


@pytest.mark.django_db
def test_authorize_request_uses_pkce_state_and_nonce(okta_settings, client):
    response = client.get("/oidc/authenticate/", HTTP_HOST=oidc.PORTAL_HOST)

    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(f"{okta_settings.issuer}/v1/authorize?")
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid profile email groups"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/oidc/callback/"]
    entry = client.session["oidc_states"][query["state"][0]]
    assert entry["nonce"] == query["nonce"][0]
    assert entry["code_verifier"]


@pytest.mark.django_db
def test_renewal_recorded_as_renewal(sign_in, okta_settings, client):
    browser = oidc.new_browser(okta_settings.issuer)
    sign_in(oidc.EMPLOYEE, browser=browser)

    assert sign_in(oidc.EMPLOYEE, browser=browser).status_code == 302

    events = AuditEvent.objects.filter(action="auth.signed_in").order_by("sequence")
    assert [event.payload["renewal"] for event in events] == [False, True]
