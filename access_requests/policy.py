"""Who approves a request: the approval steps a resource's policy gives a requester.

Fall-through rules: a manager step without a usable manager (missing, unknown to the portal,
not ACTIVE, or the requester themself) becomes an owner step; an owner step without owners
other than the requester becomes an admin step. The requester is never an approver of their
own request, so an owner asking for their own resource goes to the other owners, then to the
admins. In the same way, whoever approved an earlier step of a request is no approver of its
later steps, so "manager, then owners" always gets two different people.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model

from access_requests.models import ApprovalStep, Resource
from accounts.models import OktaStatus

Kind = ApprovalStep.Kind
Policy = Resource.ApprovalPolicy

STEP_KINDS_BY_POLICY = {
    Policy.AUTOMATIC: (),
    Policy.MANAGER: (Kind.MANAGER,),
    Policy.OWNERS: (Kind.OWNER,),
    Policy.MANAGER_THEN_OWNERS: (Kind.MANAGER, Kind.OWNER),
}


@dataclass
class PlannedStep:
    kind: str
    approvers: list = field(default_factory=list)


def is_usable_approver(user, requester, exclude=frozenset()) -> bool:
    """Return whether `user` can approve a request of `requester`.

    `exclude` contains the primary keys of users who may not approve this step, such as those who
    approved an earlier step of the same request.
    """
    return (
        user is not None
        and user.pk != requester.pk
        and user.pk not in exclude
        and user.is_active
        and user.okta_status == OktaStatus.ACTIVE
    )


def usable_manager(requester, exclude=frozenset()):
    manager = requester.manager
    return manager if is_usable_approver(manager, requester, exclude) else None


def usable_owners(resource: Resource, requester, exclude=frozenset()) -> list:
    # Reuses a prefetched owners list when the caller loaded one.
    return [
        owner for owner in resource.owners.all() if is_usable_approver(owner, requester, exclude)
    ]


def usable_admins(requester, exclude=frozenset()) -> list:
    admins = (
        get_user_model()
        .objects.filter(is_admin=True, is_active=True, okta_status=OktaStatus.ACTIVE)
        .exclude(pk=requester.pk)
        .exclude(pk__in=exclude)
    )
    return list(admins.order_by("login"))


def plan_steps(resource: Resource, requester) -> list[PlannedStep]:
    """Return the steps, in order, with their approvers; empty for automatic approval.

    A step that falls through to the same kind as the next step is merged with it, so
    "manager then owners" without a manager asks the owners once. Returns a step with no
    approvers only when nobody but the requester could approve (no other admin exists).
    """
    planned: list[PlannedStep] = []
    for kind in STEP_KINDS_BY_POLICY[resource.approval_policy]:
        step = _resolve(kind, resource, requester)
        if planned and planned[-1].kind == step.kind:
            continue
        planned.append(step)
    return planned


def _resolve(kind: str, resource: Resource, requester, exclude=frozenset()) -> PlannedStep:
    if kind == Kind.MANAGER:
        manager = usable_manager(requester, exclude)
        if manager is not None:
            return PlannedStep(Kind.MANAGER, [manager])
        kind = Kind.OWNER
    if kind == Kind.OWNER:
        owners = usable_owners(resource, requester, exclude)
        if owners:
            return PlannedStep(Kind.OWNER, owners)
    return PlannedStep(Kind.ADMIN, usable_admins(requester, exclude))


def resolve_step(kind: str, resource: Resource, requester, exclude=frozenset()) -> PlannedStep:
    """Return the approvers of a step of `kind`, falling through as a planned step does.

    Users whose primary keys are in `exclude` are passed over. Returns a step with no approvers
    when nobody is left, not even a portal admin.
    """
    return _resolve(kind, resource, requester, exclude)


def no_approver_message(resource: Resource, requester) -> str:
    """Return why a request by `requester` for `resource` has no approver, and whom to ask.

    For a step that fell through to the portal admins and found none besides the requester.
    """
    group = settings.PORTAL_ADMIN_GROUP
    if requester.is_admin:
        return (
            f"Nobody but you can approve requests for {resource.name}: its approval passes to "
            "the portal admins, and you are the only active one. Add another owner to "
            f"{resource.name} in the admin site, or ask your Okta administrator to add another "
            f"member to the Okta group {group!r}."
        )
    return (
        f"Nobody can approve requests for {resource.name}: its approval passes to the portal "
        "admins, and there is no active portal admin. Ask your Okta administrator to add "
        f"someone to the Okta group {group!r}, who can then add owners to {resource.name}."
    )
