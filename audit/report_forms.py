from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from access_requests.models import Resource
from portal.dates import DayField

User = get_user_model()


class AccessOnDayForm(forms.Form):
    resource = forms.CharField(help_text="Okta id or exact name of the group or app.")
    day = DayField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["day"].help_text = (
            f"YYYY-MM-DD, today or earlier, in the portal's time zone "
            f"({timezone.get_current_timezone_name()})."
        )

    def clean_day(self):
        # Who will hold access on a future day is unknown, because a grant can still be
        # revoked or extended before then, so planned ends are no forecast.
        day = self.cleaned_data["day"]
        today = timezone.localdate()
        if day > today:
            raise forms.ValidationError(
                f"{day.isoformat()} is in the future (today is {today.isoformat()} in the "
                f"portal's time zone, {timezone.get_current_timezone_name()}). This report "
                "lists who had access on a past day or today. Enter one of those days, or see "
                "the planned end of current access in the ends_at column of the current-access "
                "report."
            )
        return day

    def clean_resource(self):
        text = self.cleaned_data["resource"].strip()
        matches = list(Resource.objects.filter(Q(okta_id=text) | Q(name=text))[:2])
        if not matches:
            raise forms.ValidationError(f"No resource has the Okta id or name “{text}”.")
        if len(matches) > 1:
            raise forms.ValidationError(
                f"Several resources are named “{text}”: enter the Okta id instead."
            )
        return matches[0]


class UserChangesForm(forms.Form):
    user = forms.CharField(help_text="Login or Okta id.")
    since = DayField(label="From", help_text="First day, YYYY-MM-DD.")
    until = DayField(label="To", help_text="Last day, YYYY-MM-DD.")

    def clean_user(self):
        text = self.cleaned_data["user"].strip()
        user = User.objects.filter(Q(login__iexact=text) | Q(okta_id=text)).first()
        if user is None:
            raise forms.ValidationError(f"No user has the login or Okta id “{text}”.")
        return user

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", f"The last day ({until}) is before the first day ({since}).")
        return cleaned
