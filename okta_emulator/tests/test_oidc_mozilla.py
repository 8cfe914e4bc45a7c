"""mozilla-django-oidc, unmodified, completes an authorization code + PKCE login against the
emulator: its request view builds the authorize URL, the test fills in the sign-in form, and its
callback view exchanges the code, checks the ID token and creates the Django user."""

from importlib import import_module
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from okta_emulator.oidc.testing import (
    PORTAL_CLIENT_ID,
    PORTAL_CLIENT_SECRET,
    PORTAL_REDIRECT_URI,
    SignInBrowser,
)

LOGIN = "avery.stone@example.com"


@pytest.fixture
def oidc_settings(okta_org, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{okta_org.issuer}/v1/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{okta_org.issuer}/v1/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{okta_org.issuer}/v1/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{okta_org.issuer}/v1/keys"
    settings.OIDC_RP_CLIENT_ID = PORTAL_CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = PORTAL_CLIENT_SECRET
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_USE_PKCE = True
    settings.OIDC_RP_SCOPES = "openid profile email groups"
    settings.OIDC_STORE_ID_TOKEN = True
    # mozilla's own backend: creating a user from the claims is all this test needs.
    settings.AUTHENTICATION_BACKENDS = ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.LOGIN_REDIRECT_URL = "/after-login/"
    settings.LOGIN_REDIRECT_URL_FAILURE = "/login-failed/"
    return settings


def portal_request(path, params=None, session=None):
    """Return a request as the portal at http://127.0.0.1:8000 would receive it."""
    request = RequestFactory(HTTP_HOST="127.0.0.1:8000").get(path, params or {})
    if session is None:
        session = import_module(django_settings.SESSION_ENGINE).SessionStore()
    request.session = session
    request.user = AnonymousUser()
    return request


@pytest.mark.django_db
@pytest.mark.parametrize("use_basic_auth", [True, False], ids=["secret-basic", "secret-post"])
def test_mozilla_django_oidc_completes_login(okta_org, oidc_settings, use_basic_auth):
    oidc_settings.OIDC_TOKEN_USE_BASIC_AUTH = use_basic_auth
    start = portal_request("/oidc/authenticate/")

    redirect = OIDCAuthenticationRequestView.as_view()(start)

    assert redirect.status_code == 302
    authorize_url = redirect["Location"]
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["redirect_uri"] == [PORTAL_REDIRECT_URI]
    assert query["code_challenge_method"] == ["S256"]

    browser = SignInBrowser(okta_org.issuer)
    page = browser.open(authorize_url)
    result = browser.submit_sign_in(page, LOGIN, "Demo-Passw0rd!")
    assert result.redirect_uri.startswith(PORTAL_REDIRECT_URI)

    callback = portal_request("/oidc/callback/", result.params, session=start.session)
    response = OIDCAuthenticationCallbackView.as_view()(callback)

    assert response.status_code == 302
    assert response["Location"] == "/after-login/"
    user = get_user_model().objects.get(email=LOGIN)
    assert callback.session["_auth_user_id"] == str(user.pk)
    assert callback.session["oidc_id_token"]


@pytest.mark.django_db
def test_mozilla_django_oidc_rejects_bad_signature(okta_org, oidc_settings):
    override = okta_org.request(
        "POST",
        "/_emulator/oidc/id-token-overrides",
        body={"clientId": PORTAL_CLIENT_ID, "badSignature": True},
    )
    assert override.status == 201, override.body
    start = portal_request("/oidc/authenticate/")
    authorize_url = OIDCAuthenticationRequestView.as_view()(start)["Location"]
    browser = SignInBrowser(okta_org.issuer)
    result = browser.submit_sign_in(browser.open(authorize_url), LOGIN, "Demo-Passw0rd!")
    callback = portal_request("/oidc/callback/", result.params, session=start.session)

    with pytest.raises(SuspiciousOperation, match="JWS token verification failed"):
        OIDCAuthenticationCallbackView.as_view()(callback)

    assert not get_user_model().objects.filter(email=LOGIN).exists()
