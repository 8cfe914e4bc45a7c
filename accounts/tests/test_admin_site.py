"""Which Django admin pages may add or delete rows: only data the portal itself owns."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

User = get_user_model()

# Models whose rows an admin may create by hand. Every other registered model is written by
# Okta syncs or by the portal itself, so its add page must not exist.
ADDABLE = {"auth.group"}
# Models whose rows an admin may delete from the admin site.
DELETABLE = {"auth.group"}


def label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def registered_models():
    return sorted(admin.site._registry, key=label)


@pytest.fixture
def superuser_client(client):
    superuser = User.objects.create(
        okta_id="00uadminsite0000001",
        login="site.admin@example.com",
        is_staff=True,
        is_superuser=True,
        is_admin=True,
    )
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("model", registered_models(), ids=label)
def test_add_page_only_where_addable(superuser_client, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")

    response = superuser_client.get(url)

    assert response.status_code == (200 if label(model) in ADDABLE else 403)


@pytest.mark.parametrize("model", registered_models(), ids=label)
def test_delete_only_where_deletable(rf, model):
    request = rf.get("/admin/")
    request.user = User(is_staff=True, is_superuser=True, is_active=True)

    allowed = admin.site._registry[model].has_delete_permission(request)

    assert allowed == (label(model) in DELETABLE)


def test_catalog_sync_button_with_no_rows(superuser_client, django_capture_on_commit_callbacks):
    changelist = superuser_client.get(reverse("admin:access_requests_resource_changelist"))
    assert "Sync catalog now" in changelist.content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        response = superuser_client.post(reverse("admin:access_requests_resource_sync"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:access_requests_resource_changelist")
    assert len(callbacks) == 1


def test_catalog_sync_button_needs_post(superuser_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = superuser_client.get(reverse("admin:access_requests_resource_sync"))

    assert response.status_code == 405
    assert callbacks == []
