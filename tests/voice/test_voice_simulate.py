"""`simulate_webhook elevenlabs tool-otp` runs the voice agent's whole exchange locally against a fake Twilio; the
single requests are registered simulations that a running server accepts."""

import pytest
from django.core.management import call_command

from interactions.models import Interaction
from otp.models import OtpChallenge

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_whole_exchange_runs_locally_and_never_prints_the_code(capsys):
    call_command("simulate_webhook", "elevenlabs", "tool-otp", "--conversation-id", "conv_sim_exchange")
    out = capsys.readouterr().out
    assert "simulated elevenlabs tool-otp locally" in out
    assert '"result": "sent"' in out and '"result": "approved"' in out and '"status": "processed"' in out
    call = Interaction.objects.get(external_id="conv_sim_exchange")
    challenge = OtpChallenge.objects.get(conversation_id="conv_sim_exchange")
    assert call.status == "completed" and call.verified_by_challenge_id == challenge.pk
    assert "+5215512345678" not in out


def test_the_single_requests_are_accepted_by_a_running_server(live_server, capsys):
    for event, extra in (("initiation", []), ("tool-otp-send", []), ("tool-otp-verify", ["--text", "1 2 3"])):
        call_command(
            "simulate_webhook", "elevenlabs", event, "--url", live_server.url, "--conversation-id", "conv_sim_1", *extra
        )
    out = capsys.readouterr().out
    assert '"type": "conversation_initiation_client_data"' in out or "conversation_initiation_client_data" in out
    assert '"result":"sent"' in out.replace(" ", "") and '"result":"invalid_code"' in out.replace(" ", "")
