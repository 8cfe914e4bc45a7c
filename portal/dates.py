"""Form input for calendar days that the portal turns into datetime ranges."""

import datetime

from django import forms

# A day's range runs from its midnight to the next one, converted between time zones, so a day
# next to datetime.date.min or datetime.date.max overflows (OverflowError) in that arithmetic.
# One spare day at the bottom and one spare year at the top leave room for any UTC offset.
EARLIEST_DAY = datetime.date(1, 1, 2)
LATEST_DAY = datetime.date(9998, 12, 31)


def validate_day_in_range(day: datetime.date) -> None:
    """Raise ValidationError for a day outside EARLIEST_DAY..LATEST_DAY."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise forms.ValidationError(
            "Enter a day from %(earliest)s to %(latest)s; %(day)s is out of range.",
            code="out_of_range",
            params={
                "earliest": EARLIEST_DAY.isoformat(),
                "latest": LATEST_DAY.isoformat(),
                "day": day.isoformat(),
            },
        )


class DayField(forms.DateField):
    """A DateField that accepts only days the portal can turn into a datetime range."""

    default_validators = [validate_day_in_range]
