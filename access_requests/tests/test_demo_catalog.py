"""The catalog commands `make run` uses: sync_catalog and load_demo_catalog_settings."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from access_requests.models import Resource
from audit.models import AuditEvent

# The facade records the rate budget in the database cache from a thread of its own, which
# must see committed rows and must not wait for the test's transaction.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

Policy = Resource.ApprovalPolicy


def run(command: str) -> str:
    output = StringIO()
    call_command(command, stdout=output)
    return output.getvalue()


def test_sync_catalog_command_fills_catalog(okta_settings):
    output = run("sync_catalog")

    assert "Catalog sync finished: created " in output
    assert Resource.objects.filter(name="GitHub Developers", kind=Resource.Kind.GROUP).exists()
    assert Resource.objects.filter(name="Jira Cloud", kind=Resource.Kind.APP).exists()
    assert AuditEvent.objects.filter(action="catalog.synced").count() == 1


def test_demo_settings_make_demo_set_requestable(okta_settings):
    run("sync_okta_users")
    run("sync_catalog")

    output = run("load_demo_catalog_settings")

    requestable = Resource.objects.filter(requestable=True)
    assert "resources requestable" in output
    assert requestable.count() >= 6
    assert {Policy.AUTOMATIC, Policy.OWNERS, Policy.MANAGER_THEN_OWNERS} <= set(
        requestable.values_list("approval_policy", flat=True)
    )
    assert requestable.filter(kind=Resource.Kind.APP).exists()
    assert not requestable.filter(name="Portal Admins").exists()
    assert not requestable.filter(group_type__in=Resource.GroupType.not_writable()).exists()
    for resource in requestable:
        assert resource.owners.exists(), f"{resource.name} has no owners"
        assert resource.not_requestable_reason is None


def test_demo_settings_run_twice_change_nothing(okta_settings):
    run("sync_okta_users")
    run("sync_catalog")
    run("load_demo_catalog_settings")
    events = AuditEvent.objects.filter(action="resource.updated").count()

    output = run("load_demo_catalog_settings")

    assert ", 0 changed" in output
    assert AuditEvent.objects.filter(action="resource.updated").count() == events


def test_demo_settings_event_records_values(okta_settings):
    run("sync_okta_users")
    run("sync_catalog")

    run("load_demo_catalog_settings")

    figma = Resource.objects.get(name="Figma")
    event = AuditEvent.objects.get(action="resource.updated", resource_okta_id=figma.okta_id)
    assert event.payload["by"] == "load_demo_catalog_settings"
    assert event.payload["requestable"] == {"from": False, "to": True}
    assert event.payload["approval_policy"]["to"] == Policy.OWNERS
    added = [owner["login"] for owner in event.payload["owners"]["added"]]
    assert added == sorted(figma.owners.values_list("login", flat=True))
    assert event.payload["owners"]["removed"] == []


def test_demo_settings_need_synced_users(okta_settings):
    run("sync_catalog")

    with pytest.raises(CommandError, match="run `manage.py sync_okta_users`"):
        run("load_demo_catalog_settings")
    assert not Resource.objects.filter(requestable=True).exists()


def test_demo_settings_need_catalog(okta_settings):
    with pytest.raises(CommandError, match="run `manage.py sync_catalog`"):
        run("load_demo_catalog_settings")


def test_demo_settings_refused_in_production(okta_settings, settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="PORTAL_ENV=production"):
        run("load_demo_catalog_settings")
