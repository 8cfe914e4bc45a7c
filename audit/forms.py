import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from access_requests.models import Resource
from audit.actions import ACTIONS, OUTCOMES, area_of
from audit.models import AuditEvent
from audit.queries import (
    Page,
    keyset_page,
    search_text_condition,
    sequence_range_for_dates,
    within,
)
from portal.dates import DayField

User = get_user_model()

ACTION_CHOICES = [("", "Any action")] + [
    *[(f"{area}.*", f"{area}.* (all)") for area in sorted({area_of(code) for code in ACTIONS})],
    *[(action, action) for action in ACTIONS],
]


class EventFilterForm(forms.Form):
    """The review list's filters. Every field is optional; bad values become form errors."""

    actor = forms.CharField(required=False, help_text="Login or Okta id, or “system”.")
    subject = forms.CharField(required=False, help_text="Login or Okta id of the subject user.")
    resource = forms.CharField(required=False, help_text="Okta id or exact name.")
    action = forms.ChoiceField(required=False, choices=ACTION_CHOICES)
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome")] + [(o, o) for o in OUTCOMES]
    )
    since = DayField(required=False, label="From", help_text="First day, YYYY-MM-DD.")
    until = DayField(required=False, label="To", help_text="Last day, YYYY-MM-DD.")
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Text",
        help_text="Words in justifications, comments or reasons (such as a revoke reason).",
    )
    older_than = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    newer_than = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_actor(self):
        return self._clean_user("actor", allow_system=True)

    def clean_subject(self):
        return self._clean_user("subject", allow_system=False)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", f"The last day ({until}) is before the first day ({since}).")
        return cleaned

    def _clean_user(self, field: str, *, allow_system: bool):
        text = self.cleaned_data.get(field, "").strip()
        if not text:
            return None
        if allow_system and text.lower() == "system":
            return "system"
        user = User.objects.filter(Q(login__iexact=text) | Q(okta_id=text)).first()
        if user is None:
            raise forms.ValidationError(f"No user has the login or Okta id “{text}”.")
        return user

    def filter(self, events: QuerySet[AuditEvent], *, dates: bool = True) -> QuerySet[AuditEvent]:
        """Apply the valid filters to `events` (call after is_valid()).

        With dates=False the date range is left out, for page() to merge with its cursor.
        """
        data = self.cleaned_data
        events = _filter_people(events, data.get("actor"), data.get("subject"))

        if data.get("resource"):
            events = events.filter(resource_okta_id__in=_resource_okta_ids(data["resource"]))
        if data.get("action"):
            events = _filter_action(events, data["action"])
        if data.get("outcome"):
            events = events.filter(outcome=data["outcome"])
        if data.get("q"):
            events = events.filter(search_text_condition(data["q"]))
        if dates:
            events = within(events, *self.sequence_bounds())
        return events

    def page(self, events: QuerySet[AuditEvent]) -> Page:
        """Return the page of filtered events that the cursor fields select."""
        lowest, highest = self.sequence_bounds()
        return keyset_page(
            self.filter(events, dates=False),
            older_than=self.cleaned_data.get("older_than"),
            newer_than=self.cleaned_data.get("newer_than"),
            lowest=lowest,
            highest=highest,
        )

    def sequence_bounds(self) -> tuple[int | None, int | None]:
        """Return the first and last sequence numbers of the date range (None: open end)."""
        if not hasattr(self, "_sequence_bounds"):
            since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
            self._sequence_bounds = _sequence_bounds(since, until)
        return self._sequence_bounds

    def query_without_cursor(self) -> str:
        """Return the filters as a query string, for the paging and export links."""
        params = self.data.copy()
        for key in ("older_than", "newer_than"):
            params.pop(key, None)
        return params.urlencode()


def _filter_people(events, actor, subject):
    if actor == "system":
        events = events.filter(actor__isnull=True)
    elif actor is not None:
        events = events.filter(actor_id=actor.pk)
    if subject is not None:
        events = events.filter(subject_user_id=subject.pk)
    return events


def _resource_okta_ids(text: str) -> list[str]:
    """Return the Okta ids the resource filter matches: the text itself, and the ids of
    catalog resources with that exact name.

    Filtering on the id column alone keeps the query on the (resource_okta_id, sequence)
    index; an OR with the unindexed resource_name would scan the table.
    """
    text = text.strip()
    return [text, *Resource.objects.filter(name=text).values_list("okta_id", flat=True)]


def _filter_action(events, action: str):
    if action.endswith(".*"):
        prefix = action[:-1]
        return events.filter(action__in=[code for code in ACTIONS if code.startswith(prefix)])
    return events.filter(action=action)


def _sequence_bounds(since: datetime.date | None, until: datetime.date | None):
    if since is None and until is None:
        return None, None
    zone = timezone.get_current_timezone()
    start = _start_of_day(since, zone) if since else None
    end = _start_of_day(until + datetime.timedelta(days=1), zone) if until else None
    return sequence_range_for_dates(start, end)


def _start_of_day(day: datetime.date, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
