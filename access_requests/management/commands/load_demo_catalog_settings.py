"""Make a demo set of the emulator's groups and apps requestable, with owners and policies."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from access_requests.models import Resource
from access_requests.services import resource_settings

Policy = Resource.ApprovalPolicy


@dataclass(frozen=True)
class DemoSetting:
    kind: str
    name: str
    approval_policy: str
    owners: tuple[str, ...]
    max_duration_days: int | None = 90
    allow_no_end: bool = False
    justification_required: bool = True


# Groups and apps of the emulator's demo org (okta_emulator/orgs/demo.yaml), with owners from
# its users. Only OKTA_GROUPs and apps: Okta rejects member changes to the others. The admin
# group stays out, because the portal must not hand out admin rights.
DEMO_SETTINGS = (
    DemoSetting(
        Resource.Kind.GROUP,
        "VPN Users",
        Policy.AUTOMATIC,
        ("patrick.doyle@example.com",),
        max_duration_days=None,
        allow_no_end=True,
        justification_required=False,
    ),
    DemoSetting(
        Resource.Kind.GROUP,
        "GitHub Developers",
        Policy.OWNERS,
        ("priya.natarajan@example.com", "marcus.lee@example.com"),
    ),
    DemoSetting(
        Resource.Kind.GROUP,
        "AWS Staging Developers",
        Policy.MANAGER,
        ("priya.natarajan@example.com",),
    ),
    DemoSetting(
        Resource.Kind.GROUP,
        "AWS Production ReadOnly",
        Policy.MANAGER_THEN_OWNERS,
        ("ngozi.adeyemi@example.com", "patrick.doyle@example.com"),
        max_duration_days=30,
    ),
    DemoSetting(
        Resource.Kind.GROUP,
        "Marketing Analytics",
        Policy.MANAGER,
        ("olivia.bennett@example.com",),
    ),
    DemoSetting(
        Resource.Kind.APP,
        "Jira Cloud",
        Policy.AUTOMATIC,
        ("patrick.doyle@example.com",),
        max_duration_days=None,
        allow_no_end=True,
        justification_required=False,
    ),
    DemoSetting(
        Resource.Kind.APP,
        "Grafana",
        Policy.MANAGER_THEN_OWNERS,
        ("priya.natarajan@example.com",),
        max_duration_days=30,
    ),
    DemoSetting(Resource.Kind.APP, "Figma", Policy.OWNERS, ("olivia.bennett@example.com",)),
    DemoSetting(Resource.Kind.APP, "Salesforce", Policy.MANAGER, ("grace.kim@example.com",)),
)

SETTING_FIELDS = ("approval_policy", "max_duration_days", "allow_no_end", "justification_required")


class Command(BaseCommand):
    help = (
        "For the Okta emulator's demo org only: make a demo set of groups and apps "
        "requestable, with owners and approval policies. Run sync_okta_users and sync_catalog "
        "first. Running it again restores the demo settings of those resources."
    )

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "load_demo_catalog_settings is for the Okta emulator's demo org and does not "
                "run with PORTAL_ENV=production."
            )
        # NOTE: one transaction for every resource, so on PostgreSQL the pending requests of
        # a later resource are locked after an audit event was recorded. That can deadlock with
        # a concurrent decision, which is acceptable for a command meant for the demo org.
        with transaction.atomic():
            resources = [(demo, _demo_resource(demo)) for demo in DEMO_SETTINGS]
            owners = _demo_owners()
            changed = [
                resource.name
                for demo, resource in resources
                if _apply(demo, resource, [owners[login] for login in demo.owners])
            ]
        self.stdout.write(
            f"Demo catalog settings: {len(DEMO_SETTINGS)} resources requestable, "
            f"{len(changed)} changed" + (f" ({', '.join(changed)})" if changed else "")
        )


def _demo_resource(demo: DemoSetting) -> Resource:
    resource = (
        Resource.objects.select_for_update(no_key=True)
        .filter(kind=demo.kind, name=demo.name, deleted_in_okta_at__isnull=True)
        .first()
    )
    if resource is None:
        raise CommandError(
            f"The {demo.kind} {demo.name!r} is not in the catalog. This command needs the "
            "Okta emulator's demo org: run `manage.py sync_catalog` against it first."
        )
    if not resource.writable_in_okta:
        raise CommandError(
            f"{demo.name!r} cannot be requestable: {resource.not_requestable_reason}"
        )
    return resource


def _demo_owners() -> dict:
    logins = {login for demo in DEMO_SETTINGS for login in demo.owners}
    users = {user.login: user for user in get_user_model().objects.filter(login__in=logins)}
    missing = sorted(logins - users.keys())
    if missing:
        raise CommandError(
            f"Owner(s) {', '.join(missing)} are not portal users yet: run "
            "`manage.py sync_okta_users` against the emulator's demo org first."
        )
    return users


def _apply(demo: DemoSetting, resource: Resource, owners: list) -> bool:
    """Give `resource` its demo settings and record the change. Return whether anything changed.

    Pending requests follow the change as after a save in the admin site.
    """
    same_owners = {owner.pk for owner in resource.owners.all()} == {owner.pk for owner in owners}
    same_settings = all(getattr(resource, name) == getattr(demo, name) for name in SETTING_FIELDS)
    if resource.requestable and same_settings and same_owners:
        return False

    before = resource_settings.snapshot(resource)
    for name in SETTING_FIELDS:
        setattr(resource, name, getattr(demo, name))
    resource.requestable = True
    resource.save()
    resource.owners.set(owners)

    result = resource_settings.apply_settings_change(
        resource, before, by=None, extra_payload={"by": "load_demo_catalog_settings"}
    )
    return bool(result.changed)
