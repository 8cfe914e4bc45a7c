"""Where an admin switches a resource to enforce: only the drift page, which shows a dry run
first, and never the admin site's change form."""

import datetime

import pytest

from access_requests.models import Drift, Resource
from access_requests.tests import okta_data
from access_requests.tests.personas import make_resource, make_user, sign_in
from access_requests.tests.test_resource_settings import change_url, save_in_admin
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_admin(client):
    user = make_user("ada.admin", is_admin=True, is_staff=True, is_superuser=True)
    sign_in(client, user)
    return user


def test_admin_form_shows_enforcement_read_only(client, portal_admin):
    resource = make_resource("GitHub Developers")

    page = client.get(change_url(resource)).content.decode()

    assert 'name="enforcement"' not in page
    assert "Report drift only. Change it on the" in page
    assert '<a href="/drift/#enforcement">drift page</a>' in page


def test_admin_form_cannot_enforce(client, portal_admin):
    resource = make_resource("GitHub Developers")

    response = save_in_admin(client, resource, enforcement=Resource.Enforcement.ENFORCE)

    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.REPORT_ONLY
    assert not AuditEvent.objects.filter(action="resource.updated").exists()


def test_drift_page_lists_resources_without_drift(client, portal_admin):
    managed = make_resource("GitHub Developers")
    unmanaged = make_resource("Old Wiki", requestable=False)

    page = client.get("/drift/").content.decode()

    assert 'id="enforcement"' in page
    assert f'action="/drift/resources/{managed.pk}/enforcement/"' in page
    assert f'action="/drift/resources/{unmanaged.pk}/enforcement/"' not in page


@pytest.mark.django_db(transaction=True)
def test_enforce_preview_warns_of_later_drift(client, okta_settings):
    admin = make_user("ada.admin", is_admin=True, is_staff=True, is_superuser=True)
    sign_in(client, admin)
    resource = okta_data.group_resource(okta_data.okta_groups(okta_settings)[0])

    response = client.post(
        f"/drift/resources/{resource.pk}/enforcement/", {"enforcement": "enforce"}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "acts on Okta as it is when it runs, not on the lists below" in page
    assert "given access in Okta without a grant after this preview is removed too" in page


def test_drift_page_names_time_zone(client):
    admin = make_user("ada.admin", is_admin=True, is_staff=True, is_superuser=True)
    admin.time_zone = "Asia/Tokyo"
    admin.save(update_fields=["time_zone"])
    sign_in(client, admin)
    resource = make_resource("GitHub Developers")
    found = datetime.datetime(2026, 12, 4, 23, 30, tzinfo=datetime.UTC)
    Drift.objects.create(
        resource=resource,
        user_okta_id="00udrifter",
        kind=Drift.Kind.UNAPPROVED,
        source="event hook",
        found_at=found,
        last_seen_at=found,
    )

    page = client.get("/drift/").content.decode()

    assert "5 Dec 2026 08:30 (Asia/Tokyo), by event hook" in page
    assert " UTC" not in page
