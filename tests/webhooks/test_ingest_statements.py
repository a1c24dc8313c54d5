"""What one delivery costs the database, for each provider's hot delivery (issue #16): one transaction, the event row
written once with its outcome (never inserted, then updated), no savepoint, and a statement count that only goes up
when someone decides it should. These are counts, not times: the benchmark (`python -m bench.run --only ingest`)
measures the time."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from interactions.models import Interaction, Message
from tests.factories import InteractionFactory, MessageFactory
from webhooks.models import EventStatus, InteractionEvent

from .conftest import BUILDERBOT_URL, ELEVENLABS_URL, TWILIO_URL, fixture_json

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _statements(client, url: str, body: bytes, content_type: str, headers: dict) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, data=body, content_type=content_type, headers=headers)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    return [" ".join(query["sql"].split()) for query in captured.captured_queries]


def _assert_written_once(statements: list[str]) -> None:
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
    assert statements.count("BEGIN") == 1 and statements.count("COMMIT") == 1  # one transaction
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len([s for s in statements if s.startswith("INSERT INTO webhooks_interactionevent")]) == 1
    assert not [s for s in statements if "UPDATE" in s and "webhooks_interactionevent" in s.split("SET")[0]]


def test_a_whatsapp_message_in_an_open_conversation_costs_five_statements(client):
    InteractionFactory(channel="whatsapp", direction="inbound", status="open", last_activity_at=timezone.now())
    body = json.dumps(
        {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "¿Y mi tarjeta?"}}
    ).encode()

    statements = _statements(
        client, BUILDERBOT_URL, body, "application/json", {"X-Webhook-Token": "test-builderbot-token"}
    )

    _assert_written_once(statements)
    # window lock, conversation lock, the conversation found and touched, the message, the event
    assert len(statements) - 2 <= 5, [s[:80] for s in statements]
    assert Interaction.objects.count() == 1
    assert Message.objects.get().body == "¿Y mi tarjeta?"


def test_a_twilio_status_callback_costs_two_statements(client, settings):
    settings.TWILIO_SIGNATURE_MODE = "off"
    message = MessageFactory(channel="sms", direction="outbound", status="sending", provider_message_id="SM" + "a" * 32)
    body = (
        f"MessageSid={message.provider_message_id}&SmsSid={message.provider_message_id}"
        "&MessageStatus=delivered&SmsStatus=delivered&AccountSid=AC00000000000000000000000000000000"
        "&From=%2B15005550006&To=%2B5215512345678&ApiVersion=2010-04-01"
    ).encode()

    statements = _statements(
        client, TWILIO_URL, body, "application/x-www-form-urlencoded", {"X-Webhook-Token": "test-twilio-token"}
    )

    _assert_written_once(statements)
    assert len(statements) - 2 <= 2, statements  # the status step (one statement), the event
    message.refresh_from_db()
    assert message.status == "delivered" and message.sent_at is not None and message.delivered_at is not None
    assert InteractionEvent.objects.get().status == EventStatus.PROCESSED


def test_a_post_call_transcription_of_a_new_call_inserts_each_row_once(client, settings):
    settings.ELEVENLABS_WEBHOOK_SECRETS = []
    payload = fixture_json("elevenlabs_post_call_transcription.json")

    statements = _statements(
        client,
        ELEVENLABS_URL,
        json.dumps(payload).encode(),
        "application/json",
        {"X-Webhook-Token": "test-elevenlabs-token"},
    )

    _assert_written_once(statements)
    # call lock, the call looked up, the interaction, its call detail, the event: no row inserted then updated
    assert len(statements) - 2 <= 5, statements
    assert not [s for s in statements if s.startswith("UPDATE")]
    call = Interaction.objects.get()
    assert call.status == "completed" and call.call_detail.transcript


def test_a_repeat_of_a_post_call_recording_is_answered_from_the_ledger_without_decoding_it_again(client, settings):
    """Applying a recording is costly (a file decoded and stored): its repeat is looked up first, not applied and
    rolled back as cheaper deliveries are."""
    settings.ELEVENLABS_WEBHOOK_SECRETS = []
    body = json.dumps(fixture_json("elevenlabs_post_call_audio.json")).encode()
    headers = {"X-Webhook-Token": "test-elevenlabs-token"}
    first = client.post(ELEVENLABS_URL, data=body, content_type="application/json", headers=headers)
    assert first.json()["status"] == "processed"

    with CaptureQueriesContext(connection) as captured:
        repeat = client.post(ELEVENLABS_URL, data=body, content_type="application/json", headers=headers)

    assert repeat.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    statements = " ".join(query["sql"] for query in captured.captured_queries)
    assert "interactions_calldetail" not in statements and "interactions_interaction" not in statements
    assert InteractionEvent.objects.count() == 1
