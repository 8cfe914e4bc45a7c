"""`serve --public-url`: the issuer, discovery and Management API links name the public URL."""

import pytest

from okta_emulator.cli import build_parser
from okta_emulator.testing import start_emulator

from .demo_org import ACTIVE_ID
from .test_management_api import links

# Nothing listens here: the tests only check the URLs the emulator writes into its responses.
PUBLIC_URL = "https://127.0.0.1:8443"


@pytest.fixture(scope="module")
def public_emulator(tmp_path_factory):
    emulator = start_emulator(
        tmp_path_factory.mktemp("okta_emulator_public"),
        extra_args=["--public-url", PUBLIC_URL + "/"],
    )
    yield emulator
    emulator.stop()


def test_discovery_names_public_url(public_emulator):
    response = public_emulator.request(
        "GET", "/oauth2/default/.well-known/openid-configuration", token=False
    )
    assert response.status == 200
    document = response.json()
    issuer = f"{PUBLIC_URL}/oauth2/default"
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{issuer}/v1/authorize"
    assert document["token_endpoint"] == f"{issuer}/v1/token"
    assert document["jwks_uri"] == f"{issuer}/v1/keys"
    assert document["userinfo_endpoint"] == f"{issuer}/v1/userinfo"


def test_oauth_metadata_names_public_url(public_emulator):
    response = public_emulator.request(
        "GET", "/oauth2/default/.well-known/oauth-authorization-server", token=False
    )
    assert response.status == 200
    assert response.json()["issuer"] == f"{PUBLIC_URL}/oauth2/default"


def test_link_header_names_public_url(public_emulator):
    response = public_emulator.request("GET", "/api/v1/users?limit=2")
    assert response.status == 200
    page_links = links(response)
    assert page_links["self"].startswith(f"{PUBLIC_URL}/api/v1/users?")
    assert page_links["next"].startswith(f"{PUBLIC_URL}/api/v1/users?")


def test_user_links_name_public_url(public_emulator):
    response = public_emulator.request("GET", f"/api/v1/users/{ACTIVE_ID}")
    assert response.status == 200
    assert response.json()["_links"]["self"]["href"] == f"{PUBLIC_URL}/api/v1/users/{ACTIVE_ID}"


def test_default_names_request_url(okta_emulator):
    response = okta_emulator.request(
        "GET", "/oauth2/default/.well-known/openid-configuration", token=False
    )
    assert response.json()["issuer"] == f"http://127.0.0.1:{okta_emulator.port}/oauth2/default"


def parse_public_url(value):
    return build_parser().parse_args(["serve", "--public-url", value]).public_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://127.0.0.1:8201", "https://127.0.0.1:8201"),
        ("https://127.0.0.1:8201/", "https://127.0.0.1:8201"),
        ("http://localhost", "http://localhost"),
    ],
)
def test_public_url_option_accepts(value, expected):
    assert parse_public_url(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("127.0.0.1:8201", "expected an http:// or https:// URL"),
        ("ftp://127.0.0.1", "expected an http:// or https:// URL"),
        ("https://", "expected an http:// or https:// URL"),
        ("https://127.0.0.1:8201/okta", "must not have a path, query or fragment"),
        ("https://127.0.0.1:8201?x=1", "must not have a path, query or fragment"),
        ("https://127.0.0.1:99999", "has an invalid port"),
        ("https://127.0.0.1:0", "has an invalid port"),
        ("https://127.0.0.1:x", "has an invalid port"),
    ],
)
def test_public_url_option_rejects(value, message, capsys):
    with pytest.raises(SystemExit):
        parse_public_url(value)
    assert message in capsys.readouterr().err
