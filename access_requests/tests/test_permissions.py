"""Every view of the access request pages, tried as each persona, with the status it must get.

The request under test was made by the requester; its first step waits for their manager, its
second (queued) for the resource owner. The failed grant belongs to the requester too.
Anonymous visitors are sent to sign in.
"""

import pytest
from django.urls import reverse

from access_requests.models import AccessRequest, ApprovalStep, Grant
from access_requests.tests.personas import PERSONAS, build_cast, sign_in

SIGN_IN = 302


@pytest.fixture
def cast(db):
    return build_cast()


def catalog(setup):
    return "get", reverse("access_requests:catalog"), {}


def resource_page(setup):
    return "get", reverse("access_requests:resource_detail", args=[setup.resource.pk]), {}


def submit_request(setup):
    url = reverse("access_requests:resource_detail", args=[setup.resource.pk])
    return "post", url, {"justification": "Release work.", "duration": "7"}


def my_requests(setup):
    return "get", reverse("access_requests:my_requests"), {}


def request_page(setup):
    return "get", reverse("access_requests:request_detail", args=[setup.access_request.pk]), {}


def request_status(setup):
    return "get", reverse("access_requests:request_status", args=[setup.access_request.pk]), {}


def cancel(setup):
    return "post", reverse("access_requests:cancel_request", args=[setup.access_request.pk]), {}


def inbox(setup):
    return "get", reverse("access_requests:inbox"), {}


def decide(setup):
    url = reverse("access_requests:decide_step", args=[setup.manager_step.pk])
    return "post", url, {"decision": "approve"}


def bulk_approve(setup):
    return "post", reverse("access_requests:bulk_approve"), {"steps": [setup.manager_step.pk]}


def retry(setup):
    return "post", reverse("access_requests:retry_grant", args=[setup.failed_grant.pk]), {}


# Columns: requester, manager, owner, admin, outsider, anonymous.
MATRIX = {
    catalog: (200, 200, 200, 200, 200, SIGN_IN),
    resource_page: (200, 200, 200, 200, 200, SIGN_IN),
    # The requester's double submit leads to the request they already have; the others submit
    # a request of their own. Both end in a redirect to a request page.
    submit_request: (302, 302, 302, 302, 302, SIGN_IN),
    my_requests: (200, 200, 200, 200, 200, SIGN_IN),
    request_page: (200, 200, 200, 200, 404, SIGN_IN),
    request_status: (200, 200, 200, 200, 404, SIGN_IN),
    # Approvers and admins may see the request but only the requester may cancel it.
    cancel: (302, 403, 403, 403, 404, SIGN_IN),
    inbox: (200, 200, 200, 200, 200, SIGN_IN),
    # Only the approvers of the step find it; nobody else learns that it exists.
    decide: (404, 302, 404, 404, 404, SIGN_IN),
    # A step that is not waiting for the user is an invalid choice of the bulk form.
    bulk_approve: (400, 302, 400, 400, 400, SIGN_IN),
    retry: (403, 403, 403, 302, 403, SIGN_IN),
}

CASES = [
    pytest.param(view, persona, expected, id=f"{view.__name__}-{persona}")
    for view, statuses in MATRIX.items()
    for persona, expected in zip((*PERSONAS, "anonymous"), statuses, strict=True)
]


@pytest.mark.parametrize(("view", "persona", "expected"), CASES)
def test_permission_matrix(client, cast, view, persona, expected):
    user = cast.persona(persona)
    if user is not None:
        sign_in(client, user)
    method, url, data = view(cast)

    response = getattr(client, method)(url, data)

    assert response.status_code == expected, response.content[:500]
    if persona == "anonymous":
        assert "/oidc/authenticate/" in response["Location"]


def test_matrix_covers_every_url():
    from access_requests import urls

    names = {pattern.name for pattern in urls.urlpatterns}
    # The resource page serves the form too, so it appears twice in the matrix.
    tried = {
        "catalog",
        "resource_detail",
        "my_requests",
        "request_detail",
        "request_status",
        "cancel_request",
        "inbox",
        "decide_step",
        "bulk_approve",
        "retry_grant",
    }
    assert names == tried


@pytest.mark.parametrize("persona", ["requester", "owner", "admin", "outsider"])
def test_non_approver_decision_changes_nothing(client, cast, persona):
    sign_in(client, cast.persona(persona))
    method, url, data = decide(cast)

    client.post(url, data)

    cast.manager_step.refresh_from_db()
    assert cast.manager_step.status == ApprovalStep.Status.WAITING
    assert cast.manager_step.decided_by is None


@pytest.mark.parametrize("persona", ["manager", "owner", "admin", "outsider"])
def test_others_cannot_cancel(client, cast, persona):
    sign_in(client, cast.persona(persona))

    client.post(cancel(cast)[1])

    cast.access_request.refresh_from_db()
    assert cast.access_request.status == AccessRequest.Status.PENDING


@pytest.mark.parametrize("persona", ["requester", "manager", "owner", "outsider"])
def test_non_admin_retry_changes_nothing(client, cast, persona):
    sign_in(client, cast.persona(persona))

    client.post(retry(cast)[1])

    cast.failed_grant.refresh_from_db()
    assert cast.failed_grant.status == Grant.Status.FAILED
