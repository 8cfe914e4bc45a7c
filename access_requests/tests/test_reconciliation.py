"""Reconciliation against the emulator: drift both ways, enforcement, and failed listings."""

import http.server
import threading
import urllib.error
import urllib.request

import pytest
from django.utils import timezone

from access_requests.models import Drift, Grant, OktaOperation, Resource
from access_requests.services import reconciliation
from access_requests.tests import okta_data
from access_requests.tests.conftest import wait_for
from access_requests.tests.grants import active_grant, add_member, group_without, is_member
from audit.models import AuditEvent
from portal import okta_api
from portal.okta_api import get_client

pytestmark = pytest.mark.slow

LARGE_GROUP_SIZE = 450


def drift_keys(resource):
    return {
        (drift.user_okta_id, drift.kind)
        for drift in Drift.objects.filter(resource=resource, resolution=Drift.Resolution.OPEN)
    }


def test_drift_found_both_ways_and_enforce_corrects_it(provisioning_worker, okta_settings):
    okta_org = okta_settings
    users = okta_data.active_users(okta_org)
    intruder = okta_data.portal_user(users[15])
    holder = okta_data.portal_user(users[16])
    group = group_without(okta_org, intruder.okta_id, holder.okta_id)
    resource = okta_data.group_resource(group)
    grant = active_grant(okta_org, holder, resource)
    # Changed in Okta behind the portal's back: one member added, the granted one removed.
    add_member(okta_org, group["id"], intruder.okta_id)
    okta_org.request("DELETE", f"/api/v1/groups/{group['id']}/users/{holder.okta_id}")

    result = reconciliation.reconcile_resource(resource)

    assert result.ok
    assert {
        (intruder.okta_id, Drift.Kind.UNAPPROVED),
        (holder.okta_id, Drift.Kind.MISSING),
    } <= drift_keys(resource)
    # Report-only changes nothing in Okta.
    assert is_member(okta_org, group["id"], intruder.okta_id)
    assert not is_member(okta_org, group["id"], holder.okta_id)
    assert AuditEvent.objects.filter(action="drift.found").count() == len(drift_keys(resource))

    resource.enforcement = Resource.Enforcement.ENFORCE
    resource.save()
    reconciliation.reconcile_resource(resource)
    wait_for(
        lambda: (
            not OktaOperation.objects.filter(status__in=OktaOperation.OPEN).exists()
            and not Grant.objects.filter(status=Grant.Status.REVOKING).exists()
        ),
        timeout=60,
        message="the corrections to be applied",
    )

    assert not is_member(okta_org, group["id"], intruder.okta_id)
    assert is_member(okta_org, group["id"], holder.okta_id)
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert Grant.objects.get(user=intruder, resource=resource).status == Grant.Status.REVOKED
    corrected = Drift.objects.filter(resource=resource, resolution=Drift.Resolution.CORRECTED)
    assert {drift.user_okta_id for drift in corrected} == {intruder.okta_id, holder.okta_id}
    reconciliation.reconcile_resource(resource)
    assert not {intruder.okta_id, holder.okta_id} & {key[0] for key in drift_keys(resource)}


class FailingPagesProxy:
    """A loopback proxy to the emulator that returns 500 for every page after the first."""

    def __init__(self, target_url: str):
        target = target_url

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                if "after=" in self.path:
                    body = b'{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorCauses":[]}'
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
                request = urllib.request.Request(
                    target + self.path, data=data, method=self.command, headers=headers
                )
                try:
                    response = urllib.request.urlopen(request, timeout=10)
                except urllib.error.HTTPError as error:
                    response = error
                body = response.read()
                self.send_response(
                    response.status if hasattr(response, "status") else response.code
                )
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def large_group(okta_org, size: int) -> dict:
    """A new Okta group with `size` new members, created through the Management API."""
    okta_org.set_rate_limits(enabled=False)
    response = okta_org.request(
        "POST", "/api/v1/groups", {"profile": {"name": "Everyone in the warehouse"}}
    )
    assert response.status == 200, response
    group = response.json()
    for number in range(size):
        login = f"warehouse.{number:03d}@example.com"
        body = {
            "profile": {
                "firstName": "Worker",
                "lastName": f"{number:03d}",
                "email": login,
                "login": login,
            },
            "groupIds": [group["id"]],
        }
        created = okta_org.request("POST", "/api/v1/users?activate=true", body)
        assert created.status == 200, created
    return group


def test_listing_failure_on_page_two_changes_nothing(transactional_db, okta_settings, settings):
    okta_org = okta_settings
    group = large_group(okta_org, LARGE_GROUP_SIZE)
    member_ids = sorted(okta_data.group_member_ids(okta_org, group["id"]))
    assert len(member_ids) == LARGE_GROUP_SIZE
    assert okta_api.GROUP_MEMBER_PAGE_SIZE < LARGE_GROUP_SIZE / 2
    resource = okta_data.group_resource(group, enforcement=Resource.Enforcement.ENFORCE)
    # Members on the last page: a comparison that used a partial listing would call the first
    # one's grant missing and the second one's drift gone.
    granted = okta_data.portal_user(okta_api_user(okta_org, member_ids[-1]))
    grant = active_grant(okta_org, granted, resource)
    drift = Drift.objects.create(
        resource=resource,
        user_okta_id=member_ids[-2],
        kind=Drift.Kind.UNAPPROVED,
        source=reconciliation.SOURCE_RECONCILIATION,
        found_at=timezone.now(),
    )

    with FailingPagesProxy(okta_org.url) as proxy:
        settings.OKTA_ORG_URL = proxy.url
        get_client.cache_clear()
        result = reconciliation.reconcile_resource(resource)
    get_client.cache_clear()

    assert not result.ok
    assert "500" in result.error
    assert list(Drift.objects.values_list("pk", "resolution")) == [
        (drift.pk, Drift.Resolution.OPEN)
    ]
    assert not OktaOperation.objects.exists()
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert not AuditEvent.objects.filter(action__startswith="drift.").exists()


def okta_api_user(okta_org, user_id: str) -> dict:
    return okta_org.request("GET", f"/api/v1/users/{user_id}").json()


def test_drift_page_for_admins_only(client, transactional_db, okta_settings):
    from access_requests.tests.personas import make_resource, make_user, sign_in

    admin = make_user("ada.admin", is_admin=True)
    employee = make_user("emil.employee")
    resource = make_resource("Finance Share")
    Drift.objects.create(
        resource=resource,
        user_okta_id="00uNotInThePortal01",
        kind=Drift.Kind.UNAPPROVED,
        source=reconciliation.SOURCE_RECONCILIATION,
    )

    sign_in(client, employee)
    assert client.get("/drift/").status_code == 403
    assert client.post(f"/drift/resources/{resource.pk}/enforcement/").status_code == 403
    sign_in(client, admin)
    page = client.get("/drift/").content.decode()
    assert "00uNotInThePortal01 (not known to the portal)" in page
    assert "In Okta without a grant" in page

    bad = client.post(f"/drift/resources/{resource.pk}/enforcement/", {"enforcement": "loud"})
    assert bad.status_code == 302
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.REPORT_ONLY
    # The group is unknown to Okta, so the dry run cannot list it and enforce stays off.
    dry_run = client.post(
        f"/drift/resources/{resource.pk}/enforcement/", {"enforcement": "enforce"}
    )
    assert dry_run.status_code == 502
    assert "enforcement stays off" in dry_run.content.decode()
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.REPORT_ONLY
    client.post(
        f"/drift/resources/{resource.pk}/enforcement/", {"enforcement": "enforce", "confirm": "yes"}
    )
    resource.refresh_from_db()
    assert resource.enforcement == Resource.Enforcement.ENFORCE
    assert AuditEvent.objects.filter(action="resource.updated").count() == 1
