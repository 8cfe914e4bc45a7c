"""Catalog sync against the emulator: groups and apps, types, admin settings, deletions."""

import pytest

from access_requests import services
from access_requests.models import Resource
from access_requests.tests import okta_data
from audit.models import AuditEvent

# The facade records the rate budget in the database cache from a thread of its own, which
# must see committed rows and must not wait for the test's transaction.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sync_copies_groups_and_apps(okta_settings):
    okta_org = okta_settings
    groups = okta_data.get_all(okta_org, "/api/v1/groups?limit=200")
    apps = okta_data.get_all(okta_org, "/api/v1/apps?limit=200")

    counts = services.sync_catalog()

    assert counts == {"created": len(groups) + len(apps), "updated": 0, "deleted": 0}
    assert Resource.objects.filter(kind=Resource.Kind.GROUP).count() == len(groups)
    assert Resource.objects.filter(kind=Resource.Kind.APP).count() == len(apps)
    app = Resource.objects.get(okta_id=apps[0]["id"])
    assert app.name == apps[0]["label"]
    assert app.sign_on_mode == apps[0]["signOnMode"]
    assert AuditEvent.objects.filter(action="catalog.synced").count() == 1


def test_unwritable_groups_show_reason(okta_settings):
    services.sync_catalog()

    built_in = Resource.objects.get(group_type=Resource.GroupType.BUILT_IN, name="Everyone")
    assert "built-in" in built_in.not_requestable_reason
    app_group = Resource.objects.filter(group_type=Resource.GroupType.APP_GROUP).first()
    assert app_group is not None, "the demo org should contain an APP_GROUP group"
    assert "imported" in app_group.not_requestable_reason
    okta_group = Resource.objects.filter(group_type=Resource.GroupType.OKTA_GROUP).first()
    assert okta_group.not_requestable_reason == (
        "Requests for this resource are not enabled by an admin."
    )


def test_resync_keeps_admin_settings(okta_settings):
    services.sync_catalog()
    resource = Resource.objects.filter(group_type=Resource.GroupType.OKTA_GROUP).first()
    resource.requestable = True
    resource.description = "Ask for this to edit the wiki."
    resource.approval_policy = Resource.ApprovalPolicy.OWNERS
    resource.save()

    counts = services.sync_catalog()

    resource.refresh_from_db()
    assert counts["created"] == 0
    assert resource.requestable
    assert resource.description == "Ask for this to edit the wiki."
    assert resource.approval_policy == Resource.ApprovalPolicy.OWNERS
    assert resource.not_requestable_reason is None


def test_group_deleted_in_okta_is_marked(okta_settings):
    okta_org = okta_settings
    services.sync_catalog()
    resource = Resource.objects.filter(group_type=Resource.GroupType.OKTA_GROUP).last()
    resource.requestable = True
    resource.save()
    assert okta_org.request("DELETE", f"/api/v1/groups/{resource.okta_id}").status == 204

    counts = services.sync_catalog()

    resource.refresh_from_db()
    assert counts["deleted"] == 1
    assert resource.deleted_in_okta_at is not None
    assert not resource.requestable
    assert resource.not_requestable_reason == "This resource no longer exists in Okta."
