"""Sign-in through the Okta emulator: the happy path, tabs, users and the session."""

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
