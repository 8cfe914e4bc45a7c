"""The OIDC endpoints' responses against Okta's published OAuth 2.0 / OIDC OpenAPI spec
(oauth-minimal.yaml): status codes documented for the operation, bodies valid for its schema."""

import os
from pathlib import Path

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from okta_emulator.oidc.testing import (
    PORTAL_CLIENT_ID,
    PORTAL_CLIENT_SECRET,
    PORTAL_REDIRECT_URI,
    SignInBrowser,
    get_userinfo,
)

# Okta's spec sits next to the repository unless OKTA_OAUTH_SPEC names the file.
SPEC_PATH = Path(
    os.environ.get(
        "OKTA_OAUTH_SPEC",
        Path(__file__).resolve().parents[3] / "shared" / "okta-openapi" / "oauth-minimal.yaml",
    )
)
ISSUER_PATH = "/oauth2/{authorizationServerId}"


@pytest.fixture(scope="session")
def oauth_spec():
    if not SPEC_PATH.exists():
        pytest.skip(f"Okta's OAuth OpenAPI spec not found at {SPEC_PATH}; set OKTA_OAUTH_SPEC")
    return yaml.safe_load(SPEC_PATH.read_text())


def assert_matches_spec(spec, path, method, response):
    """Check the status is documented for the operation and the JSON body fits its schema."""
    operation = spec["paths"][path][method]
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {path} returned undocumented {status}"

    content = documented[status].get("content") or {}
    media = content.get("application/json")
    if media is None:
        assert not response.content, f"{status} of {path} must have no body: {response.text}"
        return
    schema = dict(media["schema"], components=spec["components"])
    errors = sorted(OAS30Validator(schema).iter_errors(response.json()), key=str)
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def declared_properties(spec, schema_name):
    """Return the property names of a component schema, following allOf."""
    names = set()
    pending = [spec["components"]["schemas"][schema_name]]
    while pending:
        schema = pending.pop()
        if "$ref" in schema:
            pending.append(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
        names.update((schema.get("properties") or {}).keys())
        pending.extend(schema.get("allOf") or [])
    return names


@pytest.fixture
def tokens(okta_org):
    browser = SignInBrowser(okta_org.issuer)
    params, verifier = browser.authorize_url_params(scope="openid profile email offline_access")
    code = browser.sign_in(params, "avery.stone@example.com").params["code"]
    response = browser.exchange_code(code, verifier)
    assert response.status_code == 200, response.text
    return response


def test_openid_configuration_matches_spec(okta_org, oauth_spec):
    response = requests.get(f"{okta_org.issuer}/.well-known/openid-configuration", timeout=30)

    assert_matches_spec(
        oauth_spec, f"{ISSUER_PATH}/.well-known/openid-configuration", "get", response
    )
    undeclared = set(response.json()) - declared_properties(oauth_spec, "OidcMetadata")
    assert not undeclared


def test_oauth_metadata_matches_spec(okta_org, oauth_spec):
    response = requests.get(f"{okta_org.issuer}/.well-known/oauth-authorization-server", timeout=30)

    assert_matches_spec(
        oauth_spec, f"{ISSUER_PATH}/.well-known/oauth-authorization-server", "get", response
    )
    undeclared = set(response.json()) - declared_properties(oauth_spec, "OAuthMetadata")
    assert not undeclared


def test_keys_match_spec(okta_org, oauth_spec):
    response = requests.get(f"{okta_org.issuer}/v1/keys", timeout=30)

    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/keys", "get", response)


def test_token_success_matches_spec(okta_org, oauth_spec, tokens):
    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/token", "post", tokens)
    undeclared = set(tokens.json()) - declared_properties(oauth_spec, "TokenResponseCustomAs")
    assert not undeclared


@pytest.mark.parametrize(
    ("data", "auth"),
    [
        ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": PORTAL_REDIRECT_URI,
          "code_verifier": "v" * 43}, (PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET)),
        ({"grant_type": "authorization_code", "code": "nope"}, (PORTAL_CLIENT_ID, "wrong")),
        ({"grant_type": "authorization_code", "code": "nope"}, None),
    ],
    ids=["invalid-grant", "invalid-client", "no-client-credentials"],
)  # fmt: skip
def test_token_errors_match_spec(okta_org, oauth_spec, data, auth):
    response = requests.post(f"{okta_org.issuer}/v1/token", data=data, auth=auth, timeout=30)

    assert response.status_code in (400, 401)
    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/token", "post", response)


def test_userinfo_matches_spec(okta_org, oauth_spec, tokens):
    access_token = tokens.json()["access_token"]

    response = get_userinfo(okta_org.issuer, access_token)

    assert response.status_code == 200
    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/userinfo", "get", response)


def test_userinfo_error_matches_spec(okta_org, oauth_spec):
    response = requests.get(
        f"{okta_org.issuer}/v1/userinfo", headers={"Authorization": "Bearer x"}, timeout=30
    )

    assert response.status_code == 401
    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/userinfo", "get", response)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_revoke_matches_spec(okta_org, oauth_spec, tokens):
    auth = (PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET)
    url = f"{okta_org.issuer}/v1/revoke"

    revoked = requests.post(
        url, data={"token": tokens.json()["refresh_token"]}, auth=auth, timeout=30
    )
    missing_token = requests.post(url, data={}, auth=auth, timeout=30)
    bad_client = requests.post(url, data={"token": "x"}, auth=(PORTAL_CLIENT_ID, "no"), timeout=30)

    assert revoked.status_code == 200
    assert missing_token.status_code == 400
    assert bad_client.status_code == 401
    for response in (revoked, missing_token, bad_client):
        assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/revoke", "post", response)


def test_introspect_matches_spec(okta_org, oauth_spec, tokens):
    response = requests.post(
        f"{okta_org.issuer}/v1/introspect",
        data={"token": tokens.json()["access_token"]},
        auth=(PORTAL_CLIENT_ID, PORTAL_CLIENT_SECRET),
        timeout=30,
    )

    assert response.json()["active"] is True
    assert_matches_spec(oauth_spec, f"{ISSUER_PATH}/v1/introspect", "post", response)
