"""Event hooks: registration, verification, batched at-least-once delivery, retries and faults."""

import pytest

from okta_emulator.testing import start_emulator

from .demo_org import ACTIVE_ID, OKTA_GROUP_ID, SECOND_ACTIVE_ID
from .hook_receiver import HookReceiver

MEMBERSHIP_EVENTS = ["group.user_membership.add", "group.user_membership.remove"]


def register_hook(emulator, uri, events=MEMBERSHIP_EVENTS, verify=True, activate=True):
    body = {
        "name": "test hook",
        "events": {"type": "EVENT_TYPE", "items": events},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": uri,
                "headers": [{"key": "X-Tenant", "value": "demo"}],
                "authScheme": {"type": "HEADER", "key": "Authorization", "value": "s3cret"},
            },
        },
    }
    created = emulator.request("POST", "/api/v1/eventHooks", body)
    assert created.status == 200, created.body
    hook_id = created.json()["id"]
    if verify:
        verified = emulator.request("POST", f"/api/v1/eventHooks/{hook_id}/lifecycle/verify")
        assert verified.status == 200, verified.body
    if activate:
        emulator.request("POST", f"/api/v1/eventHooks/{hook_id}/lifecycle/activate")
    return hook_id


@pytest.fixture
def receiver():
    with HookReceiver() as hook_receiver:
        yield hook_receiver


def add_and_remove(emulator, user_id=ACTIVE_ID):
    emulator.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{user_id}")
    emulator.request("DELETE", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{user_id}")


def test_created_hook_is_unverified_and_hides_secret(okta_org, receiver):
    hook_id = register_hook(okta_org, receiver.url, verify=False, activate=False)
    hook = okta_org.request("GET", f"/api/v1/eventHooks/{hook_id}").json()
    assert hook["id"].startswith("who")
    assert hook["verificationStatus"] == "UNVERIFIED"
    assert "value" not in hook["channel"]["config"]["authScheme"]


def test_non_loopback_uri_rejected(okta_org):
    body = {
        "name": "x",
        "events": {"type": "EVENT_TYPE", "items": MEMBERSHIP_EVENTS},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {"uri": "https://hooks.example.com/okta"},
        },
    }
    response = okta_org.request("POST", "/api/v1/eventHooks", body)
    assert response.status == 400
    assert "loopback" in response.json()["errorCauses"][0]["errorSummary"]


def test_verification_sends_challenge(okta_org, receiver):
    register_hook(okta_org, receiver.url)
    assert receiver.verifications[0]["X-Okta-Verification-Challenge"]
    assert receiver.verifications[0]["Authorization"] == "s3cret"


def test_verification_fails_on_wrong_answer(okta_org, receiver):
    receiver.verification_answer = "not the challenge"
    hook_id = register_hook(okta_org, receiver.url, verify=False, activate=False)
    response = okta_org.request("POST", f"/api/v1/eventHooks/{hook_id}/lifecycle/verify")
    assert response.status == 400
    assert response.json()["errorCode"] == "E0000001"


def test_invalid_port_rejected(okta_org):
    body = {
        "name": "x",
        "events": {"type": "EVENT_TYPE", "items": MEMBERSHIP_EVENTS},
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {"uri": "http://127.0.0.1:999999/"},
        },
    }
    response = okta_org.request("POST", "/api/v1/eventHooks", body)
    assert response.status == 400
    assert "port" in response.json()["errorCauses"][0]["errorSummary"]


def test_unverified_hook_gets_nothing(okta_org, receiver):
    register_hook(okta_org, receiver.url, verify=False)
    add_and_remove(okta_org)
    assert okta_org.hook_deliveries() == []


def test_delivery_has_okta_envelope_and_headers(okta_org, receiver):
    register_hook(okta_org, receiver.url)
    add_and_remove(okta_org)
    receiver.wait_for(lambda: len(receiver.events()) == 2)
    delivery = receiver.deliveries[0]
    assert delivery["headers"]["Authorization"] == "s3cret"
    assert delivery["headers"]["X-Tenant"] == "demo"
    assert delivery["body"]["eventType"] == "com.okta.event_hook"
    assert delivery["body"]["cloudEventsVersion"] == "0.1"
    assert [event["eventType"] for event in receiver.events()] == MEMBERSHIP_EVENTS


def test_only_subscribed_event_types_delivered(okta_org, receiver):
    register_hook(okta_org, receiver.url, events=["user.lifecycle.suspend"])
    add_and_remove(okta_org)
    okta_org.request("POST", f"/api/v1/users/{ACTIVE_ID}/lifecycle/suspend")
    receiver.wait_for(lambda: receiver.events())
    assert [event["eventType"] for event in receiver.events()] == ["user.lifecycle.suspend"]


def test_events_batched_while_receiver_busy(okta_org, receiver):
    receiver.post_delay = 0.5
    register_hook(okta_org, receiver.url)
    for user_id in (ACTIVE_ID, SECOND_ACTIVE_ID):
        add_and_remove(okta_org, user_id)
    receiver.wait_for(lambda: len(receiver.events()) == 4)
    assert max(len(d["body"]["data"]["events"]) for d in receiver.deliveries) >= 2
    assert len(receiver.events()) == 4


def test_5xx_retried_once(okta_org, receiver):
    receiver.post_statuses = [503]
    register_hook(okta_org, receiver.url, events=["group.user_membership.add"])
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    receiver.wait_for(lambda: receiver.events())
    assert [d["status"] for d in receiver.deliveries] == [503, 200]
    # The emulator marks the delivery after the receiver has answered, so wait for the mark.
    delivered = receiver.wait_for(lambda: okta_org.hook_deliveries()[0]["state"] == "delivered")
    assert delivered, okta_org.hook_deliveries()


def test_5xx_twice_gives_up(okta_org, receiver):
    receiver.post_statuses = [500, 500, 500]
    register_hook(okta_org, receiver.url, events=["group.user_membership.add"])
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    state = receiver.wait_for(lambda: okta_org.hook_deliveries()[0]["state"] == "failed")
    assert state
    assert [d["status"] for d in receiver.deliveries] == [500, 500]


def test_4xx_not_retried(okta_org, receiver):
    receiver.post_statuses = [401]
    register_hook(okta_org, receiver.url, events=["group.user_membership.add"])
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    receiver.wait_for(lambda: okta_org.hook_deliveries()[0]["state"] == "failed")
    assert [d["status"] for d in receiver.deliveries] == [401]


def test_redirect_not_followed(okta_org, receiver):
    with HookReceiver() as elsewhere:
        receiver.redirect_to = elsewhere.url
        register_hook(okta_org, receiver.url, events=["group.user_membership.add"])
        okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
        receiver.wait_for(lambda: okta_org.hook_deliveries()[0]["state"] == "failed")
        assert elsewhere.deliveries == []
        assert "307" in okta_org.hook_deliveries()[0]["last_error"]


def test_duplicate_fault_delivers_twice(okta_org, receiver):
    okta_org.set_hook_faults(duplicate_fraction=1)
    register_hook(okta_org, receiver.url, events=["group.user_membership.add"])
    okta_org.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    receiver.wait_for(lambda: len(receiver.events()) == 2)
    uuids = [event["uuid"] for event in receiver.events()]
    assert len(uuids) == 2
    assert uuids[0] == uuids[1]


def test_reorder_fault_sends_newest_first(okta_org, receiver):
    okta_org.set_hook_faults(reorder=True)
    register_hook(okta_org, receiver.url)
    add_and_remove(okta_org)
    receiver.wait_for(lambda: len(receiver.events()) == 2)
    assert [event["eventType"] for event in receiver.events()] == list(reversed(MEMBERSHIP_EVENTS))


@pytest.fixture(scope="module")
def impatient_emulator(tmp_path_factory):
    env = {**__import__("os").environ, "OKTA_EMULATOR_HOOK_TIMEOUT": "0.3"}
    emulator = start_emulator(tmp_path_factory.mktemp("impatient"), env=env)
    yield emulator
    emulator.stop()


def test_timeout_retried(impatient_emulator, receiver):
    receiver.post_delay = 0.6
    register_hook(impatient_emulator, receiver.url, events=["group.user_membership.add"])
    impatient_emulator.request("PUT", f"/api/v1/groups/{OKTA_GROUP_ID}/users/{ACTIVE_ID}")
    receiver.wait_for(
        lambda: impatient_emulator.hook_deliveries()[0]["state"] != "pending", timeout=10
    )
    assert len(receiver.deliveries) == 2
    assert "timed out" in impatient_emulator.hook_deliveries()[0]["last_error"]
