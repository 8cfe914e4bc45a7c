"""Querysets scoped to the signed-in user and small request helpers shared by the views."""

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest

from access_requests import group_access
from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
from access_requests.services.requests import held_in_okta
from audit.models import AuditEvent


def page_number(request: HttpRequest) -> int:
    """Return the `page` query parameter; anything but a positive integer means page 1."""
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def visible_resources(user) -> QuerySet[Resource]:
    """Resources whose page the user may open: the whole catalog, because every employee may
    see what exists and why something cannot be requested."""
    return Resource.objects.all()


def own_access_to(user, resource: Resource) -> dict:
    """Return the user's held grant and pending request for one resource (either may be None),
    whether they hold it in Okta without a grant, and the groups that give them the app."""
    held = Grant.objects.filter(user=user, resource=resource, status__in=Grant.HELD).first()
    pending = AccessRequest.objects.filter(
        requester=user, resource=resource, status__in=AccessRequest.OPEN
    ).first()
    in_okta = held is None and held_in_okta(user, resource)
    through_groups = group_access.groups_giving_app(user, resource)
    return {
        "grant": held,
        "pending_request": pending,
        "in_okta": in_okta,
        "through_groups": through_groups,
        "through_groups_text": group_access.describe_groups(through_groups)
        if through_groups
        else "",
    }


def decidable_steps(user) -> QuerySet[ApprovalStep]:
    """Steps the user is an approver of, in any state, so that a decision that came too late
    gets "already decided" rather than "not found"."""
    steps = ApprovalStep.objects.filter(approvers=user).select_related(
        "request__resource", "request__requester__manager", "decided_by"
    )
    return with_requester_access(steps)


def with_requester_access(steps: QuerySet[ApprovalStep]) -> QuerySet[ApprovalStep]:
    """Load each requester's held grants into `requester.held_grants` in one query, for the
    approver's "what they already have"."""
    held = Grant.objects.filter(status__in=Grant.HELD).select_related("resource")
    return steps.prefetch_related(
        Prefetch(
            "request__requester__grants",
            queryset=held.order_by("resource__name"),
            to_attr="held_grants",
        )
    )


def moved_approval_message(user, step_pk: int) -> str | None:
    """Return where the approval of step `step_pk` went, when `user` was taken off it.

    That happens when the resource's owners change (the `step.reassigned` audit event lists
    the removed approvers) or when the user approved an earlier step of the same request.
    Returns None when the user was never an approver of the step.
    """
    step = (
        ApprovalStep.objects.filter(pk=step_pk)
        .select_related("request__resource")
        .prefetch_related("approvers")
        .first()
    )
    if step is None:
        return None
    request_obj = step.request
    subject = f"Request #{request_obj.pk}"
    if user.pk in _approved_earlier_step(step):
        return (
            f"{subject}: you approved an earlier step of this request, so another approver "
            "decides this one."
        )
    if not _removed_by_owner_change(user, step):
        return None
    if not request_obj.is_open or step.status not in ApprovalStep.OPEN:
        return (
            f"{subject}: this request's approval moved to other approvers when the owners of "
            f"{request_obj.resource.name} changed, and it is no longer waiting: it is "
            f"{request_obj.get_status_display().lower()}."
        )
    names = sorted(approver.get_full_name() or approver.login for approver in step.approvers.all())
    return (
        f"{subject}: this request's approval moved to {', '.join(names)} when the owners of "
        f"{request_obj.resource.name} changed, so you can no longer decide it."
    )


def _approved_earlier_step(step: ApprovalStep) -> set:
    return set(
        ApprovalStep.objects.filter(
            request_id=step.request_id,
            position__lt=step.position,
            status=ApprovalStep.Status.APPROVED,
        )
        .exclude(decided_by=None)
        .values_list("decided_by", flat=True)
    )


def _removed_by_owner_change(user, step: ApprovalStep) -> bool:
    # Few events per step, so the payloads are read here: SQLite has no JSON "contains" lookup.
    events = AuditEvent.objects.filter(
        action="step.reassigned",
        target_type=ApprovalStep._meta.label,
        target_id=str(step.pk),
    ).values_list("payload", flat=True)
    return any(user.okta_id in payload.get("removed_approvers", []) for payload in events)
