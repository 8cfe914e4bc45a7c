import ipaddress
import logging

import pytest
from django.test import RequestFactory

from portal.client_address import client_ip
from portal.config import Config

# The test network ranges of RFC 5737 and RFC 3849 stand in for clients on the internet.
CLIENT = "203.0.113.7"
FORGED = "198.51.100.66"
PROXY = "10.0.0.5"
INNER_PROXY = "10.1.0.9"


@pytest.fixture
def trust(settings):
    """Return a function that sets PORTAL_TRUSTED_PROXIES as the environment variable would."""

    def set_trusted(value: str):
        variables = {"PORTAL_TRUSTED_PROXIES": value}
        networks = Config(variables, mode="test").networks("PORTAL_TRUSTED_PROXIES")
        settings.PORTAL_TRUSTED_PROXIES = networks

    return set_trusted


def request_from(remote_addr: str, forwarded_for: str | None = None):
    headers = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **headers)


def ip(text: str):
    return ipaddress.ip_address(text)


def test_no_trusted_proxies_uses_remote_addr(trust):
    trust("")

    assert client_ip(request_from(CLIENT)) == ip(CLIENT)


def test_forged_header_from_untrusted_client_ignored(trust):
    trust(PROXY)

    address = client_ip(request_from(CLIENT, forwarded_for=FORGED))

    assert address == ip(CLIENT)


def test_header_ignored_when_no_proxy_is_trusted(trust):
    trust("")

    address = client_ip(request_from(PROXY, forwarded_for=CLIENT))

    assert address == ip(PROXY)


def test_one_trusted_proxy_gives_forwarded_client(trust):
    trust(PROXY)

    address = client_ip(request_from(PROXY, forwarded_for=CLIENT))

    assert address == ip(CLIENT)


def test_forged_entries_left_of_client_ignored(trust):
    trust(PROXY)

    # The client sent "X-Forwarded-For: FORGED" and the proxy appended the client's address.
    address = client_ip(request_from(PROXY, forwarded_for=f"{FORGED}, {CLIENT}"))

    assert address == ip(CLIENT)


def test_two_trusted_proxies_give_client(trust):
    trust(f"{PROXY},10.1.0.0/16")

    address = client_ip(request_from(PROXY, forwarded_for=f"{FORGED}, {CLIENT}, {INNER_PROXY}"))

    assert address == ip(CLIENT)


def test_two_proxies_only_one_trusted_stops_at_untrusted(trust):
    trust(PROXY)

    # INNER_PROXY is not trusted, so CLIENT left of it may have been written by anyone.
    address = client_ip(request_from(PROXY, forwarded_for=f"{CLIENT}, {INNER_PROXY}"))

    assert address == ip(INNER_PROXY)


def test_every_entry_trusted_gives_leftmost(trust):
    trust("10.0.0.0/8")

    address = client_ip(request_from(PROXY, forwarded_for=f"10.2.0.1, {INNER_PROXY}"))

    assert address == ip("10.2.0.1")


def test_trusted_proxy_without_header_is_the_client(trust):
    trust(PROXY)

    assert client_ip(request_from(PROXY)) == ip(PROXY)
    assert client_ip(request_from(PROXY, forwarded_for="")) == ip(PROXY)


def test_ipv6_proxy_and_client(trust):
    trust("2001:db8:ffff::/48")

    address = client_ip(
        request_from("2001:db8:ffff::10", forwarded_for="2001:db8:1::abcd, 2001:db8:ffff::11")
    )

    assert address == ip("2001:db8:1::abcd")


def test_ipv4_mapped_remote_addr_matches_ipv4_network(trust):
    trust("10.0.0.0/24")

    address = client_ip(request_from(f"::ffff:{PROXY}", forwarded_for=CLIENT))

    assert address == ip(CLIENT)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (f"{CLIENT}:51234", CLIENT),
        ("[2001:db8:1::abcd]", "2001:db8:1::abcd"),
        ("[2001:db8:1::abcd]:443", "2001:db8:1::abcd"),
        (f"  {CLIENT}  ", CLIENT),
    ],
)
def test_entry_with_port_or_brackets_parsed(trust, entry, expected):
    trust(PROXY)

    assert client_ip(request_from(PROXY, forwarded_for=entry)) == ip(expected)


@pytest.mark.parametrize(
    "header",
    [
        "unknown",
        "not-an-ip",
        "203.0.113.999",
        "[2001:db8::1",
        ",",
        f"{FORGED},",
        f"{CLIENT}, ",
        "203.0.113.7:99999999",
    ],
)
def test_malformed_entry_falls_back_to_trusted_proxy(trust, caplog, header):
    trust(PROXY)

    with caplog.at_level(logging.WARNING, logger="portal.client_address"):
        address = client_ip(request_from(PROXY, forwarded_for=header))

    assert address == ip(PROXY)
    assert "X-Forwarded-For" in caplog.text


def test_malformed_entry_hides_forged_entries_left_of_it(trust):
    trust(f"{PROXY},{INNER_PROXY}")

    address = client_ip(request_from(PROXY, forwarded_for=f"{FORGED}, garbage, {INNER_PROXY}"))

    assert address == ip(INNER_PROXY)


def test_malformed_entry_left_of_client_is_not_read(trust, caplog):
    trust(PROXY)

    with caplog.at_level(logging.WARNING, logger="portal.client_address"):
        address = client_ip(request_from(PROXY, forwarded_for=f"garbage, {CLIENT}"))

    assert address == ip(CLIENT)
    assert caplog.text == ""


def test_invalid_remote_addr_gives_none(trust, caplog):
    trust(PROXY)

    with caplog.at_level(logging.WARNING, logger="portal.client_address"):
        address = client_ip(request_from("not-an-ip", forwarded_for=CLIENT))

    assert address is None
    assert "REMOTE_ADDR" in caplog.text


def test_empty_remote_addr_gives_none_quietly(trust, caplog):
    trust(PROXY)

    with caplog.at_level(logging.WARNING, logger="portal.client_address"):
        address = client_ip(request_from("", forwarded_for=CLIENT))

    assert address is None
    assert caplog.text == ""
