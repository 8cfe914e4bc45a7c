"""Provisioning survives a broker outage, a worker killed mid-call, and a faulty Okta.

Every test runs a real worker process against the emulator and checks the outcome in Okta
(membership and System Log) as well as in the portal's database and audit trail.
"""

import time

import pytest

from access_requests import services
from access_requests.models import Grant, OktaOperation, Resource
from access_requests.tests import okta_data
from access_requests.tests.conftest import TEST_CLAIM_TIMEOUT_SECONDS, wait_for
from audit.models import AuditEvent
from okta_emulator.testing import free_port
from portal.celery import app as celery_app

pytestmark = pytest.mark.slow

MEMBERSHIP_PATH = "/api/v1/groups/*/users/*"


@pytest.fixture
def sweep_settings(settings):
    """Let this process's sweep reclaim and re-send as soon as the worker's settings would."""
    settings.PORTAL_OKTA_CLAIM_TIMEOUT_SECONDS = TEST_CLAIM_TIMEOUT_SECONDS
    settings.PORTAL_OKTA_RESEND_AFTER_SECONDS = 0
    return settings


def setup_pairs(okta_org, count: int):
    """Return `count` (portal user, resource) pairs whose user is not yet in the group in Okta.

    Every resource uses the owners policy with one shared owner, who is returned too.
    """
    users = okta_data.active_users(okta_org)
    groups = okta_data.okta_groups(okta_org)
    members = {group["id"]: okta_data.group_member_ids(okta_org, group["id"]) for group in groups}
    owner = okta_data.portal_user(users[0], login="owner@example.com")
    portal_users, resources, pairs = {}, {}, []
    for group in groups:
        for user in users[1:]:
            if user["id"] in members[group["id"]]:
                continue
            if user["id"] not in portal_users:
                portal_users[user["id"]] = okta_data.portal_user(user)
            if group["id"] not in resources:
                resources[group["id"]] = okta_data.group_resource(group)
                resources[group["id"]].owners.add(owner)
            pairs.append((portal_users[user["id"]], resources[group["id"]]))
            if len(pairs) == count:
                return owner, pairs
    raise AssertionError(f"the org has only {len(pairs)} user/group pairs without membership")


def approve(owner, requester, resource) -> Grant:
    request_obj, created = services.submit_request(
        requester, resource, justification="On call", ends_at=None
    )
    assert created
    services.decide_step(request_obj.steps.get(), by=owner, approve=True)
    return Grant.objects.get(request=request_obj)


def settled(grant_pks) -> bool:
    return not Grant.objects.filter(pk__in=grant_pks, status=Grant.Status.PROVISIONING).exists()


def switch_broker(url: str, settings) -> None:
    """Point this process's Celery app and broker probe at `url`."""
    settings.CELERY_BROKER_URL = url
    celery_app.conf.broker_url = url
    # Not closed: kombu keeps one producer pool per broker URL for the whole process, and
    # switching back must find the original one usable.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_broker_down_then_sweep_applies(provisioning_worker, okta_settings, sweep_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    request_obj, _created = services.submit_request(
        requester, resource, justification="On call", ends_at=None
    )
    original_broker = sweep_settings.CELERY_BROKER_URL

    switch_broker(f"redis://127.0.0.1:{free_port()}/0", sweep_settings)
    started = time.monotonic()
    try:
        services.decide_step(request_obj.steps.get(), by=owner, approve=True)
        elapsed = time.monotonic() - started
    finally:
        switch_broker(original_broker, sweep_settings)

    grant = Grant.objects.get(request=request_obj)
    # The approval must not wait for the broker: the operation stays in the outbox.
    assert elapsed < 2.0, f"approving took {elapsed:.1f} s with the broker down"
    time.sleep(1.0)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.PROVISIONING
    assert grant.operations.get().status == OktaOperation.Status.PENDING

    assert services.sweep_operations() == {"reclaimed": 0, "resent": 1}

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant after the sweep")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert requester.okta_id in okta_data.group_member_ids(okta_org, resource.okta_id)


def test_worker_killed_mid_call_applies_once(provisioning_worker, okta_settings, sweep_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    since = okta_data.emulator_now(okta_org)
    okta_org.set_fault(MEMBERSHIP_PATH, latency_ms=4000, methods=["PUT"])

    grant = approve(owner, requester, resource)
    operation = grant.operations.get()
    wait_for(
        lambda: OktaOperation.objects.filter(
            pk=operation.pk, status=OktaOperation.Status.IN_FLIGHT
        ).exists(),
        timeout=60,
        message="the worker to claim the operation",
    )
    # The claim is recorded just before the call; leave it time to reach the emulator.
    time.sleep(1.5)
    provisioning_worker.kill()
    okta_org.clear_faults()
    provisioning_worker.start()
    time.sleep(TEST_CLAIM_TIMEOUT_SECONDS + 0.5)

    assert services.sweep_operations() == {"reclaimed": 1, "resent": 1}

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant after the restart")
    grant.refresh_from_db()
    operation.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    # The second attempt must not mistake the first attempt's change for pre-existing access.
    assert grant.pre_existing is False
    assert operation.status == OktaOperation.Status.SUCCEEDED
    assert operation.attempts == 2
    adds = okta_data.membership_adds(okta_org, since)
    assert adds == {(requester.okta_id, resource.okta_id): 1}
    assert AuditEvent.objects.filter(action="grant.applied", grant_id=grant.pk).count() == 1


@pytest.mark.worker_concurrency(3)
# Creating 200 approvals through the services dominates the run time on a loaded machine.
@pytest.mark.timeout(600)
def test_faulty_okta_applies_every_approval_once(
    provisioning_worker, okta_settings, sweep_settings
):
    okta_org = okta_settings
    # A short window keeps the injected 429s' waits short.
    okta_org.set_rate_limits(window_seconds=2)
    owner, pairs = setup_pairs(okta_org, 200)
    since = okta_data.emulator_now(okta_org)
    # Three rules of 10% each: the first matching rule that fires answers.
    for status, fraction in ((500, 0.1), (503, 0.1 / 0.9), (429, 0.1 / 0.8)):
        okta_org.set_fault("/api/v1/*", status=status, fraction=fraction)

    grants = [approve(owner, requester, resource) for requester, resource in pairs]
    grant_pks = [grant.pk for grant in grants]
    wait_for(lambda: settled(grant_pks), timeout=400, interval=1.0, message="all 200 grants")
    okta_org.clear_faults()

    statuses = set(Grant.objects.filter(pk__in=grant_pks).values_list("status", flat=True))
    assert statuses == {Grant.Status.ACTIVE}
    retried = OktaOperation.objects.filter(grant__in=grant_pks, attempts__gt=1).count()
    assert retried > 0, "the faults should have made some operations retry"
    adds = okta_data.membership_adds(okta_org, since)
    expected = {(user.okta_id, resource.okta_id) for user, resource in pairs}
    assert set(adds) == expected
    assert max(adds.values()) == 1
    applied = AuditEvent.objects.filter(action="grant.applied").count()
    assert applied == 200
    assert not Grant.objects.filter(pk__in=grant_pks, pre_existing=True).exists()


def test_permanent_failure_marks_grant_failed(provisioning_worker, okta_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    # A 403 stands for any refusal that repeating will not fix, such as E0000038 for a user
    # whose Okta status does not allow the change.
    okta_org.set_fault(MEMBERSHIP_PATH, status=403, methods=["PUT"])

    grant = approve(owner, requester, resource)

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant to fail")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.FAILED
    assert "403" in grant.failure_reason
    assert grant.operations.get().status == OktaOperation.Status.FAILED

    okta_org.clear_faults()
    admin = okta_data.portal_user(okta_data.active_users(okta_org)[-1], is_admin=True)
    services.retry_grant(grant, by=admin)

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the retried grant")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert requester.okta_id in okta_data.group_member_ids(okta_org, resource.okta_id)


def test_existing_membership_is_pre_existing(provisioning_worker, okta_settings):
    okta_org = okta_settings
    owner, [(requester, resource)] = setup_pairs(okta_org, 1)
    put = okta_org.request("PUT", f"/api/v1/groups/{resource.okta_id}/users/{requester.okta_id}")
    assert put.status == 204
    since = okta_data.emulator_now(okta_org)

    grant = approve(owner, requester, resource)

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the grant")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert grant.pre_existing is True
    assert okta_data.membership_adds(okta_org, since) == {}
    assert AuditEvent.objects.filter(action="grant.pre_existing").count() == 1


def test_app_assignment(provisioning_worker, okta_settings):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    apps = okta_data.get_all(okta_org, "/api/v1/apps?limit=200")
    app, requester_okta = next(
        (app, user)
        for app in apps
        if app["status"] == "ACTIVE"
        for user in users[5:]
        if user["id"]
        not in {
            assigned["id"]
            for assigned in okta_data.get_all(okta_org, f"/api/v1/apps/{app['id']}/users")
        }
    )
    owner = okta_data.portal_user(users[0])
    requester = okta_data.portal_user(requester_okta)
    resource = Resource.objects.create(
        kind=Resource.Kind.APP,
        okta_id=app["id"],
        name=app["label"],
        okta_status="ACTIVE",
        requestable=True,
        approval_policy=Resource.ApprovalPolicy.OWNERS,
        allow_no_end=True,
    )
    resource.owners.add(owner)

    grant = approve(owner, requester, resource)

    wait_for(lambda: settled([grant.pk]), timeout=60, message="the app grant")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assigned = okta_org.request("GET", f"/api/v1/apps/{app['id']}/users/{requester.okta_id}")
    assert assigned.status == 200
    assert assigned.json()["scope"] == "USER"
