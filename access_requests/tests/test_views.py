"""Behaviour of the access request pages: search, the request form's messages, double submit,
live status, inline decisions, bulk approve, failed grants and retry."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from access_requests.models import AccessRequest, ApprovalStep, Grant, OktaOperation, Resource
from access_requests.tests.personas import build_cast, make_resource, sign_in, submit
from access_requests.views.requests import STOP_POLLING

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def cast(db):
    return build_cast()


def resource_url(resource):
    return reverse("access_requests:resource_detail", args=[resource.pk])


def decide_url(step):
    return reverse("access_requests:decide_step", args=[step.pk])


# --- Catalog ---------------------------------------------------------------------------------


def test_catalog_search_returns_partial(client, cast):
    make_resource("Payroll App", kind="app", group_type="", okta_id="0oapayroll")
    sign_in(client, cast.outsider)

    response = client.get(
        reverse("access_requests:catalog"),
        {"q": "payroll"},
        HTTP_HX_TARGET="catalog-results",
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Payroll App" in content
    assert "Engineering Wiki" not in content
    assert "<html" not in content


def test_catalog_full_page_has_live_search(client, cast):
    sign_in(client, cast.outsider)

    content = client.get(reverse("access_requests:catalog")).content.decode()

    assert 'hx-trigger="input changed delay:300ms, search"' in content
    assert 'role="search"' in content
    assert "Engineering Wiki" in content


def test_catalog_pages(client, cast):
    for number in range(30):
        make_resource(f"Team {number:02d}")
    sign_in(client, cast.outsider)

    first = client.get(reverse("access_requests:catalog"), {"q": "Team"}).content.decode()
    second = client.get(
        reverse("access_requests:catalog"), {"q": "Team", "page": 2}
    ).content.decode()

    assert "Team 00" in first
    assert "Team 29" not in first
    assert 'href="?q=Team&amp;page=2"' in first
    assert 'hx-get="/catalog/?q=Team&amp;page=2"' in first
    assert "Team 29" in second
    assert "Page 2 of 2" in second


def test_catalog_shows_why_not_requestable(client, cast):
    make_resource("Everyone", group_type="BUILT_IN", requestable=False)
    sign_in(client, cast.outsider)

    content = client.get(reverse("access_requests:catalog"), {"q": "Everyone"}).content.decode()

    assert "built-in Okta group" in content


# --- Resource page and request form ----------------------------------------------------------


def test_resource_page_shows_approvers_and_own_access(client, cast):
    sign_in(client, cast.requester)

    content = client.get(resource_url(cast.resource)).content.decode()

    assert "Maria Manager" in content
    assert "Olga Owner" in content
    assert "Follow your request" in content


def test_request_without_justification_is_refused_at_field(client, cast):
    sign_in(client, cast.outsider)

    response = client.post(resource_url(cast.resource), {"justification": "", "duration": "7"})

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_justification_error"' in content
    assert "Enter a justification" in content
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_custom_end_without_date_is_refused(client, cast):
    sign_in(client, cast.outsider)

    response = client.post(
        resource_url(cast.resource), {"justification": "Audit.", "duration": "custom"}
    )

    assert 'id="id_end_date_error"' in response.content.decode()
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_past_end_date_is_refused(client, cast):
    sign_in(client, cast.outsider)
    yesterday = (timezone.now() - datetime.timedelta(days=1)).date().isoformat()

    response = client.post(
        resource_url(cast.resource),
        {"justification": "Audit.", "duration": "custom", "end_date": yesterday},
    )

    assert "is in the past" in response.content.decode()
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_end_over_maximum_is_refused_by_service(client, cast):
    sign_in(client, cast.outsider)
    too_late = (timezone.now() + datetime.timedelta(days=200)).date().isoformat()

    response = client.post(
        resource_url(cast.resource),
        {"justification": "Audit.", "duration": "custom", "end_date": too_late},
    )

    content = response.content.decode()
    assert 'id="id_end_date_error"' in content
    assert "at most 90 days" in content
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_end_date_out_of_range_is_refused(client, cast):
    sign_in(client, cast.outsider)

    response = client.post(
        resource_url(cast.resource),
        {"justification": "Audit.", "duration": "custom", "end_date": "9999-12-31"},
    )

    content = response.content.decode()
    assert 'id="id_end_date_error"' in content
    assert "can last at most 90 days: choose an end on or before" in content
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_no_end_only_where_allowed(client, cast):
    sign_in(client, cast.outsider)

    response = client.post(
        resource_url(cast.resource), {"justification": "Audit.", "duration": "none"}
    )

    assert "Choose one of the durations offered" in response.content.decode()
    assert not AccessRequest.objects.filter(requester=cast.outsider).exists()


def test_preset_over_maximum_not_offered(client, cast):
    short = make_resource("Prod Console", max_duration_days=7)
    sign_in(client, cast.outsider)

    content = client.get(resource_url(short)).content.decode()

    assert 'value="7"' in content
    assert 'value="30"' not in content


def test_custom_end_date_submits_request(client, cast):
    sign_in(client, cast.outsider)
    end = (timezone.now() + datetime.timedelta(days=10)).date()

    response = client.post(
        resource_url(cast.resource),
        {"justification": "Audit.", "duration": "custom", "end_date": end.isoformat()},
    )

    created = AccessRequest.objects.get(requester=cast.outsider)
    assert response.status_code == 302
    assert response["Location"] == reverse("access_requests:request_detail", args=[created.pk])
    assert created.requested_ends_at.date() in (end, end + datetime.timedelta(days=1))


def test_double_submit_shows_existing_request(client, cast):
    sign_in(client, cast.requester)

    response = client.post(
        resource_url(cast.resource), {"justification": "Again.", "duration": "7"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse(
        "access_requests:request_detail", args=[cast.access_request.pk]
    )
    assert "already have a pending request" in response.content.decode()
    assert (
        AccessRequest.objects.filter(requester=cast.requester, resource=cast.resource).count() == 1
    )


def test_double_submit_of_automatic_request(client, cast):
    vpn = make_resource("VPN Users", approval_policy=Resource.ApprovalPolicy.AUTOMATIC)
    sign_in(client, cast.outsider)
    form = {"justification": "Remote work.", "duration": "7"}

    first = client.post(resource_url(vpn), form)
    second = client.post(resource_url(vpn), form, follow=True)

    created = AccessRequest.objects.get(requester=cast.outsider, resource=vpn)
    assert created.status == AccessRequest.Status.APPROVED
    detail = reverse("access_requests:request_detail", args=[created.pk])
    assert first["Location"] == detail
    assert second.redirect_chain[-1][0] == detail
    assert "was already approved: here it is" in second.content.decode()


def test_not_requestable_has_no_form(client, cast):
    closed = make_resource("Finance Share", requestable=False)
    sign_in(client, cast.outsider)

    content = client.get(resource_url(closed)).content.decode()

    assert "not enabled by an admin" in content
    assert "Request access</button>" not in content


# --- My requests and live status -------------------------------------------------------------


def test_my_requests_polls_while_pending(client, cast):
    sign_in(client, cast.requester)

    content = client.get(reverse("access_requests:my_requests")).content.decode()

    assert 'hx-trigger="every 5s"' in content
    assert 'aria-live="polite"' in content
    assert "Waiting for approval" in content


def test_my_requests_poll_without_change(client, cast):
    sign_in(client, cast.requester)
    url = reverse("access_requests:my_requests")
    poll = {**HTMX, "HTTP_HX_TARGET": "my-requests"}
    page = client.get(url).content.decode()
    seen = re.search(r'id="my-requests-seen" name="seen" value="([^"]*)"', page).group(1)

    unchanged = client.get(url, {"seen": seen}, **poll)
    changed = client.get(url, {"seen": "outdated"}, **poll)

    assert f"{cast.access_request.pk}:waiting" in seen
    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert f'value="{seen}"' in changed.content.decode()
    assert "<html" not in changed.content.decode()


def apply_request(cast):
    Grant.objects.create(
        user=cast.requester,
        resource=cast.resource,
        request=cast.access_request,
        status=Grant.Status.ACTIVE,
    )
    AccessRequest.objects.filter(pk=cast.access_request.pk).update(
        status=AccessRequest.Status.APPROVED
    )


def status_url(cast):
    return reverse("access_requests:request_status", args=[cast.access_request.pk])


def test_status_poll_stops_once_applied(client, cast):
    apply_request(cast)
    sign_in(client, cast.requester)

    response = client.get(status_url(cast), {"seen": "applying"}, **HTMX)

    assert response.status_code == STOP_POLLING
    assert 'data-progress="applied"' in response.content.decode()


def test_status_poll_while_pending(client, cast):
    sign_in(client, cast.requester)

    first = client.get(status_url(cast), **HTMX)
    unchanged = client.get(status_url(cast), {"seen": first.context["state"]}, **HTMX)

    assert unchanged.status_code == 204
    assert first.status_code == 200
    assert 'data-progress="waiting"' in first.content.decode()


def test_request_page_polls_while_pending(client, cast):
    sign_in(client, cast.requester)
    url = reverse("access_requests:request_detail", args=[cast.access_request.pk])

    content = client.get(url).content.decode()

    assert 'hx-trigger="every 3s"' in content
    assert 'aria-live="polite"' in content


def test_request_page_settled_has_no_poll(client, cast):
    apply_request(cast)
    sign_in(client, cast.requester)
    url = reverse("access_requests:request_detail", args=[cast.access_request.pk])

    content = client.get(url).content.decode()

    assert "Applied in Okta" in content
    assert "hx-trigger" not in content


def test_cancel_while_pending(client, cast):
    sign_in(client, cast.requester)

    url = reverse("access_requests:cancel_request", args=[cast.access_request.pk])
    response = client.post(url, follow=True)

    cast.access_request.refresh_from_db()
    assert cast.access_request.status == AccessRequest.Status.CANCELLED
    assert "was cancelled" in response.content.decode()


def test_cancel_twice_says_why(client, cast):
    sign_in(client, cast.requester)
    url = reverse("access_requests:cancel_request", args=[cast.access_request.pk])
    client.post(url)

    response = client.post(url, follow=True)

    assert "can no longer be cancelled" in response.content.decode()


# --- Failed grants ---------------------------------------------------------------------------


def failed_request_url(cast):
    return reverse("access_requests:request_detail", args=[cast.failed_grant.request_id])


def test_failure_reason_shown_to_requester(client, cast):
    sign_in(client, cast.requester)

    content = client.get(failed_request_url(cast)).content.decode()

    assert "This group does not accept members" in content
    assert "Retry in Okta" not in content


def test_failure_reason_and_retry_shown_to_admin(client, cast):
    sign_in(client, cast.admin)

    content = client.get(failed_request_url(cast)).content.decode()

    assert "This group does not accept members" in content
    assert "Retry in Okta" in content


def test_admin_retry_queues_operation(client, cast):
    sign_in(client, cast.admin)

    url = reverse("access_requests:retry_grant", args=[cast.failed_grant.pk])
    response = client.post(url)

    cast.failed_grant.refresh_from_db()
    assert response.status_code == 302
    assert cast.failed_grant.status == Grant.Status.PROVISIONING
    assert OktaOperation.objects.filter(grant=cast.failed_grant).count() == 1


# --- Inbox -----------------------------------------------------------------------------------


def test_inbox_shows_requester_context(client, cast):
    Grant.objects.create(
        user=cast.requester, resource=make_resource("VPN"), status=Grant.Status.ACTIVE
    )
    sign_in(client, cast.manager)

    content = client.get(reverse("access_requests:inbox")).content.decode()

    assert "Rob Requester" in content
    assert "Engineering" in content
    assert "Developer" in content
    assert "Maria Manager" in content
    assert "VPN" in content
    assert "Needed for the quarterly report." in content


def test_inline_approve_swaps_card(client, cast):
    sign_in(client, cast.manager)

    response = client.post(decide_url(cast.manager_step), {"decision": "approve"}, **HTMX)

    content = response.content.decode()
    cast.manager_step.refresh_from_db()
    assert response.status_code == 200
    assert f'id="step-{cast.manager_step.pk}"' in content
    assert "You approved this request." in content
    assert cast.manager_step.status == ApprovalStep.Status.APPROVED


def test_deny_needs_comment(client, cast):
    sign_in(client, cast.manager)

    response = client.post(decide_url(cast.manager_step), {"decision": "deny"}, **HTMX)

    cast.manager_step.refresh_from_db()
    assert "Enter a comment to deny" in response.content.decode()
    assert cast.manager_step.status == ApprovalStep.Status.WAITING


def test_decision_missing_is_explained(client, cast):
    sign_in(client, cast.manager)

    response = client.post(decide_url(cast.manager_step), {"comment": "Fine."}, **HTMX)

    cast.manager_step.refresh_from_db()
    assert "Choose approve or deny." in response.content.decode()
    assert cast.manager_step.status == ApprovalStep.Status.WAITING


def test_deny_with_comment(client, cast):
    sign_in(client, cast.manager)

    client.post(decide_url(cast.manager_step), {"decision": "deny", "comment": "Not on this team."})

    cast.access_request.refresh_from_db()
    assert cast.access_request.status == AccessRequest.Status.DENIED


def test_late_decision_says_already_decided(client, cast):
    sign_in(client, cast.manager)
    client.post(decide_url(cast.manager_step), {"decision": "approve"})

    response = client.post(decide_url(cast.manager_step), {"decision": "deny", "comment": "No."})

    assert response.status_code == 302
    follow = client.get(response["Location"]).content.decode()
    assert "already decided" in follow.lower()
    cast.manager_step.refresh_from_db()
    assert cast.manager_step.status == ApprovalStep.Status.APPROVED


def test_late_htmx_decision_shows_who_decided(client, cast):
    sign_in(client, cast.manager)
    client.post(decide_url(cast.manager_step), {"decision": "approve"})

    response = client.post(decide_url(cast.manager_step), {"decision": "approve"}, **HTMX)

    content = response.content.decode()
    assert "was already decided: approved by Maria Manager" in content


def test_decision_form_cannot_change_target(client, cast):
    other = make_resource("Secrets Vault")
    sign_in(client, cast.manager)

    client.post(
        decide_url(cast.manager_step),
        {"decision": "approve", "resource": other.pk, "requested_ends_at": "2099-01-01"},
    )

    cast.access_request.refresh_from_db()
    assert cast.access_request.resource_id == cast.resource.pk
    assert cast.access_request.requested_ends_at.year < 2099


def test_bulk_approve(client, cast):
    second_resource = make_resource("Design Files", approval_policy="manager")
    second = submit(cast.requester, second_resource)
    second_step = second.steps.get()
    sign_in(client, cast.manager)

    response = client.post(
        reverse("access_requests:bulk_approve"),
        {"steps": [cast.manager_step.pk, second_step.pk]},
        follow=True,
    )

    assert "You approved 2 requests." in response.content.decode()
    second.refresh_from_db()
    assert second.status == AccessRequest.Status.APPROVED
    cast.manager_step.refresh_from_db()
    assert cast.manager_step.status == ApprovalStep.Status.APPROVED


def test_bulk_approve_without_selection(client, cast):
    sign_in(client, cast.manager)

    response = client.post(reverse("access_requests:bulk_approve"), {})

    assert response.status_code == 400
    assert "Select at least one request" in response.content.decode()


def test_bulk_approve_non_numeric_step(client, cast):
    sign_in(client, cast.manager)

    response = client.post(
        reverse("access_requests:bulk_approve"), {"steps": [cast.manager_step.pk, "abc"]}
    )

    assert response.status_code == 400
    assert "Invalid step id “abc”" in response.content.decode()
    cast.manager_step.refresh_from_db()
    assert cast.manager_step.status != ApprovalStep.Status.APPROVED


def owners_queue(cast, count: int = 2):
    """Return `count` waiting owner steps of "Repository" requests, owned by the owner and the
    admin, and the resource."""
    from access_requests import services
    from access_requests.tests.personas import make_user

    resource = make_resource("Repository", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(cast.owner, cast.admin)
    steps = []
    for number in range(count):
        requester = make_user(f"req.number{number}")
        access_request, _ = services.submit_request(
            requester,
            resource,
            justification="Code review.",
            ends_at=timezone.now() + datetime.timedelta(days=7),
        )
        steps.append(access_request.steps.get())
    return steps, resource


def test_bulk_approve_skips_decided_step(client, cast):
    from access_requests import services

    (decided, open_step), _ = owners_queue(cast)
    services.decide_step(decided, by=cast.admin, approve=True)
    sign_in(client, cast.owner)

    response = client.post(
        reverse("access_requests:bulk_approve"),
        {"steps": [decided.pk, open_step.pk, decided.pk, open_step.pk]},
        follow=True,
    )

    content = response.content.decode()
    assert "You approved 1 request." in content
    assert content.count(f"Request #{decided.request_id} was already decided") == 1
    assert "by Ada Admin" in content
    assert "Approval step" not in content
    open_step.refresh_from_db()
    assert open_step.status == ApprovalStep.Status.APPROVED


def test_bulk_approve_lists_every_refusal(client, cast):
    from access_requests import services

    (decided, passed, open_step), _ = owners_queue(cast, count=3)
    services.decide_step(decided, by=cast.admin, approve=True)
    AccessRequest.objects.filter(pk=passed.request_id).update(
        requested_ends_at=timezone.now() - datetime.timedelta(hours=1)
    )
    sign_in(client, cast.owner)

    response = client.post(
        reverse("access_requests:bulk_approve"),
        {"steps": [decided.pk, passed.pk, open_step.pk, 999999, 999998]},
        follow=True,
    )

    content = response.content.decode()
    assert "You approved 1 request." in content
    assert f"Request #{decided.request_id} was already decided" in content
    assert f"Request #{passed.request_id}: This request asked for access until" in content
    assert content.count("One selected request is not waiting for your decision") == 1
    open_step.refresh_from_db()
    assert open_step.status == ApprovalStep.Status.APPROVED


def test_bulk_approve_too_many_steps(client, cast):
    from access_requests.forms import MAX_BULK_STEPS

    sign_in(client, cast.manager)

    response = client.post(
        reverse("access_requests:bulk_approve"),
        {"steps": list(range(1, MAX_BULK_STEPS + 2))},
    )

    assert response.status_code == 400
    assert f"at most {MAX_BULK_STEPS} can be approved at once" in response.content.decode()


def test_moved_step_names_new_approvers(client, cast):
    from access_requests.services import resource_settings
    from access_requests.tests.personas import make_user

    (step,), resource = owners_queue(cast, count=1)
    camille = make_user("camille.new")
    before = resource_settings.snapshot(resource)
    resource.owners.set([camille])
    resource_settings.apply_settings_change(resource, before, by=cast.admin)
    sign_in(client, cast.owner)

    response = client.post(decide_url(step), {"decision": "approve"})

    assert response.status_code == 403
    content = response.content.decode()
    assert (
        f"Request #{step.request_id}: this request&#x27;s approval moved to Camille New" in content
    )
    bulk = client.post(
        reverse("access_requests:bulk_approve"), {"steps": [step.pk]}, follow=True
    ).content.decode()
    assert "approval moved to Camille New" in bulk


def test_unrelated_step_still_not_found(client, cast):
    sign_in(client, cast.outsider)

    response = client.post(decide_url(cast.manager_step), {"decision": "approve"})

    assert response.status_code == 404


def test_catalog_intro_matches_listing(client, cast):
    sign_in(client, cast.outsider)

    content = client.get(reverse("access_requests:catalog")).content.decode()

    assert "groups and apps you can request" not in content
    assert "Every group and app in your Okta org" in content


def test_every_page_links_the_catalog(client, cast):
    sign_in(client, cast.outsider)

    for url in ["/", reverse("access_requests:catalog"), reverse("accounts:profile")]:
        content = client.get(url).content.decode()
        assert f'href="{reverse("access_requests:catalog")}"' in content, url
        assert f'href="{reverse("access_requests:inbox")}"' in content, url


def test_every_form_has_csrf_token(client, cast):
    sign_in(client, cast.manager)
    pages = [
        reverse("access_requests:inbox"),
        resource_url(make_resource("Analytics")),
        reverse("access_requests:request_detail", args=[cast.access_request.pk]),
    ]
    for url in pages:
        content = client.get(url).content.decode()
        assert content.count("<form") > 0, url
        assert content.count('method="post"') == content.count("csrfmiddlewaretoken"), url
