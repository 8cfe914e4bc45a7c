"""The approver's inbox: steps waiting for the user, inline approve or deny, bulk approve."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from access_requests import errors, selectors, services
from access_requests.forms import BulkApproveForm, DecisionForm
from access_requests.models import ApprovalStep
from access_requests.views.helpers import (
    decidable_steps,
    moved_approval_message,
    page_number,
    with_requester_access,
)

# Each card renders the requester's context and its own form, which makes a page of cards
# costly. An approver with a long backlog pages through it instead.
STEPS_PER_PAGE = 25


@login_required
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    return _render_inbox(request)


def _render_inbox(request: HttpRequest, bulk_form=None, status: int = 200) -> HttpResponse:
    steps = with_requester_access(selectors.inbox(request.user))
    page = Paginator(steps, STEPS_PER_PAGE).get_page(page_number(request))
    context = {"page": page, "bulk_form": bulk_form, "waiting": ApprovalStep.Status.WAITING}
    return render(request, "access_requests/inbox.html", context, status=status)


@login_required
@require_POST
def decide_step(request: HttpRequest, pk: int) -> HttpResponse:
    step = decidable_steps(request.user).filter(pk=pk).first()
    if step is None:
        # An approver taken off the step by an owner change gets a 403 naming its new approvers.
        moved = moved_approval_message(request.user, pk)
        if moved is not None:
            raise PermissionDenied(moved)
        raise Http404(f"No approval step {pk} is waiting for you: open your inbox to see yours.")
    form = DecisionForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            services.decide_step(
                step,
                by=request.user,
                approve=form.approve,
                comment=form.cleaned_data["comment"],
                http_request=request,
            )
        except errors.NotAllowed as error:
            raise PermissionDenied(error.message) from error
        except errors.AlreadyDecided as error:
            form.add_error(None, error.message)
            status = 409
        except errors.AccessRequestError as error:
            form.add_error(
                "comment" if isinstance(error, errors.CommentRequired) else None, error.message
            )
            status = 400
    else:
        status = 400
    step.refresh_from_db()

    if request.htmx:
        # htmx swaps only 2xx responses by default; the row shows the error itself, so the
        # partial always goes out as 200 and the status code stays for non-htmx clients.
        context = {
            "step": step,
            "form": form,
            "waiting": ApprovalStep.Status.WAITING,
            "decided_now": status == 200 and form.is_valid(),
            "already_decided": _already_decided(step),
        }
        return render(request, "access_requests/partials/inbox_step.html", context)
    _report(request, step, form)
    return redirect("access_requests:inbox")


def _report(request: HttpRequest, step, form: DecisionForm) -> None:
    if step.status != ApprovalStep.Status.WAITING and form.errors:
        messages.error(request, _already_decided(step))
        return
    if form.errors:
        for message in form.errors.get("__all__", []) + form.errors.get("comment", []):
            messages.error(request, f"Request #{step.request_id}: {message}")
        for message in form.errors.get("decision", []):
            messages.error(request, message)
        return
    verb = "approved" if form.approve else "denied"
    messages.success(request, f"You {verb} request #{step.request_id} for {step.request.resource}.")


def _already_decided(step) -> str:
    if step.status == ApprovalStep.Status.CANCELLED and not step.request.is_open:
        # Nobody decided a step that closed with its request, so return why the request closed.
        return services.closed_request_message(step.request, subject=f"Request #{step.request_id}")
    text = f"Request #{step.request_id} was already decided: {step.get_status_display().lower()}"
    if step.decided_by is not None:
        text += f" by {step.decided_by.get_full_name() or step.decided_by.login}"
    if step.decided_at is not None:
        text += f" on {step.decided_at:%Y-%m-%d %H:%M} UTC"
    return text + "."


@login_required
@require_POST
def bulk_approve(request: HttpRequest) -> HttpResponse:
    form = BulkApproveForm(request.POST)
    if not form.is_valid():
        return _render_inbox(request, bulk_form=form, status=400)

    step_ids = form.cleaned_data["steps"]
    waiting = {step.pk: step for step in selectors.inbox(request.user).filter(pk__in=step_ids)}
    problems = {pk: _not_waiting_message(request.user, pk) for pk in step_ids if pk not in waiting}
    steps = [waiting[pk] for pk in step_ids if pk in waiting]
    results = services.bulk_approve(steps, by=request.user, http_request=request)
    for result in results:
        if not result.ok:
            problems[result.step.pk] = f"Request #{result.step.request_id}: {result.error.message}"

    approved = sum(1 for result in results if result.ok)
    if approved:
        messages.success(request, f"You approved {approved} request{'s' if approved != 1 else ''}.")
    # One message per problem, in the order the requests were selected. The same text twice
    # (two unknown ids, say) is shown once.
    for message in dict.fromkeys(problems[pk] for pk in step_ids if pk in problems):
        messages.error(request, message)
    return redirect("access_requests:inbox")


def _not_waiting_message(user, step_pk: int) -> str:
    """Return why step `step_pk`, selected in the inbox, is not waiting for `user`'s decision."""
    step = decidable_steps(user).filter(pk=step_pk).first()
    if step is not None:
        if step.request.requester_id == user.pk:
            return f"Request #{step.request_id}: you cannot decide on your own request."
        if step.status == ApprovalStep.Status.QUEUED and step.request.is_open:
            return (
                f"Request #{step.request_id}: an earlier approval step is not decided yet, so "
                "your step is not open. It appears in your inbox when it opens."
            )
        return _already_decided(step)
    moved = moved_approval_message(user, step_pk)
    if moved is not None:
        return moved
    return (
        "One selected request is not waiting for your decision, so it was not approved. "
        "Reload the inbox to see the requests that are."
    )
