"""Show a timedelta as a short readable duration, such as "23 s" or "4 min 10 s"."""

import datetime

from django import template

register = template.Library()

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@register.filter
def readable_duration(value: datetime.timedelta | None) -> str:
    """Render `value` in its two largest units, rounded to the smaller one.

    Under a minute it shows seconds, under an hour minutes and seconds, under a day hours and
    minutes, and from a day on days and hours. Units that are zero after rounding are left out.
    """
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 0:
        return "-" + readable_duration(-value)
    if seconds < 0.5:
        return "under 1 s"
    if seconds < MINUTE - 0.5:
        return f"{round(seconds)} s"
    if seconds < HOUR - 0.5:
        return _two_units(round(seconds), MINUTE, "min", "s")
    if seconds < DAY - 30:
        return _two_units(round(seconds / MINUTE), 60, "h", "min")
    return _two_units(round(seconds / HOUR), 24, "d", "h")


def _two_units(count: int, per_large: int, large_unit: str, small_unit: str) -> str:
    large, small = divmod(count, per_large)
    if small == 0:
        return f"{large} {large_unit}"
    return f"{large} {large_unit} {small} {small_unit}"
