"""Forms of the access request pages.

The forms check the shape of the input. The services check the rules (requestable, maximum
duration, access already held) and raise an error whose message the view shows next to the
field it concerns.
"""

import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from access_requests.services import DURATION_PRESETS
from access_requests.services.requests import max_duration_days, max_end_message

# The only format the end date is read in. Django's default list also reads "04/12/2026", as
# 12 April (month first), which users of other locales read as 4 December.
END_DATE_FORMAT = "%Y-%m-%d"

CUSTOM_END = "custom"
NO_END = "none"
MAX_JUSTIFICATION_LENGTH = 2000


class RequestAccessForm(forms.Form):
    """Justification and duration of a new request for one resource."""

    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_JUSTIFICATION_LENGTH,
        required=False,
        help_text="Why you need this access. Your approvers read it.",
    )
    duration = forms.ChoiceField(
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how long you need the access.",
            "invalid_choice": "Choose one of the durations offered for this resource.",
        },
    )
    # clean_end_date checks the day against the resource's maximum before anything turns it into
    # a datetime, so a day as late as 9999-12-31 cannot overflow.
    end_date = forms.DateField(
        required=False,
        input_formats=[END_DATE_FORMAT],
        widget=forms.DateInput(attrs={"type": "date"}, format=END_DATE_FORMAT),
        label="Custom end date",
        help_text="Used when you choose “Until a date”: the access ends at the end of this day.",
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD, for example 2026-12-31."},
    )

    def __init__(self, *args, resource, time_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.resource = resource
        self.time_zone = time_zone
        # Shown next to the durations; the service enforces it on every end date.
        self.max_duration_days = max_duration_days(resource)
        self.fields["justification"].required = resource.justification_required
        if resource.justification_required:
            self.fields["justification"].error_messages["required"] = (
                "Enter a justification: this resource requires one."
            )
        self.fields["duration"].choices = self._duration_choices()
        self.fields["duration"].initial = self.fields["duration"].choices[0][0]

    def _duration_choices(self) -> list[tuple[str, str]]:
        # Presets longer than the maximum are not offered. The service rejects a custom date
        # over the maximum, with the limit in its message.
        choices = [
            (str(days), "1 day" if days == 1 else f"{days} days")
            for days in DURATION_PRESETS
            if days <= self.max_duration_days
        ]
        choices.append((CUSTOM_END, "Until a date"))
        if self.resource.allow_no_end:
            choices.append((NO_END, "No end date"))
        return choices

    def clean_end_date(self) -> datetime.date | None:
        end_date = self.cleaned_data.get("end_date")
        if end_date is None:
            return None
        now = timezone.now()
        zone = ZoneInfo(self.time_zone)
        if end_date < timezone.localdate(now, timezone=zone):
            raise forms.ValidationError(
                "The end date %(date)s is in the past: choose today or a later day.",
                params={"date": end_date.isoformat()},
            )
        last_day = timezone.localdate(
            now + datetime.timedelta(days=self.max_duration_days), timezone=zone
        )
        if end_date > last_day:
            raise forms.ValidationError(max_end_message(self.resource, last_day))
        return end_date

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("duration") != CUSTOM_END:
            # A date left in the field counts only with "Until a date", as its help text states.
            self.errors.pop("end_date", None)
            cleaned["end_date"] = None
        elif not cleaned.get("end_date") and "end_date" not in self.errors:
            self.add_error("end_date", "Enter the end date, or choose another duration.")
        return cleaned

    def ends_at(self) -> datetime.timedelta | datetime.date | None:
        """Return the end of the requested access in the form submit_request takes.

        That is a timedelta for a preset, which counts from the approval, and None for no end.
        A custom end date is returned as the date itself, which the service reads as the end
        of that day in the requester's time zone.
        """
        duration = self.cleaned_data["duration"]
        if duration == NO_END:
            return None
        if duration == CUSTOM_END:
            return self.cleaned_data["end_date"]
        return datetime.timedelta(days=int(duration))


class DecisionForm(forms.Form):
    """An approver's decision on one step. Only the decision and the comment come from the form:
    the step, and so the resource and duration, come from the URL."""

    APPROVE = "approve"
    DENY = "deny"

    decision = forms.ChoiceField(
        choices=[(APPROVE, "Approve"), (DENY, "Deny")],
        error_messages={
            "required": "Choose approve or deny.",
            "invalid_choice": "The decision must be approve or deny.",
        },
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=MAX_JUSTIFICATION_LENGTH,
        required=False,
        error_messages={
            "max_length": (
                "The comment is too long: %(show_value)d characters, at most %(limit_value)d. "
                "Shorten it."
            )
        },
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        if "comment" in self.errors:
            # The comment was entered but is invalid (too long): that error says what to fix.
            return cleaned
        if cleaned.get("decision") == self.DENY and not cleaned.get("comment", "").strip():
            self.add_error("comment", "Enter a comment to deny: the requester reads it.")
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data["decision"] == self.APPROVE


# More than an inbox page shows (25 cards), so that a whole page can be approved at once, but
# few enough that one POST cannot start thousands of approval transactions.
MAX_BULK_STEPS = 100


class StepIdsField(forms.MultipleChoiceField):
    """Approval step ids as whole numbers, without repeats and in the order sent.

    Which steps the user may decide is checked per step by the view, so that one step that is
    no longer waiting does not stop the others.
    """

    def valid_value(self, value) -> bool:
        # Every whole number is accepted here. The view reports the steps it cannot approve.
        return True

    def validate(self, value):
        for text in value:
            if not str(text).isascii() or not str(text).isdigit():
                raise forms.ValidationError(
                    "Invalid step id “%(value)s”: a step id is a whole number. Select the "
                    "requests in the list instead.",
                    code="invalid_step_id",
                    params={"value": text},
                )
        super().validate(value)

    def clean(self, value):
        texts = super().clean(value)
        step_ids = list(dict.fromkeys(int(text) for text in texts))
        if len(step_ids) > MAX_BULK_STEPS:
            raise forms.ValidationError(
                "%(count)d requests were selected, but at most %(max)d can be approved at once. "
                "Select fewer requests.",
                code="too_many_steps",
                params={"count": len(step_ids), "max": MAX_BULK_STEPS},
            )
        return step_ids


class BulkApproveForm(forms.Form):
    """The steps ticked in the inbox; the view approves those waiting for the user and reports
    each of the others."""

    steps = StepIdsField(error_messages={"required": "Select at least one request to approve."})
