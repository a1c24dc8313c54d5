"""POST /webhooks/builderbot/whatsapp: the fixtures, the tolerated shapes and the token rules."""

import pytest

from interactions.models import Interaction, Message
from webhooks.models import InteractionEvent

from .conftest import BUILDERBOT_URL, fixture_bytes, fixture_json, post_json

pytestmark = [pytest.mark.django_db]

TOKEN = {"X-Webhook-Token": "test-builderbot-token"}
CUSTOMER = "+525512345678"  # the canonical form of the fixtures' 5215512345678


def _post(client, body, **headers):
    return post_json(client, BUILDERBOT_URL, body, headers={**TOKEN, **headers})


def test_incoming_fixture_opens_a_whatsapp_interaction_with_the_message(client):
    response = _post(client, fixture_bytes("builderbot_message_incoming.json"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    message = Message.objects.get()
    assert (message.channel, message.direction, message.status) == ("whatsapp", "inbound", "received")
    assert message.body == "Hola, quiero saber el saldo de mi cuenta"
    assert message.from_phone == CUSTOMER
    assert message.received_at is not None
    interaction = message.interaction
    assert (interaction.channel, interaction.provider, interaction.customer_phone) == (
        "whatsapp",
        "builderbot",
        CUSTOMER,
    )
    event = InteractionEvent.objects.get()
    assert event.event_type == "message.incoming"
    assert event.idempotency_key.startswith("body:")
    assert event.interaction_id == interaction.pk


def test_outgoing_fixture_records_the_bots_reply_in_the_same_interaction(client):
    _post(client, fixture_bytes("builderbot_message_incoming.json"))
    response = _post(client, fixture_bytes("builderbot_message_outgoing.json"))

    assert response.json()["status"] == "processed"
    reply = Message.objects.get(direction="outbound")
    assert (reply.status, reply.to_phone) == ("sent", CUSTOMER)
    assert reply.body == "Su saldo disponible es de $12,345.67 MXN."
    assert Interaction.objects.count() == 1


def test_calling_fixture_and_other_events_are_ignored(client):
    assert _post(client, fixture_bytes("builderbot_message_calling.json")).json()["status"] == "ignored"
    assert _post(client, {"eventName": "status.online", "data": {}}).json()["status"] == "ignored"
    assert Message.objects.count() == 0
    assert set(InteractionEvent.objects.values_list("status", flat=True)) == {"ignored"}


def test_a_repeat_is_a_duplicate(client):
    first = _post(client, fixture_bytes("builderbot_message_incoming.json"))
    second = _post(client, fixture_bytes("builderbot_message_incoming.json"))
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert Message.objects.count() == 1


def test_a_list_of_events_is_accepted_one_event_each(client):
    incoming = fixture_json("builderbot_message_incoming.json")
    outgoing = fixture_json("builderbot_message_outgoing.json")
    response = _post(client, [incoming, outgoing])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted"
    assert [e["status"] for e in body["events"]] == ["processed", "processed"]
    assert InteractionEvent.objects.count() == 2
    assert Message.objects.count() == 2
    again = _post(client, [incoming, outgoing]).json()
    assert again["status"] == "duplicate"


@pytest.mark.parametrize(
    "event",
    [
        {"eventName": "message.incoming", "data": {"from": "5215512345678@s.whatsapp.net", "body": "hola"}},
        {"eventName": "message.incoming", "data": {"from": "+5215512345678", "body": "hola"}},
        {"event": "message.incoming", "data": {"phone": "5215512345678", "body": "hola"}},
        {"type": "message.incoming", "data": {"key": {"remoteJid": "5215512345678@c.us", "id": "ABC"}, "body": "hola"}},
        {"from": "5215512345678", "body": "hola", "name": "José"},
    ],
    ids=["jid", "e164", "event-key-phone", "type-key-remotejid", "bare-data"],
)
def test_number_spellings_and_envelope_variants(client, event):
    response = _post(client, event)
    assert response.json()["status"] == "processed", InteractionEvent.objects.get().error
    assert Message.objects.get().from_phone == CUSTOMER


def test_media_by_temporary_url_or_attachment_and_placeholder_bodies(client):
    _post(
        client,
        {
            "eventName": "message.incoming",
            "urlTempFile": "https://files.example/tmp/1.jpg",
            "data": {"from": "5215512345678", "body": "_event_media__0d9f6c7e-1b2a-4c3d-9e8f-7a6b5c4d3e2f"},
        },
    )
    _post(
        client,
        {
            "eventName": "message.incoming",
            "data": {
                "from": "5215512345678",
                "body": "_event_document__aa11",
                "attachment": [{"url": "https://files.example/tmp/2.pdf", "mime_type": "application/pdf"}],
            },
        },
    )
    _post(client, {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "_event_location__bb22"}})

    image, document, location = Message.objects.order_by("created_at")
    assert (image.body, image.media_url) == ("", "https://files.example/tmp/1.jpg")
    assert (document.media_url, document.media_type) == ("https://files.example/tmp/2.pdf", "application/pdf")
    assert location.body == "[location]"


def test_a_provider_message_id_is_the_idempotency_key(client):
    event = {"eventName": "message.incoming", "data": {"id": "wamid.1", "from": "5215512345678", "body": "a"}}
    _post(client, event)
    changed = {"eventName": "message.incoming", "data": {"id": "wamid.1", "from": "5215512345678", "body": "a", "x": 1}}
    assert _post(client, changed).json()["status"] == "duplicate"
    assert InteractionEvent.objects.get().idempotency_key == "id:wamid.1"


def test_query_token_is_accepted_and_a_wrong_one_is_401(client):
    raw = fixture_bytes("builderbot_message_incoming.json")
    ok = client.post(BUILDERBOT_URL + "?token=test-builderbot-token", data=raw, content_type="application/json")
    assert ok.status_code == 200
    bad = client.post(BUILDERBOT_URL + "?token=nope", data=b'{"eventName":"x"}', content_type="application/json")
    missing = client.post(BUILDERBOT_URL, data=b'{"eventName":"x"}', content_type="application/json")
    assert bad.status_code == missing.status_code == 401
    assert InteractionEvent.objects.count() == 1


def test_an_event_without_a_customer_number_is_stored_failed(client):
    response = _post(client, {"eventName": "message.incoming", "data": {"body": "who am I"}})
    assert response.json()["status"] == "failed"
    assert "customer number" in InteractionEvent.objects.get().error
    assert Message.objects.count() == 0


def test_an_invalid_customer_number_is_stored_failed(client):
    response = _post(client, {"eventName": "message.incoming", "data": {"from": "123", "body": "hi"}})
    assert response.json()["status"] == "failed"
    assert Message.objects.count() == 0


def test_an_outgoing_report_of_a_message_we_sent_is_not_recorded_twice(client):
    from interactions.services import message_send

    sent = message_send(channel="whatsapp", body="Su folio es ACL-1.", phone=CUSTOMER)
    event = {"eventName": "message.outgoing", "data": {"from": "5215512345678", "answer": "Su folio es ACL-1."}}
    assert _post(client, event).json()["status"] == "processed"
    assert Message.objects.count() == 1
    sent.refresh_from_db()
    assert sent.status == "sent"
    assert InteractionEvent.objects.get().normalized["message_id"] == str(sent.pk)
