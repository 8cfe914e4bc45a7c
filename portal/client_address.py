"""The IP address of the client that sent a request, seen through trusted reverse proxies.

Every place in the portal that needs a client's address calls client_ip(), so that all of them
agree on when X-Forwarded-For is believed.
"""

import ipaddress
import logging
import re

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Some proxies write IPv6 entries in brackets, optionally with the client's port:
# "[2001:db8::1]" or "[2001:db8::1]:443".
BRACKETED_IPV6 = re.compile(r"\[(?P<address>[^\]]+)\](?::\d{1,5})?")
# Some proxies append the client's port to IPv4 entries: "192.0.2.1:443".
IPV4_WITH_PORT = re.compile(r"(?P<address>\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}")
# Maximum number of characters of a rejected value that a log line includes.
MAX_LOGGED_ENTRY = 100


def client_ip(request: HttpRequest) -> IPAddress | None:
    """Return the IP address of the client that sent `request`, or None when it is unknown.

    The address is REMOTE_ADDR unless REMOTE_ADDR is in settings.PORTAL_TRUSTED_PROXIES. In that
    case X-Forwarded-For is walked from the right, because each proxy appends the address it
    received the request from. Trusted addresses are skipped and the first untrusted one is the
    client. Entries further left were sent by the client and may be forged, so they are never
    read. When every entry is trusted, the leftmost one is returned.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    remote = parse_ip(remote_addr)
    if remote is None:
        # A server listening on a Unix socket leaves REMOTE_ADDR empty, which is no error.
        if remote_addr:
            logger.warning("Ignoring the invalid REMOTE_ADDR %.*r", MAX_LOGGED_ENTRY, remote_addr)
        return None

    trusted = settings.PORTAL_TRUSTED_PROXIES
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not header or not is_trusted(remote, trusted):
        return remote

    nearest = remote
    for entry in reversed(header.split(",")):
        address = parse_forwarded_entry(entry)
        if address is None:
            # The trusted proxy `nearest` should have written its sender's address here.
            # Without it the sender is unknown and entries further left may be forged.
            logger.warning(
                "Invalid X-Forwarded-For entry %.*r: ignoring it and every entry left of it, "
                "and using the trusted proxy %s as the client address",
                MAX_LOGGED_ENTRY,
                entry.strip(),
                nearest,
            )
            return nearest
        if not is_trusted(address, trusted):
            return address
        nearest = address
    return nearest


def is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    """Return whether `address` is in one of the `trusted` networks.

    An IPv4-mapped IPv6 address (::ffff:10.0.0.1), which a server listening on both IPv4 and
    IPv6 reports for IPv4 clients, also matches the IPv4 networks.
    """
    candidates = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for candidate in candidates for network in trusted)


def parse_ip(text: str) -> IPAddress | None:
    """Return `text` as an IP address, or None when it is not one."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def parse_forwarded_entry(entry: str) -> IPAddress | None:
    """Return the IP address in one X-Forwarded-For entry without its port, or None if invalid."""
    entry = entry.strip()
    match = BRACKETED_IPV6.fullmatch(entry) or IPV4_WITH_PORT.fullmatch(entry)
    if match is not None:
        entry = match["address"]
    return parse_ip(entry)
