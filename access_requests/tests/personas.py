"""People and data the view tests share: a requester, their manager, a resource owner, a portal
admin and an unrelated employee, and a group whose policy requires approval by the manager, then by the owner.

Requests are created through the real services, so the steps and approvers are the ones the
policy gives. Tests run without a broker: the provisioning task is sent on commit, and a
test's transaction never commits.
"""

import datetime
import time
from dataclasses import dataclass

from django.utils import timezone

from access_requests import services
from access_requests.models import AccessRequest, ApprovalStep, Drift, Grant, Resource
from accounts.models import User

PERSONAS = ("requester", "manager", "owner", "admin", "outsider")


@dataclass
class Cast:
    requester: User
    manager: User
    owner: User
    admin: User
    outsider: User
    resource: Resource
    access_request: AccessRequest
    manager_step: ApprovalStep
    failed_grant: Grant
    # The requester's access to a resource the owner owns, ending in five days.
    active_grant: Grant
    # A removal that Okta refused, waiting for an admin to retry it.
    revoking_grant: Grant
    drift: Drift

    def persona(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


def sign_in(client, user: User) -> None:
    """Sign the test client in as `user`, with an Okta sign-in that is not yet due for renewal."""
    client.force_login(user)
    session = client.session
    # mozilla-django-oidc's SessionRefresh renews the sign-in with Okta after this time.
    session["oidc_id_token_expiration"] = time.time() + 3600
    session.save()


def make_user(login: str, **fields) -> User:
    first, _, last = login.partition(".")
    return User.objects.create_user(
        okta_id=f"00u{login.replace('.', '')[:17]}",
        login=f"{login}@example.com",
        email=f"{login}@example.com",
        first_name=first.title(),
        last_name=last.title(),
        **fields,
    )


def make_resource(name: str, **fields) -> Resource:
    defaults = {
        "kind": Resource.Kind.GROUP,
        "okta_id": f"00g{name.replace(' ', '')[:17]}",
        "group_type": Resource.GroupType.OKTA_GROUP,
        "requestable": True,
        "approval_policy": Resource.ApprovalPolicy.MANAGER_THEN_OWNERS,
        "max_duration_days": 90,
    }
    defaults.update(fields)
    return Resource.objects.create(name=name, **defaults)


def submit(requester: User, resource: Resource, days: int = 7) -> AccessRequest:
    access_request, created = services.submit_request(
        requester,
        resource,
        justification="Needed for the quarterly report.",
        ends_at=timezone.now() + datetime.timedelta(days=days),
    )
    assert created
    return access_request


def failed_grant_for(requester: User, resource: Resource) -> Grant:
    """Return a grant that Okta refused, as provisioning leaves it, for a second resource."""
    access_request = AccessRequest.objects.create(
        requester=requester, resource=resource, status=AccessRequest.Status.APPROVED
    )
    return Grant.objects.create(
        user=requester,
        resource=resource,
        request=access_request,
        status=Grant.Status.FAILED,
        failure_reason="Api validation failed: groupId: This group does not accept members.",
    )


def build_cast() -> Cast:
    manager = make_user("maria.manager", department="Engineering", title="Engineering Manager")
    requester = make_user(
        "rob.requester", manager=manager, department="Engineering", title="Developer"
    )
    owner = make_user("olga.owner", department="IT")
    admin = make_user("ada.admin", is_admin=True, department="IT")
    outsider = make_user("otto.outsider", department="Sales")

    resource = make_resource("Engineering Wiki", description="Edit rights on the wiki.")
    resource.owners.add(owner)
    access_request = submit(requester, resource)

    calendar = make_resource("Team Calendar")
    calendar.owners.add(owner)
    active_grant = Grant.objects.create(
        user=requester,
        resource=calendar,
        status=Grant.Status.ACTIVE,
        ends_at=timezone.now() + datetime.timedelta(days=5),
    )
    revoking_grant = Grant.objects.create(
        user=outsider,
        resource=calendar,
        status=Grant.Status.REVOKING,
        failure_reason="Okta refused the removal.",
    )
    drift = Drift.objects.create(
        resource=resource,
        user_okta_id=outsider.okta_id,
        user=outsider,
        kind=Drift.Kind.UNAPPROVED,
        source="reconciliation",
    )

    return Cast(
        requester=requester,
        manager=manager,
        owner=owner,
        admin=admin,
        outsider=outsider,
        resource=resource,
        access_request=access_request,
        manager_step=access_request.steps.get(position=1),
        failed_grant=failed_grant_for(requester, make_resource("Build Servers")),
        active_grant=active_grant,
        revoking_grant=revoking_grant,
        drift=drift,
    )
