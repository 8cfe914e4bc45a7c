import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

from accounts.models import OktaStatus

User = get_user_model()


def test_user_model_is_okta_keyed():
    assert User.USERNAME_FIELD == "okta_id"
    assert User._meta.get_field("okta_id").unique


def test_okta_status_lists_okta_lifecycle():
    assert list(OktaStatus.values) == [
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "RECOVERY",
        "LOCKED_OUT",
        "PASSWORD_EXPIRED",
        "SUSPENDED",
        "DEPROVISIONED",
    ]


@pytest.mark.django_db
def test_create_user_without_password_cannot_use_password():
    user = User.objects.create_user("00u1", login="ada@example.com", email="Ada@EXAMPLE.com")

    assert user.okta_id == "00u1"
    assert not user.has_usable_password()
    assert user.email == "Ada@example.com"
    assert user.is_active
    assert not user.is_admin
    assert not user.is_staff
    assert user.okta_status == OktaStatus.ACTIVE
    assert user.last_synced_at is None


@pytest.mark.django_db
def test_create_user_requires_okta_id():
    with pytest.raises(ValueError, match="okta_id is required"):
        User.objects.create_user("", login="ada@example.com")


@pytest.mark.django_db
def test_create_user_duplicate_okta_id_rejected():
    User.objects.create_user("00u1", login="ada@example.com")

    with pytest.raises(IntegrityError):
        User.objects.create_user("00u1", login="other@example.com")


@pytest.mark.django_db
def test_create_superuser_sets_admin_flags():
    user = User.objects.create_superuser("00u9", password="pw", login="root@example.com")

    assert user.is_superuser
    assert user.is_staff
    assert user.is_admin
    assert user.check_password("pw")


@pytest.mark.django_db
def test_manager_deleted_leaves_report_without_manager():
    manager = User.objects.create_user("00um", login="boss@example.com")
    report = User.objects.create_user(
        "00ur", login="dev@example.com", manager=manager, manager_okta_id="00um"
    )

    manager.delete()
    report.refresh_from_db()

    assert report.manager is None
    assert report.manager_okta_id == "00um"


@pytest.mark.django_db
def test_manager_reports_relation():
    manager = User.objects.create_user("00um", login="boss@example.com")
    User.objects.create_user("00ur", login="dev@example.com", manager=manager)

    assert [user.okta_id for user in manager.reports.all()] == ["00ur"]


def test_user_string_prefers_login():
    assert str(User(okta_id="00u1", login="ada@example.com")) == "ada@example.com"
    assert str(User(okta_id="00u1")) == "00u1"


@pytest.mark.django_db
def test_approver_role_derived_from_reports_and_ownership():
    from access_requests.models import Resource

    manager = User.objects.create_user("00um", login="boss@example.com")
    owner = User.objects.create_user("00uo", login="owner@example.com")
    employee = User.objects.create_user("00ue", login="dev@example.com", manager=manager)
    resource = Resource.objects.create(kind="group", okta_id="00gres", name="GitHub Developers")
    resource.owners.add(owner)

    assert manager.is_approver
    assert owner.is_approver
    assert not employee.is_approver
