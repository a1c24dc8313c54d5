"""Item 4 of the security review: one client address, believed from trusted proxies only.

A spoofed `X-Forwarded-For` sent straight to the server must not give an attacker a fresh throttle bucket, must not
end up as the `remote_addr` of a security log line or the address of a stored event, and every audit record made from
a request carries the client's address (API-key actions and admin replays included)."""

import json

import pytest
import requests

from audit.models import AuditLog
from tests.factories import PASSWORD, InteractionFactory, UserFactory
from webhooks.models import EventStatus, InteractionEvent

from .conftest import AdminBrowser, make_api_key, totp_device, totp_now

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

BUILDERBOT_TOKEN = "test-builderbot-token"


def _message(n: int) -> bytes:
    return json.dumps(
        {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": f"hola {n}", "id": f"wamid.{n}"}}
    ).encode()


def test_a_spoofed_forwarded_for_does_not_buy_a_fresh_throttle_bucket(prod_server):
    server = prod_server({"THROTTLE_RATE_AUTH": "3/min"})
    statuses = []
    for n in range(6):
        response = requests.post(
            f"{server.url}/api/auth/token",
            json={"username": "nobody", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            timeout=10,
        )
        statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429, 429], statuses


def test_a_spoofed_forwarded_for_reaches_neither_security_logs_nor_stored_events(prod_server):
    server = prod_server()
    mark = server.log_mark()
    rejected = requests.post(
        f"{server.url}/webhooks/builderbot/whatsapp",
        data=_message(1),
        headers={"Content-Type": "application/json", "X-Webhook-Token": "wrong", "X-Forwarded-For": "203.0.113.9"},
        timeout=10,
    )
    assert rejected.status_code == 401
    accepted = requests.post(
        f"{server.url}/webhooks/builderbot/whatsapp",
        data=_message(2),
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Token": BUILDERBOT_TOKEN,
            "X-Forwarded-For": "203.0.113.9",
        },
        timeout=10,
    )
    assert accepted.status_code == 200, accepted.text
    event = InteractionEvent.objects.get(pk=accepted.json()["event_id"])
    assert event.status == EventStatus.PROCESSED
    assert event.remote_addr == "127.0.0.1"
    lines = [json.loads(line) for line in server.log_text_since(mark).splitlines() if line.startswith("{")]
    rejections = [line for line in lines if line.get("message") == "webhook_rejected"]
    assert rejections and all(line["remote_addr"] == "127.0.0.1" for line in rejections)
    assert "203.0.113.9" not in json.dumps([line for line in lines if line.get("message") != "request"])


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_client(prod_server):
    server = prod_server({"TRUSTED_PROXY_COUNT": "1"})
    # The client forged the first entry; the one proxy we trust appended the address it saw.
    response = requests.post(
        f"{server.url}/webhooks/builderbot/whatsapp",
        data=_message(3),
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Token": BUILDERBOT_TOKEN,
            "X-Forwarded-For": "10.9.9.9, 203.0.113.7",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert InteractionEvent.objects.get(pk=response.json()["event_id"]).remote_addr == "203.0.113.7"


def test_every_audit_record_made_from_a_request_carries_the_client_address(prod_server):
    server = prod_server()
    agent = UserFactory(username="ana", roles=["agent"], staff=True)
    interaction = InteractionFactory(customer_phone="+525512345678")
    key = make_api_key("supervisor")
    response = requests.patch(
        f"{server.url}/api/interactions/{interaction.pk}",
        json={"assigned_agent": agent.pk},
        headers={"Authorization": f"Api-Key {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    record = AuditLog.objects.get(action="interaction.assigned", target_id=str(interaction.pk))
    assert record.actor_type == AuditLog.ActorType.API_CLIENT
    assert record.ip_address == "127.0.0.1"
    assert record.request_id == response.headers["X-Request-ID"]


def test_admin_replays_and_api_key_revocations_are_audited_with_the_client_address(prod_server):
    server = prod_server()
    supervisor = UserFactory(username="sara", roles=["supervisor"], superuser=True)
    device = totp_device(supervisor)
    event = InteractionEvent.objects.create(
        provider="builderbot", event_type="message.incoming", idempotency_key="id:x", status=EventStatus.FAILED
    )
    from accounts.models import ApiKey

    api_key, _ = ApiKey.objects.create_key(name="old-ivr", role="integration")
    browser = AdminBrowser(server.url)
    assert browser.login("sara", PASSWORD, totp_now(device)).status_code == 302
    assert browser.action("/admin/webhooks/interactionevent/", "replay_events", [event.pk]).status_code == 302
    assert browser.action("/admin/accounts/apikey/", "revoke_selected", [api_key.pk]).status_code == 302
    replayed = AuditLog.objects.get(action="webhook_event.replayed")
    revoked = AuditLog.objects.get(action="api_key.revoked")
    assert replayed.ip_address == "127.0.0.1" and replayed.request_id
    assert revoked.ip_address == "127.0.0.1" and revoked.request_id
