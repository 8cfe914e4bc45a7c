"""Races between simultaneous decisions and submits, on PostgreSQL with a real worker.

Each race starts two threads at a barrier; each thread has its own database connection, so
the two transactions really overlap and only the row locks keep them apart.
"""

import threading

import pytest
from django.db import connection, connections

from access_requests import errors, services
from access_requests.models import AccessRequest, Grant, Resource
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.test_reliability import settled, setup_pairs
from audit.models import AuditEvent

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def postgresql_only(django_db_blocker):
    with django_db_blocker.unblock():
        vendor = connection.vendor
    if vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite runs one write transaction at a time, so these races "
            "cannot happen there (CI runs this file on PostgreSQL)"
        )


def race(function, arguments: list[tuple]) -> list:
    """Call `function(*args)` for each args tuple in its own thread, all at once.

    Returns each call's result or raised AccessRequestError, in the order of `arguments`.
    """
    barrier = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)

    def run(index: int, args: tuple) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = function(*args)
        except errors.AccessRequestError as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, args)) for index, args in enumerate(arguments)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def count_events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_two_approvers_at_once_decide_once(provisioning_worker, okta_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    second_owner = okta_data.portal_user(okta_data.active_users(okta_org)[-1])
    resource.owners.add(second_owner)
    since = okta_data.emulator_now(okta_org)
    request_obj, _created = services.submit_request(
        requester, resource, justification="On call", ends_at=None
    )
    step = request_obj.steps.get()

    results = race(
        lambda approver: services.decide_step(step, by=approver, approve=True),
        [(owner,), (second_owner,)],
    )

    refused = [result for result in results if isinstance(result, errors.AlreadyDecided)]
    assert len(refused) == 1, results
    grant = Grant.objects.get(request=request_obj)
    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant")
    assert Grant.objects.count() == 1
    assert count_events("step.approved") == 1
    assert count_events("request.approved") == 1
    assert count_events("grant.applied") == 1
    assert okta_data.membership_adds(okta_org, since) == {(requester.okta_id, resource.okta_id): 1}


def test_same_submit_twice_at_once_creates_one(provisioning_worker, okta_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    since = okta_data.emulator_now(okta_org)

    def submit():
        return services.submit_request(requester, resource, justification="On call", ends_at=None)

    results = race(submit, [(), ()])

    assert sorted(created for _request, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert AccessRequest.objects.count() == 1
    services.decide_step(results[0][0].steps.get(), by=owner, approve=True)
    grant = Grant.objects.get()
    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant")
    assert count_events("request.submitted") == 1
    assert count_events("grant.applied") == 1
    assert okta_data.membership_adds(okta_org, since) == {(requester.okta_id, resource.okta_id): 1}


def test_automatic_submit_twice_at_once_creates_one(provisioning_worker, okta_settings):
    okta_org = okta_settings
    _owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    resource.approval_policy = Resource.ApprovalPolicy.AUTOMATIC
    resource.save(update_fields=["approval_policy"])
    since = okta_data.emulator_now(okta_org)

    def submit():
        return services.submit_request(requester, resource, justification="On call", ends_at=None)

    results = race(submit, [(), ()])

    assert not any(isinstance(result, errors.AccessRequestError) for result in results), results
    assert sorted(created for _request, created in results) == [False, True]
    assert results[0][0].pk == results[1][0].pk
    assert AccessRequest.objects.count() == 1
    grant = Grant.objects.get()
    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant")
    assert count_events("request.submitted") == 1
    assert count_events("request.approved") == 1
    assert count_events("grant.applied") == 1
    assert okta_data.membership_adds(okta_org, since) == {(requester.okta_id, resource.okta_id): 1}
