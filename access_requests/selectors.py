"""Read-only queries for the views, scoped to what the user may see.

Each returns a queryset (or a page of one) whose related rows are loaded up front, so a page
issues the same number of queries whatever the number of rows.
"""

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from access_requests import failures, policy
from access_requests.models import AccessRequest, ApprovalStep, Grant, Resource
from access_requests.services.offboarding import DEPARTED_STATUSES, offboarding_reason

CATALOG_PAGE_SIZE = 25


def landing_summary(user) -> dict:
    return {
        "my_access": list(my_access(user)),
        "open_requests": list(my_requests(user).filter(status__in=AccessRequest.OPEN)),
        "waiting_for_me": list(inbox(user)),
        # Admins retry failed Okta changes from their home page.
        "failures": failures.open_failures() if user.is_admin else None,
        **removed_at_departure(user),
    }


def removed_at_departure(user) -> dict:
    """Return the grants and requests that offboarding ended when Okta suspended or
    deactivated `user`, for their home page after Okta reactivates them.

    Reactivation restores nothing, so each stays listed until the user holds or requests that
    resource again.
    """
    reasons = [offboarding_reason(user, status) for status in DEPARTED_STATUSES]
    grants = (
        Grant.objects.filter(user=user, revoke_reason__in=reasons)
        .exclude(status__in=Grant.HELD)
        .exclude(_requested_again_since(user, "updated_at"))
        .select_related("resource")
        .order_by("-updated_at", "-pk")
    )
    requests = (
        AccessRequest.objects.filter(
            requester=user, status=AccessRequest.Status.CANCELLED, closed_reason__in=reasons
        )
        .exclude(_requested_again_since(user, "decided_at"))
        .select_related("resource")
        .order_by("-decided_at", "-pk")
    )
    return {"removed_grants": list(grants), "cancelled_requests": list(requests)}


def _requested_again_since(user, time_field: str) -> Q:
    """Match rows whose resource the user requested or was granted after the row's `time_field`."""
    later_grant = Grant.objects.filter(
        user=user, resource=OuterRef("resource"), created_at__gt=OuterRef(time_field)
    )
    later_request = AccessRequest.objects.filter(
        requester=user, resource=OuterRef("resource"), created_at__gt=OuterRef(time_field)
    )
    return Q(Exists(later_grant)) | Q(Exists(later_request))


def my_access(user) -> QuerySet:
    """The user's grants that are active or being applied."""
    return (
        Grant.objects.filter(user=user, status__in=Grant.HELD)
        .select_related("resource")
        .order_by("resource__name")
    )


def catalog(user, query: str = "", page: int | str = 1) -> Page:
    """A page of resources that exist in Okta, matching `query` in their name or description."""
    resources = Resource.objects.filter(deleted_in_okta_at__isnull=True)
    query = (query or "").strip()
    if query:
        resources = resources.filter(
            Q(name__icontains=query)
            | Q(description__icontains=query)
            | Q(okta_description__icontains=query)
        )
    return Paginator(resources.order_by("name", "pk"), CATALOG_PAGE_SIZE).get_page(page)


def resource_grants_of(user, resource: Resource) -> QuerySet:
    """The user's grants and requests for one resource, newest first, for the resource page."""
    return Grant.objects.filter(user=user, resource=resource).select_related("request")


def inbox(user) -> QuerySet:
    """Steps waiting for this user's decision, oldest request first; never the user's own."""
    return (
        ApprovalStep.objects.filter(
            approvers=user,
            status=ApprovalStep.Status.WAITING,
            request__status=AccessRequest.Status.PENDING,
        )
        .exclude(request__requester=user)
        .select_related(
            "request__requester",
            "request__resource",
            "request__requester__manager",
            "request__extends_grant",
        )
        .order_by("request__created_at", "pk")
    )


def my_requests(user) -> QuerySet:
    return (
        AccessRequest.objects.filter(requester=user)
        .select_related("resource", "grant", "extends_grant")
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=ApprovalStep.objects.select_related("decided_by").order_by("position"),
            )
        )
        .order_by("-created_at", "-pk")
    )


def approvers_for(resource: Resource, requester) -> list[policy.PlannedStep]:
    """The steps a request by `requester` would go through, each with its approvers."""
    return policy.plan_steps(resource, requester)


def visible_requests(user) -> QuerySet:
    """Requests the user may see: their own, those they approve, and all of them for admins."""
    requests = AccessRequest.objects.select_related(
        "requester", "resource", "grant", "extends_grant"
    )
    if not user.is_admin:
        approving = ApprovalStep.objects.filter(approvers=user).values("request_id")
        requests = requests.filter(Q(requester=user) | Q(pk__in=approving))
    return requests.order_by("-created_at", "-pk")
