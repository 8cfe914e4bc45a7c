"""The catalog, inbox and "my requests" pages issue the same number of queries for a few rows as
for more than a page: related rows are loaded up front, never once per row.

The pinned numbers include the session, the user and the message storage that every signed-in
page reads.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import AccessRequest, Grant
from access_requests.tests.personas import make_resource, make_user, sign_in, submit
from access_requests.views.inbox import STEPS_PER_PAGE

SIZES = [3, 20]
# More than one page of the inbox, whose cards are paged.
INBOX_SIZES = [3, 30]

CATALOG_QUERIES = 4
INBOX_QUERIES = 5
MY_REQUESTS_QUERIES = 5


@pytest.fixture
def manager(db):
    return make_user("maria.manager")


def make_requests(manager, count: int) -> list[AccessRequest]:
    """Create `count` requesters, each with a pending request that waits for `manager`, an
    active grant, and requests in each other state."""
    created = []
    for number in range(count):
        requester = make_user(f"requester.n{number:03d}", manager=manager, department="Ops")
        resource = make_resource(f"Group {number:03d}", approval_policy="manager")
        created.append(submit(requester, resource))
        held = make_resource(f"Held {number:03d}")
        Grant.objects.create(user=requester, resource=held, status=Grant.Status.ACTIVE)
    return created


def make_my_requests(requester, count: int) -> None:
    """Give `requester` `count` requests across every status, some with grants."""
    statuses = [status for status, _ in AccessRequest.Status.choices]
    for number in range(count):
        resource = make_resource(f"Mine {number:03d}", approval_policy="manager")
        status = statuses[number % len(statuses)]
        access_request = AccessRequest.objects.create(
            requester=requester,
            resource=resource,
            status=status,
            requested_ends_at=timezone.now() + datetime.timedelta(days=7),
        )
        if status == AccessRequest.Status.APPROVED:
            grant_status = Grant.Status.FAILED if number % 2 else Grant.Status.ACTIVE
            Grant.objects.create(
                user=requester,
                resource=resource,
                request=access_request,
                status=grant_status,
                failure_reason="Refused by Okta." if grant_status == Grant.Status.FAILED else "",
            )


@pytest.mark.parametrize("size", SIZES)
def test_catalog_queries(client, django_assert_num_queries, manager, size):
    for number in range(size):
        make_resource(f"Catalog {number:03d}")
    sign_in(client, manager)

    with django_assert_num_queries(CATALOG_QUERIES):
        response = client.get(reverse("access_requests:catalog"))

    assert response.content.decode().count("Catalog 0") == size


@pytest.mark.parametrize("size", INBOX_SIZES)
def test_inbox_queries(client, django_assert_num_queries, manager, size):
    make_requests(manager, size)
    sign_in(client, manager)

    with django_assert_num_queries(INBOX_QUERIES):
        response = client.get(reverse("access_requests:inbox"))

    content = response.content.decode()
    assert content.count('<article id="step-') == min(size, STEPS_PER_PAGE)
    assert f"{size} requests waiting" in content
    assert "Held 000" in content


@pytest.mark.parametrize("size", SIZES)
def test_my_requests_queries(client, django_assert_num_queries, manager, size):
    requester = make_user("rob.requester", manager=manager)
    make_my_requests(requester, size)
    sign_in(client, requester)

    with django_assert_num_queries(MY_REQUESTS_QUERIES):
        response = client.get(reverse("access_requests:my_requests"))

    assert response.content.decode().count("Mine 0") == size
