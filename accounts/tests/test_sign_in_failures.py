"""Every way a sign-in can fail ends on the failure page with 403, never a 400 or 500.

The emulator produces each case for real: ID-token overrides and bad signatures through its
/_emulator/oidc/ hooks, endpoint errors through its fault rules.
"""

import logging
import time

import pytest
from django.contrib.auth import get_user_model

from accounts.models import UserSession
from audit.models import AuditEvent
from okta_emulator.oidc.testing import PORTAL_CLIENT_ID
from tests_support import oidc

User = get_user_model()


def override_next_id_token(emulator, **override) -> None:
    response = emulator.request(
        "POST", "/_emulator/oidc/id-token-overrides", {"clientId": PORTAL_CLIENT_ID, **override}
    )
    assert response.status == 201, response.body


def assert_failure_page(response, client, reason_prefix: str) -> None:
    html = response.content.decode()
    assert response.status_code == 403
    assert "Sign-in failed" in html
    assert 'href="/oidc/authenticate/' in html
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.filter(action="auth.sign_in_failed").latest("sequence")
    assert event.outcome == "failure"
    assert event.payload["reason"].startswith(reason_prefix)


def now() -> int:
    return int(time.time())


ID_TOKEN_CASES = {
    "bad-signature": ({"badSignature": True}, "invalid_id_token"),
    "wrong-iss": (
        {"claims": {"iss": "http://127.0.0.1:9/oauth2/default"}},
        "invalid_id_token:InvalidIssuerError",
    ),
    "wrong-aud": (
        {"claims": {"aud": "0oaSomeOtherClient00"}},
        "invalid_id_token:InvalidAudienceError",
    ),
    "expired": (
        {"claims": {"iat": now() - 7200, "exp": now() - 3600}},
        "invalid_id_token:ExpiredSignatureError",
    ),
    "iat-in-future": (
        {"claims": {"iat": now() + 3600, "exp": now() + 7200}},
        "invalid_id_token:ImmatureSignatureError",
    ),
    "nonce-mismatch": ({"claims": {"nonce": "not-the-nonce-we-sent"}}, "nonce_mismatch"),
    "missing-sub": ({"removeClaims": ["sub"]}, "invalid_id_token:MissingRequiredClaimError"),
    "extra-audience-without-azp": (
        {"claims": {"aud": [PORTAL_CLIENT_ID, "0oaSomeOtherClient00"]}},
        "invalid_id_token:InvalidAudienceError",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ID_TOKEN_CASES, ids=list(ID_TOKEN_CASES))
def test_invalid_id_token_rejected(sign_in, okta_settings, client, case, caplog):
    override, reason = ID_TOKEN_CASES[case]
    override_next_id_token(okta_settings, **override)

    with caplog.at_level(logging.WARNING, logger="accounts.views"):
        response = sign_in(oidc.EMPLOYEE)

    assert_failure_page(response, client, reason)
    assert not User.objects.filter(login=oidc.EMPLOYEE).exists()
    assert any(reason in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/oauth2/default/v1/token", 400),
        ("/oauth2/default/v1/token", 401),
        ("/oauth2/default/v1/token", 500),
        ("/oauth2/default/v1/userinfo", 401),
        ("/oauth2/default/v1/userinfo", 500),
        ("/oauth2/default/v1/keys", 503),
    ],
)
def test_okta_endpoint_error_rejected(sign_in, okta_settings, client, path, status):
    okta_settings.set_fault(path, status=status)

    response = sign_in(oidc.EMPLOYEE)

    reason = {
        "token": "token_endpoint_error",
        "userinfo": "userinfo_error",
        "keys": "jwks_unavailable",
    }
    assert_failure_page(response, client, reason[path.rsplit("/", 1)[-1]])


@pytest.mark.django_db
def test_dropped_token_connection_rejected(sign_in, okta_settings, client):
    okta_settings.set_fault("/oauth2/default/v1/token", drop=True)

    response = sign_in(oidc.EMPLOYEE)

    assert_failure_page(response, client, "token_endpoint_error")


@pytest.mark.django_db
def test_replayed_callback_rejected(okta_settings, client, django_user_model):
    browser = oidc.new_browser(okta_settings.issuer)
    start = oidc.start_sign_in(client, browser, oidc.EMPLOYEE)
    assert oidc.finish_sign_in(client, start).status_code == 302
    client.post("/oidc/logout/", HTTP_HOST=oidc.PORTAL_HOST)

    replay = oidc.finish_sign_in(client, start)

    assert_failure_page(replay, client, "unknown_state")


@pytest.mark.django_db
def test_callback_from_other_browser_rejected(okta_settings, client):
    from django.test import Client

    start = oidc.start_sign_in(client, oidc.new_browser(okta_settings.issuer), oidc.EMPLOYEE)
    attacker = Client()

    response = oidc.finish_sign_in(attacker, start)

    assert_failure_page(response, attacker, "unknown_state")


@pytest.mark.django_db
def test_unknown_state_rejected(okta_settings, client):
    start = oidc.start_sign_in(client, oidc.new_browser(okta_settings.issuer), oidc.EMPLOYEE)
    forged = start.callback_path.replace(start.params["state"], "forged-state-value")

    response = client.get(forged, HTTP_HOST=oidc.PORTAL_HOST)

    assert_failure_page(response, client, "unknown_state")


@pytest.mark.django_db
def test_callback_without_code_rejected(okta_settings, client):
    client.get("/oidc/authenticate/", HTTP_HOST=oidc.PORTAL_HOST)
    state = next(iter(client.session["oidc_states"]))

    response = client.get("/oidc/callback/", {"state": state}, HTTP_HOST=oidc.PORTAL_HOST)

    assert_failure_page(response, client, "missing_code")


@pytest.mark.django_db
def test_error_redirect_rejected(okta_settings, client):
    client.get("/oidc/authenticate/", HTTP_HOST=oidc.PORTAL_HOST)
    state = next(iter(client.session["oidc_states"]))

    response = client.get(
        "/oidc/callback/",
        {"state": state, "error": "access_denied", "error_description": "User is not assigned"},
        HTTP_HOST=oidc.PORTAL_HOST,
    )

    assert_failure_page(response, client, "okta_error:access_denied")
    assert state not in client.session["oidc_states"]


@pytest.mark.django_db
def test_error_redirect_signs_out_user(sign_in, client):
    assert sign_in(oidc.EMPLOYEE).status_code == 302
    session_key = client.session.session_key

    response = client.get(
        "/oidc/callback/", {"state": "x", "error": "server_error"}, HTTP_HOST=oidc.PORTAL_HOST
    )

    assert_failure_page(response, client, "okta_error:server_error")
    assert not UserSession.objects.filter(session_key=session_key).exists()


@pytest.mark.django_db
def test_login_required_on_renewal_restarts_sign_in(okta_settings, client):
    client.get("/oidc/authenticate/", {"next": "/accounts/profile/"}, HTTP_HOST=oidc.PORTAL_HOST)
    state = next(iter(client.session["oidc_states"]))

    response = client.get(
        "/oidc/callback/", {"state": state, "error": "login_required"}, HTTP_HOST=oidc.PORTAL_HOST
    )

    assert response.status_code == 302
    assert response["Location"] == "/oidc/authenticate/?next=%2Faccounts%2Fprofile%2F"


@pytest.mark.django_db
def test_failure_log_has_no_secrets(okta_settings, client, caplog):
    override_next_id_token(okta_settings, claims={"nonce": "wrong"})
    browser = oidc.new_browser(okta_settings.issuer)

    with caplog.at_level(logging.DEBUG):
        failed = oidc.start_sign_in(client, browser, oidc.EMPLOYEE)
        assert oidc.finish_sign_in(client, failed).status_code == 403
        succeeded = oidc.start_sign_in(client, browser, oidc.EMPLOYEE)
        assert oidc.finish_sign_in(client, succeeded).status_code == 302

    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__.get('request', '')}" for record in caplog.records
    )
    id_token = client.session["oidc_id_token"]
    assert "nonce_mismatch" in logged
    assert id_token.split(".")[1] not in logged
    assert failed.params["code"] not in logged
    assert succeeded.params["code"] not in logged
    assert okta_settings.api_token not in logged
    assert "demo-portal-client-secret-change-me" not in logged
    assert oidc.DEMO_PASSWORD not in logged
