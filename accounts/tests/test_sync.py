"""The Okta user sync against the emulator's Management API."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import OktaStatus, UserSession
from accounts.sync import sync_users
from accounts.tasks import sync_users_task
from audit.models import AuditEvent
from portal import okta_api

User = get_user_model()

SEED_USER_COUNT = 64
EMPLOYEE_ID = "00uaRe0ga6LZj6uv6hsG"
MANAGER_ID = "00uc1ptlp0QgNsZFvOBn"


def okta_call(emulator, method, path, body=None):
    response = emulator.request(method, path, body)
    assert response.status < 300, response
    return response.json()


def create_okta_user(emulator, login, **profile):
    return okta_call(
        emulator,
        "POST",
        "/api/v1/users?activate=true",
        {
            "profile": {
                "firstName": "Test",
                "lastName": "User",
                "email": login,
                "login": login,
                **profile,
            }
        },
    )


@pytest.mark.django_db
def test_sync_loads_whole_directory(okta_settings):
    result = sync_users()

    assert result.created == SEED_USER_COUNT
    assert User.objects.count() == SEED_USER_COUNT
    employee = User.objects.get(okta_id=EMPLOYEE_ID)
    assert employee.manager.okta_id == MANAGER_ID
    assert employee.department == "Engineering"
    assert employee.title == "Software Engineer"
    assert employee.last_synced_at is not None
    assert User.objects.get(login="noah.fischer@example.com").okta_status == OktaStatus.SUSPENDED
    assert (
        User.objects.get(login="amara.okafor@example.com").okta_status == OktaStatus.DEPROVISIONED
    )
    assert User.objects.get(login="victor.petrov@example.com").okta_status == OktaStatus.STAGED
    assert not User.objects.get(login="victor.petrov@example.com").is_active
    assert set(User.objects.filter(is_admin=True).values_list("login", flat=True)) == {
        "ngozi.adeyemi@example.com",
        "patrick.doyle@example.com",
        "mei.lin@example.com",
    }


@pytest.mark.django_db
def test_second_sync_changes_nothing(okta_settings):
    sync_users()
    events = AuditEvent.objects.count()

    result = sync_users()

    assert result.created == 0
    assert result.updated == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_sync_reads_every_page(okta_settings, monkeypatch):
    monkeypatch.setattr(okta_api, "USER_PAGE_SIZE", 7)

    result = sync_users()

    assert result.created == SEED_USER_COUNT


@pytest.mark.django_db
def test_sync_waits_out_rate_limit(okta_settings, monkeypatch):
    # 13 pages against 6 calls per 2 s window: the listing must wait for the reset.
    monkeypatch.setattr(okta_api, "USER_PAGE_SIZE", 5)
    okta_settings.set_rate_limits(window_seconds=2, limits={"users_list_create": 6}, token_share=1)

    result = sync_users()

    assert result.created == SEED_USER_COUNT


@pytest.mark.django_db
def test_manager_missing_unknown_or_inactive(okta_settings):
    no_manager = create_okta_user(okta_settings, "solo@example.com")
    unknown = create_okta_user(okta_settings, "orphan@example.com", managerId="00uNoSuchUser000000")
    inactive = create_okta_user(okta_settings, "team@example.com", managerId="00u7LqEty2k8Wwq4Jj1P")

    result = sync_users()

    assert User.objects.get(okta_id=no_manager["id"]).manager is None
    orphan = User.objects.get(okta_id=unknown["id"])
    assert orphan.manager is None
    assert orphan.manager_okta_id == "00uNoSuchUser000000"
    team = User.objects.get(okta_id=inactive["id"])
    assert team.manager.login == "noah.fischer@example.com"
    assert not team.manager.is_active
    assert result.unknown_managers == 1


@pytest.mark.django_db
def test_user_deleted_in_okta_deprovisioned(okta_settings):
    sync_users()
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/deactivate")
    okta_call(okta_settings, "DELETE", f"/api/v1/users/{EMPLOYEE_ID}")
    local_admin = User.objects.create_superuser("local-admin", password="pw", login="root")

    result = sync_users()

    user = User.objects.get(okta_id=EMPLOYEE_ID)
    assert user.okta_status == OktaStatus.DEPROVISIONED
    assert not user.is_active
    assert result.missing_from_okta == [EMPLOYEE_ID]
    local_admin.refresh_from_db()
    assert local_admin.is_active


@pytest.mark.django_db
def test_reactivated_user_becomes_active(okta_settings):
    sync_users()
    okta_call(okta_settings, "POST", "/api/v1/users/00u7LqEty2k8Wwq4Jj1P/lifecycle/unsuspend")

    sync_users()

    noah = User.objects.get(okta_id="00u7LqEty2k8Wwq4Jj1P")
    assert noah.okta_status == OktaStatus.ACTIVE
    assert noah.is_active


@pytest.mark.django_db
def test_sync_failure_changes_nothing(okta_settings):
    okta_settings.set_fault("/api/v1/groups", status=500)

    with pytest.raises(okta_api.OktaError):
        sync_users()

    assert User.objects.count() == 0


@pytest.mark.django_db
def test_sync_command_prints_counts(okta_settings, capsys):
    call_command("sync_okta_users")

    assert f"created {SEED_USER_COUNT}" in capsys.readouterr().out


@pytest.mark.django_db
def test_sync_command_reports_okta_failure(okta_settings):
    okta_settings.set_fault("/api/v1/users", status=401)

    with pytest.raises(Exception, match="Reading users from Okta failed"):
        call_command("sync_okta_users")


@pytest.mark.django_db
def test_sync_task_runs_and_ends_sessions(okta_settings):
    user = User.objects.create_user(EMPLOYEE_ID, login="fatima.haddad@example.com")
    UserSession.objects.create(session_key="k" * 32, user=user)
    okta_call(okta_settings, "POST", f"/api/v1/users/{EMPLOYEE_ID}/lifecycle/suspend")

    counts = sync_users_task.apply().get()

    assert counts["sessions_ended"] == 1
    assert counts["deactivated"] == 1
    assert not UserSession.objects.exists()


def test_beat_schedules_user_sync(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sync-okta-users"]

    assert entry["task"] == "accounts.sync_users"
    assert entry["schedule"] == float(settings.OKTA_USER_SYNC_INTERVAL_SECONDS)
