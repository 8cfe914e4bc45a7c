"""Pages for ending and keeping access: revoke, give up, extend, renew, the owners' "expiring
soon" list, and the admins' drift page with its "compare now" button."""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access_requests import errors
from access_requests.models import Drift, Grant, Resource
from access_requests.services import expiry, reconciliation, revocation
from access_requests.views.helpers import page_number

DRIFTS_PER_PAGE = 50


class RevokeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The holder sees this reason.",
    )


class ExtendForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=3650, label="Extend by (days)")
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, required=False
    )


class RenewForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=3650)


def _grant(pk: int) -> Grant:
    return get_object_or_404(Grant.objects.select_related("user", "resource"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def revoke_grant(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _grant(pk)
    if not (request.user.is_admin or grant.resource.owners.filter(pk=request.user.pk).exists()):
        raise PermissionDenied("Only the resource's owners and portal admins can revoke access.")
    form = RevokeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            revocation.revoke_grant(
                grant, by=request.user, reason=form.cleaned_data["reason"], http_request=request
            )
        except errors.NotAllowed as error:
            raise PermissionDenied(error.message) from error
        except errors.AccessRequestError as error:
            form.add_error(None, error.message)
            status = 409
        else:
            messages.success(
                request, f"Removing {grant.user}'s access to {grant.resource.name} from Okta."
            )
            return redirect("access_requests:expiring_soon")
    elif request.method == "POST":
        status = 400
    return render(
        request, "access_requests/grant_revoke.html", {"grant": grant, "form": form}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def give_up_grant(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _grant(pk)
    if grant.user_id != request.user.pk:
        raise PermissionDenied("Only the holder of this access can give it up.")
    error_message = None
    if request.method == "POST":
        try:
            revocation.give_up_grant(grant, by=request.user, http_request=request)
        except errors.AccessRequestError as error:
            error_message = error.message
        else:
            messages.success(
                request, f"Your access to {grant.resource.name} is being removed from Okta."
            )
            return redirect("access_requests:my_requests")
    return render(
        request,
        "access_requests/grant_give_up.html",
        {"grant": grant, "error": error_message},
        status=409 if error_message else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def extend_grant(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _grant(pk)
    if grant.user_id != request.user.pk:
        raise PermissionDenied("Only the holder of this access can ask to extend it.")
    form = ExtendForm(request.POST or None)
    status = 200
    blocked_message = expiry.not_extendable_message(grant)
    if blocked_message is not None:
        # The page shows the reason in place of a form that request_extension would reject.
        # A POST gets the same message with 409.
        if request.method == "POST":
            status = 409
        context = {"grant": grant, "form": None, "blocked_message": blocked_message}
        return render(request, "access_requests/grant_extend.html", context, status=status)
    if request.method == "POST" and form.is_valid():
        start = max(grant.ends_at or timezone.now(), timezone.now())
        try:
            access_request, _created = expiry.request_extension(
                grant,
                by=request.user,
                ends_at=start + datetime.timedelta(days=form.cleaned_data["days"]),
                justification=form.cleaned_data["justification"],
                http_request=request,
            )
        except errors.AccessRequestError as error:
            form.add_error(None, error.message)
            status = 409
        else:
            if access_request.is_open:
                messages.success(
                    request,
                    f"Your request to extend your access to {grant.resource.name} was sent for "
                    "approval. Until it is approved, your access ends as before.",
                )
            else:
                messages.success(request, f"Your access to {grant.resource.name} was extended.")
            return redirect("access_requests:request_detail", pk=access_request.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request, "access_requests/grant_extend.html", {"grant": grant, "form": form}, status=status
    )


@login_required
@require_safe
def expiring_soon(request: HttpRequest) -> HttpResponse:
    grants = expiry.expiring_soon(request.user)
    return render(
        request,
        "access_requests/expiring_soon.html",
        {"grants": grants, "renew_form": RenewForm(initial={"days": 30})},
    )


@login_required
@require_POST
def renew_grant(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _grant(pk)
    form = RenewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Renew by a whole number of days, at least 1.")
        return redirect("access_requests:expiring_soon")
    try:
        expiry.renew_grant(
            grant, by=request.user, days=form.cleaned_data["days"], http_request=request
        )
    except errors.NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except errors.AccessRequestError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Renewed {grant.user}'s access to {grant.resource.name}.")
    return redirect("access_requests:expiring_soon")


@login_required
@require_POST
def retry_revocation(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _grant(pk)
    try:
        revocation.retry_revocation(grant, by=request.user, http_request=request)
    except errors.NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except errors.AccessRequestError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The removal is queued again.")
    return redirect("access_requests:drift_list")


def _require_admin(request: HttpRequest) -> None:
    if not request.user.is_admin:
        raise PermissionDenied("Only portal admins can see and correct drift.")


@login_required
@require_safe
def drift_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    show = request.GET.get("show", "open")
    drifts = Drift.objects.select_related("resource", "user")
    if show == "open":
        drifts = drifts.filter(resolution=Drift.Resolution.OPEN)
    page = Paginator(drifts, DRIFTS_PER_PAGE).get_page(page_number(request))
    # Removals that failed for good, and those Okta keeps refusing for now (being retried).
    stuck = (
        Grant.objects.filter(status=Grant.Status.REVOKING)
        .filter(~Q(failure_reason="") | ~Q(operations__last_error=""))
        .select_related("user", "resource")
        .distinct()
    )
    return render(
        request,
        "access_requests/drift_list.html",
        {
            "page": page,
            "show": show,
            "stuck_removals": stuck,
            "managed_resources": reconciliation.managed_resources(),
        },
    )


@login_required
@require_POST
def reconcile_now(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    from access_requests.tasks import reconcile

    try:
        reconcile.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - any broker failure: tell the admin, beat runs it later
        messages.error(request, "The task queue cannot be reached; the hourly run will compare.")
    else:
        messages.success(request, "Comparing Okta with the grants; reload this page in a minute.")
    return redirect("access_requests:drift_list")


@login_required
@require_POST
def correct_drift(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    drift = get_object_or_404(Drift, pk=pk)
    if reconciliation.correct_drift_by_id(drift.pk):
        messages.success(request, "The correction is queued.")
    elif drift.kind == Drift.Kind.UNAPPROVED and reconciliation.protected_reason(drift):
        messages.error(request, f"Not removed: {reconciliation.protected_reason(drift)}")
    else:
        messages.error(
            request, "Nothing to correct: the drift is resolved, or the user is unknown."
        )
    return redirect("access_requests:drift_list")


@login_required
@require_POST
def set_enforcement(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    resource = get_object_or_404(Resource, pk=pk)
    value = request.POST.get("enforcement", "")
    if value not in Resource.Enforcement.values:
        messages.error(
            request,
            f"Unknown mode {value!r}: choose one of {', '.join(Resource.Enforcement.values)}.",
        )
        return redirect("access_requests:drift_list")
    switching_on = (
        value == Resource.Enforcement.ENFORCE
        and resource.enforcement != Resource.Enforcement.ENFORCE
    )
    if switching_on and request.POST.get("confirm") != "yes":
        # A dry run against Okta now: the admin sees exactly whom enforce would remove.
        preview = reconciliation.preview_enforcement(resource)
        return render(
            request,
            "access_requests/drift_enforce_confirm.html",
            {"preview": preview, "resource": resource},
            status=502 if preview.error else 200,
        )
    reconciliation.set_enforcement(resource, value, by=request.user, http_request=request)
    if switching_on:
        messages.success(
            request,
            f"{resource.name} is enforced. The portal is comparing it with Okta now and queues "
            "the corrections; reload this page in a minute.",
        )
    else:
        messages.success(request, f"{resource.name}: {resource.get_enforcement_display().lower()}.")
    return redirect("access_requests:drift_list")
