"""The change page: the timeline, the recording behind a permission check, and the audited PII reveal."""

import pytest
from django.core.files.base import ContentFile

from audit.models import AuditLog
from interactions.models import Message
from tests.factories import OngoingInteractionFactory, OtpSmsFactory
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def change_url(interaction, suffix="change"):
    return f"/admin/interactions/interaction/{interaction.pk}/{suffix}/"


@pytest.fixture
def full_interaction(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    interaction = OngoingInteractionFactory(channel="call", customer_phone="+5215512344321", external_id="conv-1")
    call = interaction.call_detail
    call.recording.save("call.mp3", ContentFile(b"ID3-fake-mp3-bytes"), save=True)
    OtpSmsFactory(interaction=interaction)
    Message.objects.create(
        interaction=interaction,
        channel="whatsapp",
        direction="inbound",
        status="received",
        from_phone="+5215512344321",
        body="Hola, necesito ayuda. Mi otro número es +5215599998888",
        provider="builderbot",
    )
    InteractionEvent.objects.create(
        provider="elevenlabs",
        event_type="post_call_transcription",
        idempotency_key="k1",
        status="failed",
        payload={"data": {"conversation_id": "conv-1", "caller": "+5215512344321"}},
        error="boom",
        interaction=interaction,
    )
    return interaction


def test_timeline_shows_everything_masked(staff_client, make_staff, full_interaction):
    content = staff_client(make_staff("sup", "supervisor")).get(change_url(full_interaction)).content.decode()
    assert "My card was declined." in content  # transcript
    assert 'id="call-recording"' in content and change_url(full_interaction, "recording") in content
    assert "Hola, necesito ayuda" in content  # conversation
    assert "493817" not in content  # sensitive body replaced by a placeholder
    assert "hidden: one-time code" in content
    assert "post_call_transcription" in content and "boom" in content  # event with its error
    assert "&quot;conversation_id&quot;: &quot;conv-1&quot;" in content  # pretty-printed payload
    assert "OTP challenge" in content
    assert "+5215512344321" not in content and "+525512344321" not in content  # masked everywhere, payloads too
    assert "+5215599998888" not in content and "+52*******8888" in content  # numbers typed into messages too
    assert "+52*******4321" in content
    assert 'name="_save"' not in content  # read-only: changes go through the actions


def test_recording_is_served_only_to_staff_who_may_see_the_interaction(
    client, staff_client, make_staff, full_interaction
):
    url = change_url(full_interaction, "recording")
    assert client.get(url).status_code == 302  # to the login page
    response = staff_client(make_staff("sup", "supervisor")).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"ID3-fake-mp3-bytes"
    assert "no-store" in response["Cache-Control"]
    client.logout()
    assert staff_client(make_staff("other", "agent")).get(url).status_code == 404


def test_reveal_needs_a_reason_and_is_audited(staff_client, make_staff, full_interaction):
    supervisor = make_staff("sup", "supervisor")
    client = staff_client(supervisor)
    url = change_url(full_interaction, "reveal")
    response = client.post(url, {"reason": ""})
    assert "+5215512344321" not in response.content.decode() and "+525512344321" not in response.content.decode()
    assert not AuditLog.objects.filter(action="interaction.pii_viewed").exists()

    response = client.post(url, {"reason": "Customer called back, needs a callback"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    assert "+525512344321" in response.content.decode()  # the canonical number (it was saved as +52 1 …)
    assert "no-store" in response["Cache-Control"]
    record = AuditLog.objects.get(action="interaction.pii_viewed")
    assert record.actor_id == str(supervisor.pk)
    assert record.target_id == str(full_interaction.pk)
    assert record.data["reason"] == "Customer called back, needs a callback"
    assert record.ip_address == "10.1.2.3"
    # the reveal then shows in the interaction's own timeline
    assert "interaction.pii_viewed" in client.get(change_url(full_interaction)).content.decode()


def test_users_without_view_pii_cannot_reveal(staff_client, make_staff, full_interaction):
    agent = make_staff("ag", "agent")
    full_interaction.assigned_agent = agent
    full_interaction.save(update_fields=["assigned_agent"])
    client = staff_client(agent)
    assert "Reveal number" not in client.get(change_url(full_interaction)).content.decode()
    assert client.post(change_url(full_interaction, "reveal"), {"reason": "just curious"}).status_code == 403
    assert not AuditLog.objects.filter(action="interaction.pii_viewed").exists()
