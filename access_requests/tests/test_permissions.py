"""Every view of the access request pages, tried as each persona, with the status it must get.

The request under test was made by the requester; its first step waits for their manager, its
second (queued) for the resource owner. The failed grant belongs to the requester too.
Anonymous visitors are sent to sign in.
"""

import pytest
from django.urls import resolve, reverse

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


def revoke_page(setup):
    return "get", reverse("access_requests:revoke_grant", args=[setup.active_grant.pk]), {}


def give_up_page(setup):
    return "get", reverse("access_requests:give_up_grant", args=[setup.active_grant.pk]), {}


def extend_page(setup):
    return "get", reverse("access_requests:extend_grant", args=[setup.active_grant.pk]), {}


def expiring_soon(setup):
    return "get", reverse("access_requests:expiring_soon"), {}


def renew(setup):
    url = reverse("access_requests:renew_grant", args=[setup.active_grant.pk])
    return "post", url, {"days": 30}


def retry_removal(setup):
    url = reverse("access_requests:retry_revocation", args=[setup.revoking_grant.pk])
    return "post", url, {}


def drift_list(setup):
    return "get", reverse("access_requests:drift_list"), {}


def reconcile_now(setup):
    return "post", reverse("access_requests:reconcile_now"), {}


def correct_drift(setup):
    return "post", reverse("access_requests:correct_drift", args=[setup.drift.pk]), {}


def set_enforcement(setup):
    url = reverse("access_requests:set_enforcement", args=[setup.resource.pk])
    return "post", url, {"enforcement": "enforce", "confirm": "yes"}


def okta_event_hook(setup):
    return "post", reverse("access_requests:okta_event_hook"), {}


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
    # A step that is not waiting for the user is reported on the inbox, not approved.
    bulk_approve: (302, 302, 302, 302, 302, SIGN_IN),
    retry: (403, 403, 403, 302, 403, SIGN_IN),
    # Owners and admins revoke; only the holder gives up or requests an extension.
    revoke_page: (403, 403, 200, 200, 403, SIGN_IN),
    give_up_page: (200, 403, 403, 403, 403, SIGN_IN),
    extend_page: (200, 403, 403, 403, 403, SIGN_IN),
    expiring_soon: (200, 200, 200, 200, 200, SIGN_IN),
    # Holders cannot renew their own access; owners and admins can.
    renew: (403, 403, 302, 302, 403, SIGN_IN),
    retry_removal: (403, 403, 403, 302, 403, SIGN_IN),
    drift_list: (403, 403, 403, 200, 403, SIGN_IN),
    reconcile_now: (403, 403, 403, 302, 403, SIGN_IN),
    correct_drift: (403, 403, 403, 302, 403, SIGN_IN),
    set_enforcement: (403, 403, 403, 302, 403, SIGN_IN),
    # Okta's deliveries carry a shared secret instead of a session: a session alone gets 401.
    okta_event_hook: (401, 401, 401, 401, 401, 401),
}

CASES = [
    pytest.param(view, persona, expected, id=f"{view.__name__}-{persona}")
    for view, statuses in MATRIX.items()
    for persona, expected in zip((*PERSONAS, "anonymous"), statuses, strict=True)
]


@pytest.mark.parametrize(("view", "persona", "expected"), CASES)
def test_permission_matrix(client, cast, worker_queue, view, persona, expected):
    # worker_queue: a task the view sends (reconcile_now) goes to a queue no worker reads.
    user = cast.persona(persona)
    if user is not None:
        sign_in(client, user)
    method, url, data = view(cast)

    response = getattr(client, method)(url, data)

    assert response.status_code == expected, response.content[:500]
    if persona == "anonymous" and expected == SIGN_IN:
        assert "/oidc/authenticate/" in response["Location"]


def test_matrix_covers_every_url(cast):
    """Fails when a URL is added to access_requests without a row in the matrix."""
    from access_requests import urls

    names = {pattern.name for pattern in urls.urlpatterns}
    tried = {resolve(view(cast)[1]).url_name for view in MATRIX}

    assert names - tried == set()


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
