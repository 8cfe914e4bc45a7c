"""Show datetimes in the signed-in user's time zone, the zone the request form reads dates in.

The zone comes from the user's Okta profile, else PORTAL_DEFAULT_TIME_ZONE. local_datetime prints
its IANA name after the time.
"""

import datetime
import zoneinfo

from django import template
from django.conf import settings
from django.utils import dateformat, timezone

from access_requests.services.requests import DEFAULT_TIME_ZONE, requester_time_zone

register = template.Library()


def _zone_name(context) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return getattr(settings, "PORTAL_DEFAULT_TIME_ZONE", DEFAULT_TIME_ZONE)
    return requester_time_zone(user)


def format_in_zone(
    value: datetime.datetime, zone_name: str, format_string: str = "j M Y H:i"
) -> str:
    """Format `value` in the IANA zone `zone_name`, followed by the zone's name in brackets."""
    local = timezone.localtime(value, zoneinfo.ZoneInfo(zone_name))
    return f"{dateformat.format(local, format_string)} ({zone_name})"


@register.simple_tag(takes_context=True)
def local_datetime(context, value: datetime.datetime | None, format_string: str = "j M Y H:i"):
    """Render `value` in the user's time zone, followed by the zone's name in brackets."""
    if value is None:
        return ""
    return format_in_zone(value, _zone_name(context), format_string)


@register.simple_tag(takes_context=True)
def local_date(context, value: datetime.datetime | None, format_string: str = "j M Y"):
    """Render the day of `value` in the user's time zone, without the zone's name."""
    if value is None:
        return ""
    local = timezone.localtime(value, zoneinfo.ZoneInfo(_zone_name(context)))
    return dateformat.format(local, format_string)
