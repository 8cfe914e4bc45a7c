"""The requester's pages: my requests, one request with its live status, cancel, and the admins'
retry of a failed grant."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from access_requests import errors, selectors, services
from access_requests.models import Grant
from access_requests.views.helpers import page_number
from access_requests.views.progress import progress_of, request_grant

REQUESTS_PER_PAGE = 25

# htmx stops polling when a poll gets this status, and still swaps in the content.
STOP_POLLING = 286


@login_required
@require_safe
def my_requests(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.my_requests(request.user), REQUESTS_PER_PAGE)
    page = paginator.get_page(page_number(request))
    rows = [(access_request, progress_of(access_request)) for access_request in page]
    moving = any(progress.moving for _, progress in rows)
    seen = ",".join(f"{access_request.pk}:{progress.code}" for access_request, progress in rows)
    context = {"page": page, "rows": rows, "moving": moving, "seen": seen}
    if not (request.htmx and request.htmx.target == "my-requests"):
        return render(request, "access_requests/my_requests.html", context)
    return _poll_response(
        request, "access_requests/partials/my_requests_table.html", context, seen, moving
    )


@login_required
@require_safe
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    access_request = get_object_or_404(selectors.visible_requests(request.user), pk=pk)
    context = _status_context(request, access_request)
    return render(request, "access_requests/request_detail.html", context)


@login_required
@require_safe
def request_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Render the live status block of one request, which htmx polls while it can change."""
    access_request = get_object_or_404(selectors.visible_requests(request.user), pk=pk)
    context = _status_context(request, access_request)
    progress = context["progress"]
    if not request.htmx:
        return render(request, "access_requests/partials/request_status.html", context)
    return _poll_response(
        request,
        "access_requests/partials/request_status.html",
        context,
        context["state"],
        progress.moving,
    )


def _poll_response(request, template: str, context: dict, state: str, moving: bool):
    """Return the response to an htmx poll: 204 (nothing to swap) when the page already shows
    `state`, else the new content, with STOP_POLLING once nothing on it can change by itself."""
    if request.GET.get("seen") == state:
        return HttpResponse(status=204)
    return render(request, template, context, status=200 if moving else STOP_POLLING)


def _status_context(request: HttpRequest, access_request) -> dict:
    user = request.user
    grant = request_grant(access_request)
    is_requester = access_request.requester_id == user.pk
    progress = progress_of(access_request)
    steps = list(access_request.steps.select_related("decided_by"))
    return {
        "access_request": access_request,
        "progress": progress,
        # What the live region shows: a poll that finds the same state gets 204. A decided
        # step changes it while the request as a whole is still waiting.
        "state": ",".join([progress.code, *(f"{step.pk}:{step.status}" for step in steps)]),
        "grant": grant,
        "steps": steps,
        "is_requester": is_requester,
        # Okta's reason for a failed grant goes to the requester and to admins only.
        "show_failure": grant is not None and (is_requester or user.is_admin),
        "can_cancel": is_requester and access_request.is_open,
        "can_retry": grant is not None and user.is_admin and grant.status == Grant.Status.FAILED,
        "holds_active_grant": (
            grant is not None and grant.user_id == user.pk and grant.status == Grant.Status.ACTIVE
        ),
    }


@login_required
@require_POST
def cancel_request(request: HttpRequest, pk: int) -> HttpResponse:
    access_request = get_object_or_404(selectors.visible_requests(request.user), pk=pk)
    try:
        services.cancel_request(access_request, by=request.user, http_request=request)
    except errors.NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except errors.AccessRequestError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Your request for {access_request.resource.name} was cancelled.")
    return redirect("access_requests:request_detail", pk=access_request.pk)


@login_required
@require_POST
def retry_grant(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(Grant.objects.select_related("resource", "user"), pk=pk)
    try:
        services.retry_grant(grant, by=request.user, http_request=request)
    except errors.NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except errors.AccessRequestError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Applying {grant.resource.name} for {grant.user} again.")
    if grant.request_id is None:
        return redirect("access_requests:my_requests")
    return redirect("access_requests:request_detail", pk=grant.request_id)
