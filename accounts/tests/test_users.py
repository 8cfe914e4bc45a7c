"""Users are keyed on the Okta user id: email changes, email reuse, races, roles and status."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection

from accounts import services
from accounts.models import OktaStatus, UserSession
from accounts.sync import sync_users
from audit.models import AuditEvent
from okta_emulator.oidc.testing import PORTAL_CLIENT_ID
from tests_support import oidc

User = get_user_model()

EMPLOYEE_ID = "00uaRe0ga6LZj6uv6hsG"
ADMIN_GROUP_ID = "00g9oLrIkhri2Bs34JfN"


def okta_call(emulator, method, path, body=None):
    response = emulator.request(method, path, body)
    assert response.status < 300, response
    return response.json()


@pytest.mark.django_db
def test_email_case_change_keeps_account(sign_in, okta_settings, client):
    sign_in(oidc.EMPLOYEE)
    first = User.objects.get(okta_id=EMPLOYEE_ID)
    okta_call(
        okta_settings,
        "POST",
        "/_emulator/oidc/id-token-overrides",
        {"clientId": PORTAL_CLIENT_ID, "claims": {"email": "Fatima.Haddad@EXAMPLE.com"}},
    )

    response = sign_in(oidc.EMPLOYEE)

    assert response.status_code == 302
    assert User.objects.count() == 1
    user = User.objects.get(okta_id=EMPLOYEE_ID)
    assert user.pk == first.pk
    assert user.email == "Fatima.Haddad@EXAMPLE.com"


@pytest.mark.django_db
def test_email_value_change_keeps_account(sign_in, okta_settings):
    sign_in(oidc.EMPLOYEE)
    okta_call(
        okta_settings,
        "POST",
        "/_emulator/oidc/id-token-overrides",
        {"clientId": PORTAL_CLIENT_ID, "claims": {"email": "fatima.h@example.org"}},
    )

    sign_in(oidc.EMPLOYEE)

    user = User.objects.get(okta_id=EMPLOYEE_ID)
    assert user.email == "fatima.h@example.org"
    assert AuditEvent.objects.filter(action="user.synced", target_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_reused_email_gets_fresh_account(sign_in, okta_settings):
    sign_in(oidc.EMPLOYEE)
    former = User.objects.get(okta_id=EMPLOYEE_ID)
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/deactivate")
    okta_call(okta_settings, "DELETE", f"/api/v1/users/{EMPLOYEE_ID}")
    newcomer = okta_call(
        okta_settings,
        "POST",
        "/api/v1/users?activate=true",
        {
            "profile": {
                "firstName": "Fatima",
                "lastName": "Haddad-Ross",
                "email": oidc.EMPLOYEE,
                "login": oidc.EMPLOYEE,
            },
            "credentials": {"password": {"value": oidc.DEMO_PASSWORD}},
        },
    )

    response = sign_in(oidc.EMPLOYEE)

    assert response.status_code == 302
    fresh = User.objects.get(okta_id=newcomer["id"])
    assert fresh.pk != former.pk
    assert fresh.last_name == "Haddad-Ross"
    assert User.objects.filter(email=oidc.EMPLOYEE).count() == 2


@pytest.mark.django_db
def test_two_tabs_sign_in_at_once(okta_settings, client):
    browser = oidc.new_browser(okta_settings.issuer)
    first_tab = oidc.start_sign_in(client, browser, oidc.EMPLOYEE, next_url="/accounts/profile/")
    second_tab = oidc.start_sign_in(client, browser, oidc.EMPLOYEE, next_url="/?tab=2")

    first = oidc.finish_sign_in(client, first_tab)
    second = oidc.finish_sign_in(client, second_tab)

    assert first.status_code == 302
    assert first["Location"] == "/accounts/profile/"
    assert second.status_code == 302
    assert second["Location"] == "/?tab=2"
    assert client.get("/", HTTP_HOST=oidc.PORTAL_HOST).status_code == 200
    assert User.objects.filter(okta_id=EMPLOYEE_ID).count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_sign_ins_create_one_user(okta_settings):
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite serialises every write transaction (BEGIN IMMEDIATE), so the race needs "
            "PostgreSQL: run with DATABASE_URL=postgres://..."
        )
    claims = {
        "sub": EMPLOYEE_ID,
        "preferred_username": oidc.EMPLOYEE,
        "email": oidc.EMPLOYEE,
        "groups": [],
    }
    barrier = threading.Barrier(4)
    errors = []

    def first_sign_in():
        try:
            barrier.wait()
            services.update_user_from_claims(claims)
        except Exception as error:  # reported by the assert below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=first_sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert User.objects.filter(okta_id=EMPLOYEE_ID).count() == 1


@pytest.mark.django_db
def test_admin_role_follows_groups_claim(sign_in, okta_settings, client):
    assert sign_in(oidc.ADMIN).status_code == 302
    admin = User.objects.get(login=oidc.ADMIN)
    assert admin.is_admin
    assert admin.is_staff
    assert admin.is_superuser
    assert client.get("/admin/", HTTP_HOST=oidc.PORTAL_HOST).status_code == 200

    okta_call(okta_settings, "DELETE", f"/api/v1/groups/{ADMIN_GROUP_ID}/users/{admin.okta_id}")
    assert sign_in(oidc.ADMIN).status_code == 302

    admin.refresh_from_db()
    assert not admin.is_admin
    assert not admin.is_staff
    assert not admin.is_superuser
    events = AuditEvent.objects.filter(action="user.role_changed").order_by("sequence")
    assert [event.payload["granted"] for event in events] == [False]


@pytest.mark.django_db
def test_admin_role_granted_by_group_membership(sign_in, okta_settings):
    sign_in(oidc.EMPLOYEE)
    okta_call(okta_settings, "PUT", f"/api/v1/groups/{ADMIN_GROUP_ID}/users/{EMPLOYEE_ID}")

    sign_in(oidc.EMPLOYEE)

    user = User.objects.get(okta_id=EMPLOYEE_ID)
    assert user.is_admin
    assert AuditEvent.objects.get(action="user.role_changed").payload["granted"] is True


@pytest.mark.django_db
def test_admin_role_follows_group_in_sync(sign_in, okta_settings):
    sign_in(oidc.EMPLOYEE)
    okta_call(okta_settings, "PUT", f"/api/v1/groups/{ADMIN_GROUP_ID}/users/{EMPLOYEE_ID}")
    sync_users()
    assert User.objects.get(okta_id=EMPLOYEE_ID).is_admin

    okta_call(okta_settings, "DELETE", f"/api/v1/groups/{ADMIN_GROUP_ID}/users/{EMPLOYEE_ID}")
    sync_users()

    assert not User.objects.get(okta_id=EMPLOYEE_ID).is_admin


@pytest.mark.django_db
@pytest.mark.parametrize("login", [oidc.SUSPENDED, oidc.DEPROVISIONED])
def test_inactive_okta_user_cannot_sign_in(okta_settings, client, login):
    browser = oidc.new_browser(okta_settings.issuer)
    response = client.get("/oidc/authenticate/", HTTP_HOST=oidc.PORTAL_HOST)
    page = browser.open(response["Location"])

    result = browser.submit_sign_in(page, login, oidc.DEMO_PASSWORD)

    assert result.redirect_uri is None
    assert not User.objects.filter(login=login).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("operation", ["suspend", "deactivate"])
def test_session_ends_at_next_sync(sign_in, okta_settings, client, operation):
    assert sign_in(oidc.EMPLOYEE).status_code == 302
    assert client.get("/", HTTP_HOST=oidc.PORTAL_HOST).status_code == 200
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/{operation}")

    result = sync_users()

    user = User.objects.get(okta_id=EMPLOYEE_ID)
    expected = OktaStatus.SUSPENDED if operation == "suspend" else OktaStatus.DEPROVISIONED
    assert user.okta_status == expected
    assert not user.is_active
    assert result.sessions_ended == 1
    assert not UserSession.objects.filter(user=user).exists()
    response = client.get("/", HTTP_HOST=oidc.PORTAL_HOST)
    assert response.status_code == 302
    assert response["Location"].startswith("/oidc/authenticate/")
    event = AuditEvent.objects.get(action="user.status_changed", target_id=str(user.pk))
    assert event.payload["to"] == expected


@pytest.mark.django_db
def test_stale_inactive_status_checked_with_okta(sign_in, okta_settings, client):
    sign_in(oidc.EMPLOYEE)
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/suspend")
    sync_users()
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/unsuspend")

    response = sign_in(oidc.EMPLOYEE)

    assert response.status_code == 302
    user = User.objects.get(okta_id=EMPLOYEE_ID)
    assert user.okta_status == OktaStatus.ACTIVE
    assert user.is_active


@pytest.mark.django_db
def test_suspended_after_code_issued_refused(okta_settings, client):
    start = oidc.start_sign_in(client, oidc.new_browser(okta_settings.issuer), oidc.EMPLOYEE)
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/suspend")

    response = oidc.finish_sign_in(client, start)

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_unconfirmed_inactive_status_refused(sign_in, okta_settings, client):
    sign_in(oidc.EMPLOYEE)
    User.objects.filter(okta_id=EMPLOYEE_ID).update(
        okta_status=OktaStatus.SUSPENDED, is_active=False
    )
    okta_settings.set_fault(f"/api/v1/users/{EMPLOYEE_ID}", status=500)

    response = sign_in(oidc.EMPLOYEE)

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.filter(action="auth.sign_in_failed").latest("sequence")
    assert event.payload["reason"] == "status_check_failed"
    assert event.subject_user_id == User.objects.get(okta_id=EMPLOYEE_ID).pk
