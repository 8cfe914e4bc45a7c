"""The catalog with live search, and a resource's page with the request form."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from access_requests import errors, selectors, services
from access_requests.forms import CUSTOM_END, RequestAccessForm
from access_requests.views.helpers import (
    own_access_to,
    page_number,
    visible_resources,
)

MAX_QUERY_LENGTH = 100

# Form field of each rejection, so that its message shows next to the field it concerns.
FIELD_OF_ERROR = {
    errors.JustificationRequired: "justification",
    errors.InvalidDuration: "duration",
}


@login_required
@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    page = selectors.catalog(request.user, query=query, page=page_number(request))
    # The pager's links keep the search.
    pager_query = f"{urlencode({'q': query})}&" if query else ""
    context = {"page": page, "query": query, "pager_query": pager_query}
    if request.htmx and request.htmx.target == "catalog-results":
        return render(request, "access_requests/partials/catalog_results.html", context)
    return render(request, "access_requests/catalog.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def resource_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resource = get_object_or_404(visible_resources(request.user), pk=pk)
    time_zone = services.requester_time_zone(request.user)
    form = RequestAccessForm(request.POST or None, resource=resource, time_zone=time_zone)

    if request.method == "POST" and form.is_valid():
        try:
            access_request, created = services.submit_request(
                request.user,
                resource,
                justification=form.cleaned_data["justification"],
                ends_at=form.ends_at(),
                http_request=request,
            )
        except errors.AccessRequestError as error:
            form.add_error(_field_of(error, form), error.message)
        else:
            if created:
                messages.success(request, f"Your request for {resource.name} was submitted.")
            elif access_request.is_open:
                messages.info(
                    request,
                    f"You already have a pending request for {resource.name}: here it is.",
                )
            else:
                # The automatic policy approved an earlier submit, whose grant is still held.
                messages.info(
                    request,
                    f"Your request for {resource.name} was already approved: here it is.",
                )
            return redirect("access_requests:request_detail", pk=access_request.pk)

    context = {
        "resource": resource,
        "form": form,
        "approvers": selectors.approvers_for(resource, request.user),
        "own": own_access_to(request.user, resource),
        "time_zone": time_zone,
    }
    return render(request, "access_requests/resource_detail.html", context)


def _field_of(error: errors.AccessRequestError, form: RequestAccessForm) -> str | None:
    field = FIELD_OF_ERROR.get(type(error))
    if field == "duration" and form.cleaned_data.get("duration") == CUSTOM_END:
        return "end_date"
    return field
