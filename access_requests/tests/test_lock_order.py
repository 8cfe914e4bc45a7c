"""Row locks never make a deadlock with the audit trail's chain lock.

On PostgreSQL the audit trail's chain is guarded by a transaction-scoped advisory lock. A
transaction that holds it and then waits for a row lock can deadlock with one that holds the
row and waits for the chain. So every row lock comes before the first audit event. Row locks are
also FOR NO KEY UPDATE on the locked table only, because a plain FOR UPDATE, or one that also
locks the joined rows, blocks the foreign-key check of an event that names those rows.
"""

import datetime
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access_requests import services
from access_requests.models import AccessRequest, Grant, OktaOperation, Resource
from access_requests.services import expiry, provisioning
from access_requests.tests.personas import make_resource, make_user
from portal.okta_api import CallInfo, OktaError
from tests_support.chain_lock import while_chain_is_held

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the chain's advisory lock exists on PostgreSQL only"
)


ROW_LOCK = re.compile(r"FOR (NO KEY )?UPDATE")


def assert_row_locks_first(queries) -> None:
    statements = [query["sql"] for query in queries]
    chain = [i for i, sql in enumerate(statements) if "pg_advisory_xact_lock" in sql]
    row_locks = [i for i, sql in enumerate(statements) if ROW_LOCK.search(sql)]
    assert chain and row_locks
    late = [statements[i] for i in row_locks if i > chain[0]]
    assert not late, f"row locks after the first audit event: {late}"
    for i in row_locks:
        sql = statements[i]
        assert "FOR NO KEY UPDATE" in sql, f"a lock that blocks foreign-key checks: {sql}"
        assert " JOIN " not in sql or " OF " in sql, f"a lock on joined rows: {sql}"


def in_flight_operation(grant: Grant, action=OktaOperation.Action.ADD_MEMBER) -> OktaOperation:
    return OktaOperation.objects.create(
        grant=grant,
        action=action,
        status=OktaOperation.Status.IN_FLIGHT,
        claimed_at=timezone.now(),
        attempts=1,
    )


@pytest.fixture
def grant(db):
    user = make_user("lena.locks")
    return Grant.objects.create(
        user=user, resource=make_resource("Lock Room"), status=Grant.Status.PROVISIONING
    )


def test_success_of_an_operation(grant):
    operation = in_flight_operation(grant)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        provisioning._succeed(operation, CallInfo(request_id="req-1"), pre_existing=False)
    assert_row_locks_first(queries)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE


def test_failure_of_an_operation(grant):
    operation = in_flight_operation(grant)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        provisioning._fail(operation, OktaError("Refused", status=403, error_code="E0000006"))
    assert_row_locks_first(queries)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.FAILED


def test_approval_of_an_extension(db):
    owner = make_user("oscar.owner")
    holder = make_user("hal.holder")
    resource = make_resource("Lock Vault", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(owner)
    held = Grant.objects.create(
        user=holder,
        resource=resource,
        status=Grant.Status.ACTIVE,
        ends_at=timezone.now() + datetime.timedelta(days=2),
    )
    extension, _ = expiry.request_extension(
        held, by=holder, ends_at=held.ends_at + datetime.timedelta(days=5), justification="x"
    )
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        services.decide_step(extension.steps.get(), by=owner, approve=True)
    assert_row_locks_first(queries)
    assert AccessRequest.objects.get(pk=extension.pk).status == AccessRequest.Status.APPROVED


@pytest.mark.django_db(transaction=True)
def test_decision_while_an_event_names_the_requester():
    """Replay a worker's event about the requester racing an approval of their request.

    The worker holds the chain lock until its commit, where PostgreSQL checks the event's
    reference to the requester. Meanwhile the approval locks its rows and waits for the chain.
    Neither may wait for a lock the other holds.
    """
    owner = make_user("olga.owner")
    requester = make_user("rita.requester")
    resource = make_resource(
        "Deadlock Room", approval_policy=Resource.ApprovalPolicy.OWNERS, allow_no_end=True
    )
    resource.owners.add(owner)
    request_obj, _created = services.submit_request(
        requester, resource, justification="On call", ends_at=None
    )
    step = request_obj.steps.get()

    failures = while_chain_is_held(
        requester, lambda: services.decide_step(step, by=owner, approve=True)
    )

    assert not failures, failures
    assert AccessRequest.objects.get(pk=request_obj.pk).status == AccessRequest.Status.APPROVED
