"""Submit rules that depend on what the portal knows of the user and of Okta: access already
held in Okta, the portal-wide longest access, and the requester's own time zone."""

import datetime
import logging

import pytest
from django.utils import timezone

from access_requests import errors, services
from access_requests.models import AccessRequest, Grant, Resource
from access_requests.services import expiry
from access_requests.tests.personas import make_resource, make_user, sign_in
from accounts import services as account_services
from accounts.models import User
from accounts.sync import sync_users
from portal.okta_api import get_client

FAR_EAST = "Pacific/Kiritimati"  # UTC+14
# Okta's zoneinfo claim when the profile has no timezone.
LOS_ANGELES = "America/Los_Angeles"


def submit(user, resource, ends_at):
    return services.submit_request(user, resource, justification="Needed", ends_at=ends_at)


@pytest.mark.django_db
def test_group_held_in_okta_is_not_requestable_again(client):
    member = make_user("gus.member", okta_groups=["Everyone", "Design Review"])
    resource = make_resource("Design Review", allow_no_end=True)
    everyone = make_resource("Everyone", group_type=Resource.GroupType.BUILT_IN)
    sign_in(client, member)

    page = client.get(f"/catalog/{resource.pk}/").content.decode()
    assert "You do not have this access." not in page
    assert "your last sign-in listed you as a member" in page
    assert 'name="justification"' not in page
    everyone_page = client.get(f"/catalog/{everyone.pk}/").content.decode()
    assert "everyone in the organisation is a member" in everyone_page
    with pytest.raises(errors.AccessAlreadyHeld, match="You already have Design Review in Okta"):
        submit(member, resource, None)
    assert not AccessRequest.objects.exists()

    outsider = make_user("olli.outsider", okta_groups=["Everyone"])
    sign_in(client, outsider)
    assert "You do not have this access." in client.get(f"/catalog/{resource.pk}/").content.decode()


@pytest.mark.django_db
def test_far_custom_end_is_refused_without_a_maximum(settings):
    settings.PORTAL_MAX_GRANT_DAYS = 365
    requester = make_user("fiona.far")
    resource = make_resource(
        "Ledger",
        max_duration_days=None,
        allow_no_end=False,
        approval_policy=Resource.ApprovalPolicy.AUTOMATIC,
    )

    with pytest.raises(errors.InvalidDuration) as refused:
        submit(requester, resource, datetime.date(2999, 12, 31))
    last_day = (timezone.now() + datetime.timedelta(days=365)).date()
    assert "at most 365 days" in refused.value.message
    assert f"on or before {last_day.isoformat()}" in refused.value.message

    access_request, created = submit(requester, resource, last_day - datetime.timedelta(days=1))
    assert created
    # A resource that allows no end still caps a custom end date: "no end" is its own choice.
    open_ended = make_resource(
        "Wiki",
        max_duration_days=None,
        allow_no_end=True,
        approval_policy=Resource.ApprovalPolicy.AUTOMATIC,
    )
    with pytest.raises(errors.InvalidDuration, match="at most 365 days"):
        submit(requester, open_ended, datetime.date(2999, 12, 31))
    assert submit(requester, open_ended, None)[1]


@pytest.mark.django_db
def test_portal_maximum_caps_a_longer_resource_maximum(settings):
    settings.PORTAL_MAX_GRANT_DAYS = 30
    requester = make_user("lars.long")
    resource = make_resource(
        "Archive", max_duration_days=400, approval_policy=Resource.ApprovalPolicy.AUTOMATIC
    )

    with pytest.raises(errors.InvalidDuration) as refused:
        submit(requester, resource, timezone.now() + datetime.timedelta(days=60))
    assert "at most 30 days" in refused.value.message
    assert services.max_duration_days(resource) == 30
    resource.max_duration_days = 10
    assert services.max_duration_days(resource) == 10


@pytest.mark.django_db
def test_extension_capped_by_portal_maximum(settings):
    settings.PORTAL_MAX_GRANT_DAYS = 30
    holder = make_user("ella.extend")
    resource = make_resource(
        "Archive", max_duration_days=400, approval_policy=Resource.ApprovalPolicy.OWNERS
    )
    resource.owners.add(make_user("otis.owner"))
    now = timezone.now()
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=now
    )

    with pytest.raises(errors.InvalidDuration, match="at most 30 days"):
        expiry.request_extension(
            grant, by=holder, ends_at=now + datetime.timedelta(days=60), justification="More"
        )
    _extension, created = expiry.request_extension(
        grant, by=holder, ends_at=now + datetime.timedelta(days=20), justification="More"
    )
    assert created


@pytest.mark.django_db
@pytest.mark.parametrize("resource_maximum", [None, 400])
def test_renewal_capped_by_portal_maximum(settings, resource_maximum):
    settings.PORTAL_MAX_GRANT_DAYS = 30
    owner = make_user("oona.owner")
    holder = make_user("hugo.holder")
    resource = make_resource("Archive", max_duration_days=resource_maximum)
    resource.owners.add(owner)
    ends_at = timezone.now() + datetime.timedelta(days=5)
    grant = Grant.objects.create(
        user=holder, resource=resource, status=Grant.Status.ACTIVE, ends_at=ends_at
    )

    with pytest.raises(errors.InvalidDuration) as refused:
        expiry.renew_grant(grant, by=owner, days=60)
    assert "at most 30 days" in refused.value.message
    assert "renew by at most 25 days" in refused.value.message
    grant.refresh_from_db()
    assert grant.ends_at == ends_at
    renewed = expiry.renew_grant(grant, by=owner, days=25)
    assert renewed.ends_at == ends_at + datetime.timedelta(days=25)
    with pytest.raises(errors.InvalidDuration, match="cannot be renewed further today"):
        expiry.renew_grant(grant, by=owner, days=1)


@pytest.mark.django_db
def test_request_form_shows_portal_maximum(client, settings):
    settings.PORTAL_MAX_GRANT_DAYS = 30
    requester = make_user("fred.form")
    resource = make_resource("Archive", max_duration_days=None, allow_no_end=True)
    sign_in(client, requester)

    page = client.get(f"/catalog/{resource.pk}/").content.decode()

    assert "(at most 30 days)" in page
    assert 'value="30"' in page
    assert 'value="90"' not in page
    assert 'value="none"' in page


@pytest.mark.django_db
def test_sign_in_ignores_zoneinfo_claim():
    claims = {"sub": "00uzonetest00000001", "preferred_username": "zed@example.com"}
    user = account_services.update_user_from_claims(claims)
    user.time_zone = FAR_EAST
    user.save(update_fields=["time_zone"])

    user = account_services.update_user_from_claims({**claims, "zoneinfo": LOS_ANGELES})
    assert user.time_zone == FAR_EAST

    user.time_zone = ""
    user.save(update_fields=["time_zone"])
    user = account_services.update_user_from_claims({**claims, "zoneinfo": LOS_ANGELES})
    assert user.time_zone == ""
    assert services.requester_time_zone(user) == "UTC"


def test_unknown_okta_time_zone_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        name = account_services.known_time_zone("Mars/Olympus", okta_id="00uzonetest00000001")

    assert name == ""
    assert "unknown time zone 'Mars/Olympus'" in caplog.text


def okta_user_in(okta_org, login: str, time_zone: str) -> str:
    """Create an active Okta user whose profile has `time_zone`; return its id."""
    profile = {"firstName": "Zoe", "lastName": "Zone", "email": login, "login": login}
    created = okta_org.request(
        "POST", "/api/v1/users?activate=true", {"profile": {**profile, "timezone": time_zone}}
    )
    assert created.status == 200, created
    return created.json()["id"]


def test_custom_end_ends_at_midnight_in_the_okta_time_zone(transactional_db, okta_settings, caplog):
    okta_org = okta_settings
    far_id = okta_user_in(okta_org, "zoe.far@example.com", FAR_EAST)
    typo_id = okta_user_in(okta_org, "zoe.typo@example.com", "Mars/Olympus")
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        sync_users(get_client())
    requester = User.objects.get(okta_id=far_id)
    assert requester.time_zone == FAR_EAST
    assert User.objects.get(okta_id=typo_id).time_zone == ""
    assert "unknown time zone 'Mars/Olympus'" in caplog.text

    end = timezone.now().date() + datetime.timedelta(days=5)
    resource = make_resource("Night Shift", approval_policy=Resource.ApprovalPolicy.OWNERS)
    resource.owners.add(make_user("olaf.owner"))
    access_request, _ = submit(requester, resource, end)
    # The end of that day in Kiritimati is 10:00 UTC of the same date.
    expected = datetime.datetime.combine(end, datetime.time(10), datetime.UTC)
    assert access_request.requested_ends_at == expected - datetime.timedelta(microseconds=1)
