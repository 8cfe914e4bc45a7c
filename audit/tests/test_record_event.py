import ipaddress

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from audit.hashing import GENESIS_HASH
from audit.models import AppendOnlyError, AuditEvent
from audit.services import MASK, AuditError, record_event

pytestmark = pytest.mark.django_db


def record(action="user.synced", **kwargs):
    with transaction.atomic():
        return record_event(action, **kwargs)


def test_first_event_links_to_genesis():
    event = record()
    assert event.sequence == 1
    assert event.prev_hash == GENESIS_HASH
    assert event.hash == event.compute_hash()


def test_events_chain_in_sequence():
    first, second, third = record(), record(), record()
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash


def test_stored_row_hashes_to_stored_hash(make_user):
    ada = make_user("ada")
    event = record(
        "request.submitted",
        actor=ada,
        subject_user=ada,
        target=ada,
        payload={"justification": "Ünïcode reason", "days": 7.0, "ratio": 0.1, "nested": [1, 2]},
        okta_request_id="XyZ123",
    )
    stored = AuditEvent.objects.get(sequence=event.sequence)
    assert stored.compute_hash() == event.hash
    assert stored.payload["days"] == 7
    assert stored.actor_label == "ada@example.com"
    assert stored.target_type == "accounts.User"
    assert stored.target_id == str(ada.pk)


def test_http_request_gives_ip_and_user_agent():
    http_request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Tester/1")
    event = record(http_request=http_request)
    assert event.ip == "10.1.2.3"
    assert event.user_agent == "Tester/1"


def test_forged_forwarded_for_not_recorded(settings):
    settings.PORTAL_TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)
    http_request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.66"
    )

    event = record(http_request=http_request)

    assert event.ip == "203.0.113.7"


def test_client_behind_trusted_proxy_recorded(settings):
    settings.PORTAL_TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)
    http_request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.66, 2001:DB8::7"
    )

    event = record(http_request=http_request)

    assert event.ip == "2001:db8::7"
    assert AuditEvent.objects.get().compute_hash() == event.hash


def test_secrets_are_masked_at_any_depth():
    event = record(
        payload={
            "client_secret": "abc",
            "headers": {"Authorization": "SSWS 00abc", "Accept": "application/json"},
            "items": [{"access_token": "eyJ"}, "Bearer eyJhbGciOi"],
            "comment": "fine",
        }
    )
    stored = AuditEvent.objects.get(sequence=event.sequence).payload
    assert stored["client_secret"] == MASK
    assert stored["headers"]["Authorization"] == MASK
    assert stored["headers"]["Accept"] == "application/json"
    assert stored["items"] == [{"access_token": MASK}, MASK]
    assert stored["comment"] == "fine"


def test_unknown_action_is_rejected():
    with pytest.raises(AuditError, match="Unknown audit action 'request.teleported'"):
        record("request.teleported")


def test_invalid_outcome_is_rejected():
    with pytest.raises(AuditError, match="Invalid audit outcome 'maybe'"):
        record(outcome="maybe")


def test_non_json_payload_is_rejected():
    with pytest.raises(TypeError, match="not JSON"):
        record(payload={"when": object()})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL requires it")
@pytest.mark.django_db(transaction=True)
def test_outside_transaction_is_rejected_on_postgresql():
    with pytest.raises(AuditError, match="outside a transaction"):
        record_event("user.synced")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL rejects this call")
@pytest.mark.django_db(transaction=True)
def test_outside_transaction_works_on_sqlite():
    first = record_event("user.synced")
    second = record_event("user.synced")
    assert second.prev_hash == first.hash


def test_orm_refuses_update_and_delete():
    event = record()
    event.action = "user.role_changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(sequence=event.sequence).update(outcome="failure")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize("address", ["10.1.2.3", "2001:db8::1", "::ffff:10.0.0.1"])
def test_reloaded_event_with_ip_verifies(address):
    from audit.verification import verify_chain

    http_request = RequestFactory().get("/", REMOTE_ADDR=address, HTTP_USER_AGENT="Tester/1")
    record(http_request=http_request, payload={"big": 1e20, "small": 1.5e-7})
    stored = AuditEvent.objects.get()
    assert stored.compute_hash() == stored.hash
    assert verify_chain().ok
