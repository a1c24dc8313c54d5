"""simulate_webhook posts realistic, authenticated deliveries that the running server accepts and applies."""

import pytest
from django.core.management import CommandError, call_command

from interactions.models import CallDetail, Interaction, Message
from simulators import voice_simulate  # noqa: F401 (registers the voice agent's simulations, as the command does)
from simulators.simulate import SIMULATIONS, SimulatedBody, SimulationOptions, simulation, simulation_request
from webhooks.models import InteractionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_every_registered_event_is_accepted_by_the_server(wsgi_server, settings, capsys):
    settings.PUBLIC_BASE_URL = wsgi_server.url
    settings.TWILIO_WEBHOOK_TOKENS = []  # the Twilio ones must pass on their signature alone
    for provider, events in SIMULATIONS.items():
        for event in events:
            call_command(
                "simulate_webhook", provider, event, "--url", wsgi_server.url, "--conversation-id", f"conv_sim_{event}"
            )
    out = capsys.readouterr().out
    assert out.count("simulated ") == sum(len(events) for events in SIMULATIONS.values())
    assert InteractionEvent.objects.filter(signature_valid=True, provider="elevenlabs").count() == 3
    assert InteractionEvent.objects.filter(signature_valid=True, provider="twilio").count() == 5
    assert CallDetail.objects.get(conversation_id="conv_sim_post_call_transcription").duration_seconds == 95
    assert CallDetail.objects.get(conversation_id="conv_sim_post_call_audio").recording
    assert Interaction.objects.filter(channel="whatsapp").count() == 1
    assert Message.objects.filter(channel="whatsapp").count() == 2
    assert set(InteractionEvent.objects.filter(provider="twilio").values_list("status", flat=True)) == {"deferred"}


@pytest.mark.django_db(transaction=True)
def test_repeat_sends_duplicates_and_a_failure_is_a_command_error(wsgi_server, capsys):
    call_command(
        "simulate_webhook",
        "builderbot",
        "message.incoming",
        "--url",
        wsgi_server.url,
        "--message-id",
        "sim-1",
        "--repeat",
        "3",
    )
    assert capsys.readouterr().out.count('"duplicate"') == 2
    with pytest.raises(CommandError, match="unknown simulation"):
        call_command("simulate_webhook", "builderbot", "nope", "--url", wsgi_server.url)
    with pytest.raises(CommandError, match="could not reach"):
        call_command("simulate_webhook", "builderbot", "message.incoming", "--url", "http://127.0.0.1:1")


def test_other_apps_can_register_events(settings):
    @simulation("elevenlabs", "tool.test_only")
    def build(options: SimulationOptions) -> SimulatedBody:
        return SimulatedBody("/api/tools/x", {"caller_id": options.phone})

    try:
        request = simulation_request("elevenlabs", "tool.test_only", base_url="http://h")
        assert request.url == "http://h/api/tools/x"
        assert request.headers["X-Webhook-Token"] == settings.ELEVENLABS_WEBHOOK_TOKENS[0]
    finally:
        del SIMULATIONS["elevenlabs"]["tool.test_only"]
