"""Sign-in over HTTP against the emulator: authorize, the sign-in page, the code exchange, the
ID token's claims, userinfo, refresh tokens, the emulator session and System Log events."""

import base64
import hashlib
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from okta_emulator.oidc.testing import (
    PORTAL_CLIENT_ID,
    PORTAL_CLIENT_SECRET,
    SignInBrowser,
    get_userinfo,
)

# Seed users (okta_emulator/orgs/demo.yaml).
ACTIVE_LOGIN = "avery.stone@example.com"


@pytest.fixture
def browser(okta_org):
    return SignInBrowser(okta_org.issuer)


def sign_in_and_exchange(browser, scope="openid profile email", login=ACTIVE_LOGIN, **params):
    """Sign in through the form and return (authorize params, token response JSON)."""
    authorize_params, verifier = browser.authorize_url_params(scope=scope, **params)
    result = browser.sign_in(authorize_params, login)
    callback = result.params
    assert callback["state"] == authorize_params["state"]
    response = browser.exchange_code(callback["code"], verifier)
    assert response.status_code == 200, response.text
    return authorize_params, response.json()


def decode_id_token(okta_org, id_token, nonce):
    """Validate the ID token as a relying party would and return its claims."""
    jwks = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": okta_org.issuer},
        aud={"essential": True, "value": PORTAL_CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
    )
    registry.validate(token.claims)
    return token.header, token.claims


def user_of(okta_org, login):
    response = okta_org.request("GET", f"/api/v1/users/{login}")
    assert response.status == 200, response.body
    return response.json()


def test_code_flow_issues_valid_id_token(okta_org, browser):
    params, tokens = sign_in_and_exchange(browser)

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["scope"] == "openid profile email"
    assert "refresh_token" not in tokens
    header, claims = decode_id_token(okta_org, tokens["id_token"], params["nonce"])
    keys = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()["keys"]
    assert header["kid"] == keys[0]["kid"]
    assert header["alg"] == "RS256"

    user = user_of(okta_org, ACTIVE_LOGIN)
    assert claims["sub"] == user["id"]
    assert claims["sub"].startswith("00u")
    assert claims["name"] == f"{user['profile']['firstName']} {user['profile']['lastName']}"
    assert claims["email"] == ACTIVE_LOGIN
    assert claims["preferred_username"] == ACTIVE_LOGIN
    assert claims["ver"] == 1
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["jti"].startswith("ID.")
    assert claims["amr"] == ["pwd"]
    assert claims["idp"].startswith("00o")
    assert claims["auth_time"] <= claims["iat"]
    assert "groups" not in claims


def test_id_token_at_hash_matches_access_token(okta_org, browser):
    params, tokens = sign_in_and_exchange(browser)

    _, claims = decode_id_token(okta_org, tokens["id_token"], params["nonce"])
    digest = hashlib.sha256(tokens["access_token"].encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")
    assert claims["at_hash"] == expected


def test_access_token_is_okta_shaped_jwt(okta_org, browser):
    _, tokens = sign_in_and_exchange(browser)

    jwks = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()
    claims = jwt.decode(tokens["access_token"], KeySet.import_key_set(jwks)).claims
    assert claims["iss"] == okta_org.issuer
    assert claims["aud"] == "api://default"
    assert claims["cid"] == PORTAL_CLIENT_ID
    assert claims["uid"] == user_of(okta_org, ACTIVE_LOGIN)["id"]
    assert claims["sub"] == ACTIVE_LOGIN
    assert claims["scp"] == ["openid", "profile", "email"]
    assert claims["jti"].startswith("AT.")
    assert claims["exp"] == claims["iat"] + 3600


def test_groups_scope_adds_group_names(okta_org, browser):
    params, tokens = sign_in_and_exchange(browser, scope="openid profile groups")

    _, claims = decode_id_token(okta_org, tokens["id_token"], params["nonce"])
    user = user_of(okta_org, ACTIVE_LOGIN)
    groups = okta_org.request("GET", f"/api/v1/users/{user['id']}/groups").json()
    assert claims["groups"] == sorted(group["profile"]["name"] for group in groups)
    assert "Everyone" in claims["groups"]
    assert "email" not in claims


def test_userinfo_returns_claims_by_scope(okta_org, browser):
    _, tokens = sign_in_and_exchange(browser, scope="openid profile email groups")

    response = get_userinfo(okta_org.issuer, tokens["access_token"])

    assert response.status_code == 200
    info = response.json()
    user = user_of(okta_org, ACTIVE_LOGIN)
    assert info["sub"] == user["id"]
    assert info["email"] == ACTIVE_LOGIN
    assert info["email_verified"] is True
    assert info["given_name"] == user["profile"]["firstName"]
    assert info["family_name"] == user["profile"]["lastName"]
    assert info["preferred_username"] == ACTIVE_LOGIN
    assert isinstance(info["updated_at"], int)
    assert info["locale"]
    assert info["zoneinfo"]
    assert "Everyone" in info["groups"]


def test_userinfo_without_email_scope_omits_email(okta_org, browser):
    _, tokens = sign_in_and_exchange(browser, scope="openid profile")

    info = get_userinfo(okta_org.issuer, tokens["access_token"]).json()

    assert "email" not in info
    assert "groups" not in info
    assert info["preferred_username"] == ACTIVE_LOGIN


def test_offline_access_issues_working_refresh_token(okta_org, browser):
    params, tokens = sign_in_and_exchange(browser, scope="openid profile offline_access")
    assert tokens["refresh_token"]

    response = requests.post(
        f"{okta_org.issuer}/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET),
        timeout=30,
    )

    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] == tokens["refresh_token"]
    assert refreshed["scope"] == "openid profile offline_access"
    jwks = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()
    claims = jwt.decode(refreshed["id_token"], KeySet.import_key_set(jwks)).claims
    assert claims["sub"] == user_of(okta_org, ACTIVE_LOGIN)["id"]
    assert "nonce" not in claims


def test_second_authorize_skips_sign_in_page(okta_org, browser):
    sign_in_and_exchange(browser)
    params, verifier = browser.authorize_url_params()

    result = browser.authorize(params)

    assert result.redirect_uri is not None, "expected a redirect, got the sign-in page"
    assert browser.exchange_code(result.params["code"], verifier).status_code == 200


def test_prompt_login_forces_sign_in(okta_org, browser):
    sign_in_and_exchange(browser)
    params, _ = browser.authorize_url_params(prompt="login")

    result = browser.authorize(params)

    assert result.redirect_uri is None
    assert result.response.status_code == 200
    assert 'name="password"' in result.response.text


def test_prompt_none_with_session_returns_code(okta_org, browser):
    sign_in_and_exchange(browser)
    params, _ = browser.authorize_url_params(prompt="none")

    result = browser.authorize(params)

    assert "code" in result.params
    assert result.params["state"] == params["state"]


def test_max_age_forces_fresh_sign_in(okta_org, browser):
    sign_in_and_exchange(browser)
    okta_org.set_clock_offset(120)
    params, _ = browser.authorize_url_params(max_age="60")

    page = browser.authorize(params)
    silent = browser.authorize(browser.authorize_url_params(max_age="60", prompt="none")[0])
    fresh_enough = browser.authorize(browser.authorize_url_params(max_age="600")[0])

    assert page.redirect_uri is None
    assert 'name="password"' in page.response.text
    assert silent.params["error"] == "login_required"
    assert "code" in fresh_enough.params


def test_login_hint_prefills_username(okta_org, browser):
    params, _ = browser.authorize_url_params(login_hint=ACTIVE_LOGIN)

    page = browser.authorize(params)

    assert f'name="username" value="{ACTIVE_LOGIN}"' in page.response.text


def test_more_than_100_groups_fails_requests(okta_org, browser):
    _, earlier_tokens = sign_in_and_exchange(browser, scope="openid profile groups")
    user = user_of(okta_org, ACTIVE_LOGIN)
    okta_org.set_rate_limits(enabled=False)
    for number in range(101):
        created = okta_org.request(
            "POST", "/api/v1/groups", body={"profile": {"name": f"Many groups {number:03d}"}}
        )
        assert created.status == 200, created.body
        added = okta_org.request("PUT", f"/api/v1/groups/{created.json()['id']}/users/{user['id']}")
        assert added.status == 204, added.body
    params, verifier = browser.authorize_url_params(scope="openid groups")
    code = browser.sign_in(params, ACTIVE_LOGIN).params["code"]

    token_response = browser.exchange_code(code, verifier)
    userinfo_response = get_userinfo(okta_org.issuer, earlier_tokens["access_token"])

    assert token_response.status_code == 400
    assert token_response.json()["error"] == "invalid_request"
    assert "more than the limit of 100" in token_response.json()["error_description"]
    assert userinfo_response.status_code == 400
    assert userinfo_response.json()["error"] == "invalid_request"


def test_sign_in_page_keeps_request_parameters(okta_org, browser):
    params, _ = browser.authorize_url_params()

    page = browser.authorize(params)

    assert page.response.status_code == 200
    assert page.response.headers["Content-Type"].startswith("text/html")
    for name in ("client_id", "redirect_uri", "state", "nonce", "code_challenge"):
        assert f'name="{name}" value="{params[name]}"' in page.response.text
    assert '<label for="username">' in page.response.text
    assert '<label for="password">' in page.response.text


def test_wrong_password_shows_failure(okta_org, browser):
    params, _ = browser.authorize_url_params()

    result = browser.sign_in(params, ACTIVE_LOGIN, password="wrong-password")

    assert result.redirect_uri is None
    assert result.response.status_code == 401
    assert "username or password is incorrect" in result.response.text
    assert f'name="state" value="{params["state"]}"' in result.response.text


@pytest.mark.parametrize(
    ("status", "message"),
    [("SUSPENDED", "the account is suspended"), ("DEPROVISIONED", "the account is deactivated")],
)
def test_inactive_user_cannot_sign_in(okta_org, browser, status, message):
    login = seed_login_with_status(okta_org, status)
    params, _ = browser.authorize_url_params()

    result = browser.sign_in(params, login)

    assert result.redirect_uri is None
    assert result.response.status_code == 401
    assert message in result.response.text


def test_suspended_user_loses_emulator_session(okta_org, browser):
    sign_in_and_exchange(browser)
    user = user_of(okta_org, ACTIVE_LOGIN)
    suspend = okta_org.request("POST", f"/api/v1/users/{user['id']}/lifecycle/suspend")
    assert suspend.status == 200, suspend.body
    params, _ = browser.authorize_url_params(prompt="none")

    result = browser.authorize(params)

    assert result.params["error"] == "login_required"


def seed_login_with_status(okta_org, status):
    query = urlencode({"filter": f'status eq "{status}"', "limit": 1})
    response = okta_org.request("GET", f"/api/v1/users?{query}")
    assert response.status == 200, response.body
    users = response.json()
    assert users, f"the seed org has no {status} user"
    return users[0]["profile"]["login"]


def test_sign_in_writes_system_log_events(okta_org, browser):
    sign_in_and_exchange(browser)
    browser_with_typo = SignInBrowser(okta_org.issuer)
    params, _ = browser_with_typo.authorize_url_params()
    browser_with_typo.sign_in(params, ACTIVE_LOGIN, password="wrong-password")

    events = okta_org.request("GET", "/api/v1/logs?since=2000-01-01T00:00:00.000Z").json()

    outcomes = [
        (event["eventType"], event["outcome"]["result"], event["actor"]["alternateId"])
        for event in events
        if event["eventType"].startswith("user.session")
        or event["eventType"].startswith("user.auth")
    ]
    assert ("user.session.start", "SUCCESS", ACTIVE_LOGIN) in outcomes
    assert ("user.authentication.sso", "SUCCESS", ACTIVE_LOGIN) in outcomes
    assert ("user.session.start", "FAILURE", ACTIVE_LOGIN) in outcomes
    sso = next(event for event in events if event["eventType"] == "user.authentication.sso")
    assert sso["target"][0]["id"] == PORTAL_CLIENT_ID
    assert sso["target"][0]["type"] == "AppInstance"


def test_logout_ends_session_and_redirects_with_state(okta_org, browser):
    _, tokens = sign_in_and_exchange(browser)

    response = browser.logout(
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri="http://127.0.0.1:8000/",
        state="after-logout",
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:8000/?state=after-logout"
    params, _ = browser.authorize_url_params(prompt="none")
    assert browser.authorize(params).params["error"] == "login_required"
    events = okta_org.request("GET", "/api/v1/logs?since=2000-01-01T00:00:00.000Z").json()
    assert "user.session.end" in [event["eventType"] for event in events]


def test_logout_accepts_expired_id_token_hint(okta_org, browser):
    _, tokens = sign_in_and_exchange(browser)
    okta_org.set_clock_offset(2 * 3600)

    response = browser.logout(
        id_token_hint=tokens["id_token"], post_logout_redirect_uri="http://127.0.0.1:8000/"
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.1:8000/"
