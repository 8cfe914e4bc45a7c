"""The signing key's stability and the ID-token test hooks under /_emulator/oidc/."""

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from okta_emulator.oidc.keys import load_or_create_signing_key
from okta_emulator.oidc.testing import PORTAL_CLIENT_ID, SignInBrowser
from okta_emulator.store import Store

OVERRIDES = "/_emulator/oidc/id-token-overrides"


def test_signing_key_survives_reopen_and_reset(tmp_path):
    from okta_emulator import seed

    store = Store(tmp_path / "state.sqlite3")
    seed.seed_store(store, seed.load_file(seed.DEMO_ORG))
    first = load_or_create_signing_key(store)

    store.reset()
    after_reset = load_or_create_signing_key(store)
    reopened = load_or_create_signing_key(Store(tmp_path / "state.sqlite3"))

    assert after_reset.kid == first.kid
    assert reopened.kid == first.kid
    assert reopened.as_dict(private=True) == first.as_dict(private=True)


def test_jwks_is_stable_across_reset(okta_org):
    before = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()

    okta_org.reset()

    after = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json()
    assert after == before
    assert before["keys"][0]["kty"] == "RSA"
    assert before["keys"][0]["alg"] == "RS256"
    assert before["keys"][0]["use"] == "sig"
    assert before["keys"][0]["kid"]
    assert "d" not in before["keys"][0]


def issue_id_token(okta_org):
    browser = SignInBrowser(okta_org.issuer)
    params, verifier = browser.authorize_url_params()
    code = browser.sign_in(params, "avery.stone@example.com").params["code"]
    response = browser.exchange_code(code, verifier)
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def published_keys(okta_org):
    return KeySet.import_key_set(requests.get(f"{okta_org.issuer}/v1/keys", timeout=30).json())


def add_override(okta_org, **body):
    response = okta_org.request("POST", OVERRIDES, body={"clientId": PORTAL_CLIENT_ID, **body})
    assert response.status == 201, response.body
    return response.json()


def test_override_changes_claims_of_next_tokens_only(okta_org):
    add_override(
        okta_org,
        count=2,
        claims={"iss": "http://127.0.0.1:9/oauth2/default", "aud": "someone-else"},
        removeClaims=["nonce"],
    )

    tokens = [issue_id_token(okta_org) for _ in range(3)]

    claims = [jwt.decode(token, published_keys(okta_org)).claims for token in tokens]
    for overridden in claims[:2]:
        assert overridden["iss"] == "http://127.0.0.1:9/oauth2/default"
        assert overridden["aud"] == "someone-else"
        assert "nonce" not in overridden
    assert claims[2]["iss"] == okta_org.issuer
    assert claims[2]["aud"] == PORTAL_CLIENT_ID
    assert "nonce" in claims[2]


def test_override_can_expire_token(okta_org):
    add_override(okta_org, claims={"exp": 1000000000, "iat": 999996400})

    claims = jwt.decode(issue_id_token(okta_org), published_keys(okta_org)).claims

    registry = jwt.JWTClaimsRegistry(exp={"essential": True})
    with pytest.raises(Exception, match="expired"):
        registry.validate(claims)


def test_override_bad_signature_fails_verification(okta_org):
    add_override(okta_org, badSignature=True)

    token = issue_id_token(okta_org)

    with pytest.raises(BadSignatureError):
        jwt.decode(token, published_keys(okta_org))
    assert jwt.decode(issue_id_token(okta_org), published_keys(okta_org)).claims


def test_overrides_list_and_clear(okta_org):
    add_override(okta_org, count=3, claims={"nonce": "replayed"})

    listed = okta_org.request("GET", OVERRIDES).json()
    cleared = okta_org.request("DELETE", OVERRIDES)

    assert listed[0]["remaining"] == 3
    assert listed[0]["claims"] == {"nonce": "replayed"}
    assert cleared.status == 204
    assert okta_org.request("GET", OVERRIDES).json() == []


def test_reset_clears_overrides(okta_org):
    add_override(okta_org, claims={"nonce": "replayed"})

    okta_org.reset()

    assert okta_org.request("GET", OVERRIDES).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "clientId"),
        ({"clientId": PORTAL_CLIENT_ID, "count": 0}, "count"),
        ({"clientId": PORTAL_CLIENT_ID, "count": "2"}, "count"),
        ({"clientId": PORTAL_CLIENT_ID, "claims": ["iss"]}, "claims"),
        ({"clientId": PORTAL_CLIENT_ID, "removeClaims": "nonce"}, "removeClaims"),
        ({"clientId": PORTAL_CLIENT_ID, "badSignature": "yes"}, "badSignature"),
    ],
)
def test_invalid_override_is_rejected(okta_org, body, field):
    response = okta_org.request("POST", OVERRIDES, body=body)

    assert response.status == 400
    assert response.json()["errorCode"] == "E0000001"
    assert field in response.json()["errorCauses"][0]["errorSummary"]


def test_override_for_unknown_client_is_404(okta_org):
    response = okta_org.request("POST", OVERRIDES, body={"clientId": "0oanosuchclient00001"})

    assert response.status == 404
    assert response.json()["errorCode"] == "E0000007"


def redirect_uris_path(client_id=PORTAL_CLIENT_ID):
    return f"/_emulator/oidc/clients/{client_id}/redirect-uris"


def test_added_redirect_uri_works_until_reset(okta_org):
    callback = "http://127.0.0.1:18999/oidc/callback/"
    response = okta_org.request(
        "POST",
        redirect_uris_path(),
        body={"redirectUris": [callback], "postLogoutRedirectUris": ["http://127.0.0.1:18999/"]},
    )
    browser = SignInBrowser(okta_org.issuer, stop_at="http://127.0.0.1:18999/")
    params, _ = browser.authorize_url_params(redirect_uri=callback)

    signed_in = browser.sign_in(params, "avery.stone@example.com")
    okta_org.reset()
    after_reset = browser.authorize(params)

    assert response.status == 200, response.body
    assert callback in response.json()["redirectUris"]
    assert "http://127.0.0.1:8000/oidc/callback/" in response.json()["redirectUris"]
    assert signed_in.redirect_uri.startswith(callback)
    assert "code" in signed_in.params
    assert after_reset.response.status_code == 400
    assert after_reset.redirect_uri is None


@pytest.mark.parametrize(
    "body",
    [{"redirectUris": "http://127.0.0.1:1/"}, {"postLogoutRedirectUris": ["javascript:alert(1)"]}],
)
def test_invalid_redirect_uris_are_rejected(okta_org, body):
    response = okta_org.request("POST", redirect_uris_path(), body=body)

    assert response.status == 400
    assert response.json()["errorCode"] == "E0000001"


def test_redirect_uris_of_unknown_client_is_404(okta_org):
    response = okta_org.request(
        "POST", redirect_uris_path("0oanosuchclient00001"), body={"redirectUris": []}
    )

    assert response.status == 404
