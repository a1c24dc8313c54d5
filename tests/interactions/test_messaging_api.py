"""POST /api/interactions/{id}/messages: reply to the customer on the interaction's channel."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditLog
from interactions.models import Message
from tests.factories import InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db
PHONE = "+525512345678"  # canonical: how the factory's +52 1 55 1234 5678 is stored


def _client(role="supervisor"):
    user = UserFactory(username=f"{role}-user", roles=[role])
    client = APIClient()
    client.force_authenticate(user)
    return client, user


def _post(client, interaction_id, payload):
    return client.post(f"/api/interactions/{interaction_id}/messages", payload, format="json")


def test_reply_is_queued_and_answered_202_with_the_phone_masked(django_capture_on_commit_callbacks):
    interaction = InteractionFactory(channel="whatsapp", direction="inbound")
    client, user = _client()
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(client, interaction.pk, {"body": "Su aclaración quedó registrada."})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["channel"] == "whatsapp"
    assert body["to_phone"] == "+52******5678"
    assert PHONE not in response.content.decode()
    message = Message.objects.get(pk=body["id"])
    assert (message.interaction_id, message.body, message.to_phone) == (
        interaction.pk,
        "Su aclaración quedó registrada.",
        PHONE,
    )
    assert len(callbacks) == 1  # the wake-up call, published after commit
    audit = AuditLog.objects.get(action="message.queued", target_id=str(message.pk))
    assert audit.actor_id == str(user.pk)
    assert PHONE not in str(audit.data)


def test_sms_interaction_replies_by_sms():
    interaction = InteractionFactory(channel="sms", direction="inbound")
    response = _post(_client()[0], interaction.pk, {"body": "Hola"})
    assert response.status_code == 202
    assert response.json()["channel"] == "sms"


@pytest.mark.parametrize(
    ("channel", "payload", "code"),
    [
        ("whatsapp", {"body": ""}, "empty_message"),
        ("whatsapp", {}, "empty_message"),
        ("whatsapp", {"body": "x" * 1601}, "max_length"),
        ("whatsapp", {"body": "hola", "media_url": "not a url"}, "invalid"),
        ("sms", {"body": "hola", "media_url": "https://example.com/a.pdf"}, "media_not_supported"),
        ("call", {"body": "hola"}, "invalid_channel"),
    ],
)
def test_bad_replies_are_400_in_the_error_shape(channel, payload, code):
    interaction = InteractionFactory(channel=channel, direction="inbound")
    response = _post(_client()[0], interaction.pk, payload)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert not Message.objects.exists()


def test_unknown_interaction_is_404_and_anonymous_is_401():
    client = _client()[0]
    assert _post(client, "00000000-0000-4000-8000-000000000000", {"body": "hola"}).status_code == 404
    interaction = InteractionFactory(channel="whatsapp", direction="inbound")
    assert _post(APIClient(), interaction.pk, {"body": "hola"}).status_code == 401


def test_agents_reply_only_on_their_interactions_and_auditors_not_at_all():
    agent_client, agent = _client("agent")
    mine = InteractionFactory(channel="whatsapp", direction="inbound", assigned_agent=agent)
    other = InteractionFactory(channel="whatsapp", direction="inbound")
    assert _post(agent_client, mine.pk, {"body": "hola"}).status_code == 202
    assert _post(agent_client, other.pk, {"body": "hola"}).status_code == 404
    assert _post(_client("auditor")[0], mine.pk, {"body": "hola"}).status_code == 403
