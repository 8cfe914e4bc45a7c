"""Audit review pages, reports and the dashboard.

Every view fetches events through audit.scopes, so a user only ever sees the events they may
see; an event or timeline outside that scope is a 404. Reports and the dashboard are for admins
(403 for everyone else).
"""

import functools
import itertools
import json

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from access_requests.failures import open_failures
from access_requests.models import Resource
from audit import dashboard as dashboard_figures
from audit import reports
from audit.exports import FORMATS, streaming_export
from audit.forms import EventFilterForm
from audit.models import AuditVerification
from audit.queries import keyset_page
from audit.report_forms import AccessOnDayForm, UserChangesForm
from audit.scopes import (
    may_view_client,
    may_view_user,
    user_timeline,
    visible_events,
    without_others_clients,
)

User = get_user_model()

EVENT_COLUMNS = (
    "sequence",
    "created_at",
    "actor_label",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "subject_user__login",
    "resource_okta_id",
    "resource_name",
    "access_request_id",
    "grant_id",
    "payload",
    "okta_request_id",
    "ip",
    "user_agent",
    "prev_hash",
    "hash",
)
# Rows a report page shows; the exports have them all.
REPORT_PAGE_ROWS = 500
# Events of the same request shown on an event's page.
RELATED_EVENTS = 200


def admin_required(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_admin:
            raise PermissionDenied("Only portal admins can open audit reports and the dashboard.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _export_format(file_format: str) -> str:
    if file_format not in FORMATS:
        raise Http404(f"Unknown export format {file_format!r}: use csv or jsonl.")
    return file_format


def _last_verification(user):
    if not user.is_admin:
        return None
    return AuditVerification.objects.order_by("-started_at").first()


# --- Events ---------------------------------------------------------------------------------


@require_safe
@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = form.page(visible_events(request.user).select_related("subject_user"))
    status = 200 if form.is_valid() else 400
    context = {
        "form": form,
        "page": page,
        "query": form.query_without_cursor(),
        "verification": _last_verification(request.user),
    }
    return render(request, "audit/event_list.html", context, status=status)


@require_safe
@login_required
def event_export(request: HttpRequest, file_format: str) -> HttpResponse:
    file_format = _export_format(file_format)
    form = EventFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/event_list.html", {"form": form}, status=400)
    events = form.filter(visible_events(request.user)).order_by("sequence")
    rows = events.values(*EVENT_COLUMNS, "actor_id").iterator(chunk_size=2000)
    rows = without_others_clients(request.user, rows)
    return streaming_export(rows, EVENT_COLUMNS, file_format=file_format, filename="audit-events")


@require_safe
@login_required
def event_detail(request: HttpRequest, sequence: int) -> HttpResponse:
    events = visible_events(request.user)
    event = get_object_or_404(events.select_related("actor", "subject_user"), sequence=sequence)
    related = []
    if event.access_request_id is not None:
        related = list(
            events.filter(access_request_id=event.access_request_id).order_by("sequence")[
                :RELATED_EVENTS
            ]
        )
    context = {
        "event": event,
        "payload_json": json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
        "hash_matches": event.compute_hash() == event.hash,
        "related": related,
        "show_client": may_view_client(request.user, event.actor_id),
    }
    return render(request, "audit/event_detail.html", context)


@require_safe
@login_required
def user_events(request: HttpRequest, okta_id: str) -> HttpResponse:
    subject = get_object_or_404(User, okta_id=okta_id)
    if not may_view_user(request.user, subject):
        raise Http404("No user timeline you may see has this id.")
    return _timeline(
        request, user_timeline(request.user, subject), title=str(subject), subject=subject
    )


@require_safe
@login_required
def resource_events(request: HttpRequest, okta_id: str) -> HttpResponse:
    events = visible_events(request.user).filter(resource_okta_id=okta_id)
    resource = Resource.objects.filter(okta_id=okta_id).first()
    if resource is None and not events.exists():
        raise Http404("No resource you may see has this Okta id.")
    title = resource.name if resource is not None else okta_id
    return _timeline(request, events, title=title, resource=resource)


def _timeline(request, events, *, title, subject=None, resource=None):
    form = EventFilterForm(request.GET)
    form.is_valid()
    page = keyset_page(
        events.select_related("subject_user"),
        older_than=form.cleaned_data.get("older_than"),
        newer_than=form.cleaned_data.get("newer_than"),
    )
    context = {"title": title, "page": page, "subject": subject, "resource": resource, "query": ""}
    return render(request, "audit/timeline.html", context)


# --- Reports and dashboard (admins) ---------------------------------------------------------


@require_safe
@admin_required
def report_index(request: HttpRequest) -> HttpResponse:
    context = {
        "access_form": AccessOnDayForm(),
        "changes_form": UserChangesForm(),
        "verification": _last_verification(request.user),
    }
    return render(request, "audit/report_index.html", context)


@require_safe
@admin_required
def access_on_day(request: HttpRequest, file_format: str | None = None) -> HttpResponse:
    form = AccessOnDayForm(request.GET)
    if not form.is_valid():
        return _report_page(request, form, "Who had access on a day", status=400)
    resource, day = form.cleaned_data["resource"], form.cleaned_data["day"]
    rows = reports.access_on_day_rows(resource, day)
    title = f"Who had access to {resource.name} on {day.isoformat()}"
    filename = f"access-{resource.okta_id}-{day.isoformat()}"
    notes = (reports.tracking_note(resource, day), reports.through_group_note(resource, day))
    note = " ".join(text for text in notes if text)
    return _report_response(
        request, form, title, rows, reports.ACCESS_ON_DAY_COLUMNS, file_format, filename, note=note
    )


@require_safe
@admin_required
def user_changes(request: HttpRequest, file_format: str | None = None) -> HttpResponse:
    form = UserChangesForm(request.GET)
    if not form.is_valid():
        return _report_page(request, form, "Access a user gained and lost", status=400)
    user, since, until = (form.cleaned_data[key] for key in ("user", "since", "until"))
    rows = reports.user_changes_rows(user, since, until)
    title = f"Access {user} gained and lost from {since.isoformat()} to {until.isoformat()}"
    filename = f"changes-{user.okta_id}-{since.isoformat()}-{until.isoformat()}"
    note = (
        f'"{reports.HELD_AT_BASELINE}" marks access that the user already held in Okta when the '
        "portal began tracking the resource (tracked_since): when it started is unknown. "
        "Changes to a resource before its tracked_since time are known only for access "
        "granted through the portal."
    )
    return _report_response(
        request, form, title, rows, reports.CHANGE_COLUMNS, file_format, filename, note=note
    )


@require_safe
@admin_required
def current_access(request: HttpRequest, file_format: str | None = None) -> HttpResponse:
    rows = reports.current_access_rows()
    return _report_response(
        request,
        None,
        "Current access",
        rows,
        reports.CURRENT_ACCESS_COLUMNS,
        file_format,
        "current-access",
    )


def _report_response(request, form, title, rows, columns, file_format, filename, note=""):
    if file_format is not None:
        return streaming_export(
            rows, columns, file_format=_export_format(file_format), filename=filename
        )
    # One row more than the page shows tells whether the exports have more.
    first_rows = [
        [row.get(column) for column in columns]
        for row in itertools.islice(rows, REPORT_PAGE_ROWS + 1)
    ]
    return _report_page(
        request,
        form,
        title,
        rows=first_rows[:REPORT_PAGE_ROWS],
        columns=columns,
        truncated=len(first_rows) > REPORT_PAGE_ROWS,
        note=note,
    )


def _report_page(
    request, form, title, *, rows=None, columns=(), truncated=False, note="", status=200
):
    query = request.GET.urlencode()
    context = {
        "form": form,
        "title": title,
        "rows": rows,
        "columns": columns,
        "truncated": truncated,
        "note": note,
        "page_rows": REPORT_PAGE_ROWS,
        "export_query": query,
        "export_base": request.path.rstrip("/"),
    }
    return render(request, "audit/report.html", context, status=status)


@require_safe
@admin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = dashboard_figures.summary()
    context = {
        **figures,
        "chart": dashboard_figures.bar_chart(figures["requests_per_day"]),
        "verification": _last_verification(request.user),
        "failures": open_failures(),
    }
    return render(request, "audit/dashboard.html", context)
