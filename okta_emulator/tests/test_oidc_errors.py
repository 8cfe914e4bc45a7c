"""Each failure case of the OIDC endpoints gets Okta's error response."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from okta_emulator.oidc.testing import (
    PORTAL_CLIENT_ID,
    PORTAL_CLIENT_SECRET,
    PORTAL_REDIRECT_URI,
    SignInBrowser,
    get_userinfo,
)

ACTIVE_LOGIN = "avery.stone@example.com"
OTHER_REGISTERED_REDIRECT_URI = "http://localhost:8000/oidc/callback/"


@pytest.fixture
def browser(okta_org):
    return SignInBrowser(okta_org.issuer)


@pytest.fixture
def issued_code(browser):
    """Return (code, code_verifier) of a fresh sign-in."""
    params, verifier = browser.authorize_url_params()
    callback = browser.sign_in(params, ACTIVE_LOGIN).params
    return callback["code"], verifier


def token_request(okta_org, data, auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET)):
    return requests.post(f"{okta_org.issuer}/v1/token", data=data, auth=auth, timeout=30)


def code_grant(code, verifier, redirect_uri=PORTAL_REDIRECT_URI):
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }


def assert_oauth_error(response, status, error):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]


# --- token endpoint ------------------------------------------------------------------------------


def test_wrong_code_verifier_is_invalid_grant(okta_org, issued_code):
    code, _ = issued_code
    wrong_verifier = "x" * 43

    response = token_request(okta_org, code_grant(code, wrong_verifier))

    assert_oauth_error(response, 400, "invalid_grant")
    assert response.json()["error_description"] == "PKCE verification failed."


def test_missing_code_verifier_is_rejected(okta_org, issued_code):
    code, verifier = issued_code
    data = code_grant(code, verifier)
    del data["code_verifier"]

    assert_oauth_error(token_request(okta_org, data), 400, "invalid_request")


def test_reused_code_is_invalid_grant(okta_org, issued_code):
    code, verifier = issued_code
    assert token_request(okta_org, code_grant(code, verifier)).status_code == 200

    response = token_request(okta_org, code_grant(code, verifier))

    assert_oauth_error(response, 400, "invalid_grant")
    assert response.json()["error_description"] == (
        "The authorization code is invalid or has expired."
    )


def test_concurrent_code_exchanges_succeed_once(okta_org, issued_code):
    code, verifier = issued_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _: token_request(okta_org, code_grant(code, verifier)), range(4))
        )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400, 400, 400]


def test_expired_code_is_invalid_grant(okta_org, issued_code):
    code, verifier = issued_code
    okta_org.set_clock_offset(301)

    response = token_request(okta_org, code_grant(code, verifier))

    assert_oauth_error(response, 400, "invalid_grant")


def test_unknown_code_is_invalid_grant(okta_org):
    response = token_request(okta_org, code_grant("not-a-code", "v" * 43))

    assert_oauth_error(response, 400, "invalid_grant")


def test_wrong_redirect_uri_is_invalid_grant(okta_org, issued_code):
    code, verifier = issued_code

    response = token_request(
        okta_org, code_grant(code, verifier, redirect_uri=OTHER_REGISTERED_REDIRECT_URI)
    )

    assert_oauth_error(response, 400, "invalid_grant")
    assert "redirect_uri" in response.json()["error_description"]


def test_bad_client_secret_basic_is_invalid_client(okta_org, issued_code):
    code, verifier = issued_code

    response = token_request(
        okta_org, code_grant(code, verifier), auth=(PORTAL_CLIENT_ID, "wrong-secret")
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_bad_client_secret_post_is_invalid_client(okta_org, issued_code):
    code, verifier = issued_code
    data = dict(code_grant(code, verifier), client_id=PORTAL_CLIENT_ID, client_secret="wrong")

    response = token_request(okta_org, data, auth=None)

    assert_oauth_error(response, 401, "invalid_client")


def test_client_secret_post_exchanges_code(okta_org, issued_code):
    code, verifier = issued_code
    data = dict(
        code_grant(code, verifier), client_id=PORTAL_CLIENT_ID, client_secret=PORTAL_CLIENT_SECRET
    )

    response = token_request(okta_org, data, auth=None)

    assert response.status_code == 200, response.text
    assert response.json()["id_token"]


def test_unknown_client_is_invalid_client(okta_org, issued_code):
    code, verifier = issued_code

    response = token_request(okta_org, code_grant(code, verifier), auth=("0oaunknown", "secret"))

    assert_oauth_error(response, 401, "invalid_client")


def test_missing_client_credentials_is_invalid_client(okta_org, issued_code):
    code, verifier = issued_code

    response = token_request(okta_org, code_grant(code, verifier), auth=None)

    assert_oauth_error(response, 401, "invalid_client")
    assert response.json()["error_description"] == "No client credentials found"


def test_unsupported_grant_type_is_rejected(okta_org):
    response = token_request(okta_org, {"grant_type": "password", "username": "a", "password": "b"})

    assert_oauth_error(response, 400, "unsupported_grant_type")


def test_no_refresh_token_without_offline_access(okta_org, issued_code):
    code, verifier = issued_code

    tokens = token_request(okta_org, code_grant(code, verifier)).json()

    assert "refresh_token" not in tokens


def test_unknown_refresh_token_is_invalid_grant(okta_org):
    response = token_request(okta_org, {"grant_type": "refresh_token", "refresh_token": "nope"})

    assert_oauth_error(response, 400, "invalid_grant")


# --- authorize endpoint --------------------------------------------------------------------------


def test_unknown_client_gets_error_page_not_redirect(okta_org, browser):
    params, _ = browser.authorize_url_params(client_id="0oaunknownclient0001")

    result = browser.authorize(params)

    assert result.redirect_uri is None
    assert result.response.status_code == 400
    assert "client_id" in result.response.text


def test_unregistered_redirect_uri_gets_error_page(okta_org, browser):
    params, _ = browser.authorize_url_params(redirect_uri="http://127.0.0.1:8000/evil/")

    result = browser.authorize(params)

    assert result.redirect_uri is None
    assert result.response.status_code == 400
    assert "redirect_uri" in result.response.text


def test_missing_redirect_uri_gets_error_page(okta_org, browser):
    params, _ = browser.authorize_url_params(redirect_uri=None)

    result = browser.authorize(params)

    assert result.redirect_uri is None
    assert result.response.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"response_mode": "form_post"}, "unsupported_response_mode"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"scope": "profile email"}, "access_denied"),
    ],
    ids=[
        "missing-pkce",
        "plain-pkce",
        "missing-challenge-method",
        "short-challenge",
        "implicit-response-type",
        "missing-scope",
        "unknown-scope",
        "prompt-none-without-session",
        "prompt-none-with-login",
        "form-post-response-mode",
        "non-numeric-max-age",
        "profile-without-openid",
    ],
)
def test_authorize_error_redirects_to_client(okta_org, browser, overrides, error):
    params, _ = browser.authorize_url_params(**overrides)

    result = browser.authorize(params)

    assert result.redirect_uri.startswith(PORTAL_REDIRECT_URI)
    assert result.params["error"] == error
    assert result.params["error_description"]
    assert result.params["state"] == params["state"]
    assert "code" not in result.params


def test_invalid_request_rejected_before_sign_in(okta_org, browser):
    params, _ = browser.authorize_url_params(code_challenge_method="plain")
    form = dict(params, username=ACTIVE_LOGIN, password="Demo-Passw0rd!")

    result = browser.open(f"{okta_org.issuer}/v1/authorize", method="POST", data=form)

    assert result.params["error"] == "invalid_request"
    silent, _ = browser.authorize_url_params(prompt="none")
    assert browser.authorize(silent).params["error"] == "login_required"


def test_missing_state_is_rejected(okta_org, browser):
    params, _ = browser.authorize_url_params(state=None)

    result = browser.authorize(params)

    assert result.params["error"] == "invalid_request"
    assert "state" in result.params["error_description"]
    assert "state" not in result.params


def test_unknown_authorization_server_is_404(okta_org):
    response = requests.get(f"{okta_org.url}/oauth2/nosuchserver/v1/keys", timeout=30)

    assert response.status_code == 404
    assert response.json()["errorCode"] == "E0000007"


# --- userinfo ------------------------------------------------------------------------------------


def test_userinfo_without_token_is_401(okta_org):
    response = requests.get(f"{okta_org.issuer}/v1/userinfo", timeout=30)

    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_invalid_token_is_401(okta_org):
    response = requests.get(
        f"{okta_org.issuer}/v1/userinfo",
        headers={"Authorization": "Bearer abc.def.ghi"},
        timeout=30,
    )

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_expired_token_is_401(okta_org, issued_code):
    code, verifier = issued_code
    access_token = token_request(okta_org, code_grant(code, verifier)).json()["access_token"]
    okta_org.set_clock_offset(3601)

    response = get_userinfo(okta_org.issuer, access_token)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_with_revoked_token_is_401(okta_org, issued_code):
    code, verifier = issued_code
    access_token = token_request(okta_org, code_grant(code, verifier)).json()["access_token"]
    revoke = revoke_request(okta_org, access_token)
    assert revoke.status_code == 200

    response = get_userinfo(okta_org.issuer, access_token)

    assert response.status_code == 401


# --- revoke and introspect -----------------------------------------------------------------------


def revoke_request(okta_org, token, auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET), **extra):
    return requests.post(
        f"{okta_org.issuer}/v1/revoke", data={"token": token, **extra}, auth=auth, timeout=30
    )


def introspect_request(okta_org, token):
    return requests.post(
        f"{okta_org.issuer}/v1/introspect",
        data={"token": token},
        auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET),
        timeout=30,
    )


def test_revoked_refresh_token_no_longer_refreshes(okta_org, browser):
    params, verifier = browser.authorize_url_params(scope="openid offline_access")
    code = browser.sign_in(params, ACTIVE_LOGIN).params["code"]
    tokens = token_request(okta_org, code_grant(code, verifier)).json()

    revoke = revoke_request(okta_org, tokens["refresh_token"], token_type_hint="refresh_token")

    assert revoke.status_code == 200
    assert revoke.content == b""
    refresh = token_request(
        okta_org, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert_oauth_error(refresh, 400, "invalid_grant")
    assert introspect_request(okta_org, tokens["access_token"]).json() == {"active": False}


def test_revoke_unknown_token_is_200(okta_org):
    assert revoke_request(okta_org, "never-issued").status_code == 200


def test_revoke_without_token_is_400(okta_org):
    response = requests.post(
        f"{okta_org.issuer}/v1/revoke", auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET), timeout=30
    )

    assert_oauth_error(response, 400, "invalid_request")


def test_revoke_with_bad_client_secret_is_401(okta_org):
    response = revoke_request(okta_org, "anything", auth=(PORTAL_CLIENT_ID, "wrong"))

    assert_oauth_error(response, 401, "invalid_client")


def test_introspect_reports_active_access_token(okta_org, issued_code):
    code, verifier = issued_code
    access_token = token_request(okta_org, code_grant(code, verifier)).json()["access_token"]

    body = introspect_request(okta_org, access_token).json()

    assert body["active"] is True
    assert body["client_id"] == PORTAL_CLIENT_ID
    assert body["username"] == ACTIVE_LOGIN
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email"


# --- logout --------------------------------------------------------------------------------------


def test_logout_without_hint_shows_error(okta_org, browser, issued_code):
    response = browser.logout(post_logout_redirect_uri="http://127.0.0.1:8000/")

    assert response.status_code == 400
    assert "id_token_hint" in response.text
    assert_session_still_active(browser)


def test_logout_unregistered_redirect_shows_error(okta_org, browser, issued_code):
    code, verifier = issued_code
    id_token = token_request(okta_org, code_grant(code, verifier)).json()["id_token"]

    response = browser.logout(
        id_token_hint=id_token, post_logout_redirect_uri="http://evil.example/"
    )

    assert response.status_code == 400
    assert "post_logout_redirect_uri" in response.text
    assert_session_still_active(browser)


def test_logout_with_forged_hint_shows_error(okta_org, browser, issued_code):
    code, verifier = issued_code
    id_token = token_request(okta_org, code_grant(code, verifier)).json()["id_token"]
    header, payload, signature = id_token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    response = browser.logout(
        id_token_hint=forged, post_logout_redirect_uri="http://127.0.0.1:8000/"
    )

    assert response.status_code == 400
    assert_session_still_active(browser)


def assert_session_still_active(browser):
    params, _ = browser.authorize_url_params(prompt="none")
    assert "code" in browser.authorize(params).params
