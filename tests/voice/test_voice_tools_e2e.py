"""End to end over real HTTP: the initiation webhook, the send tool, a real Celery worker texting the code to the
fake Twilio, the verify tool with the code as a speech recogniser writes it, and the post-call webhook landing on the
same interaction. The code shows up nowhere but in the SMS."""

import json
import re
import time

import pytest
import requests
from django.conf import settings as django_settings

from audit.models import AuditLog
from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from tests.support.fixtures import wait_for

from .conftest import CALLER, CONVERSATION, INITIATION, POST_CALL, SEND, VERIFY, dashed, fixture_json, spaced

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(live_server, fake_twilio, celery_worker_factory, broker, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    return celery_worker_factory(
        env={"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "PUBLIC_BASE_URL": live_server.url}
    )


def _post(live_server, path, payload):
    response = requests.post(
        live_server.url + path,
        json=payload,
        headers={"X-Webhook-Token": django_settings.ELEVENLABS_WEBHOOK_TOKENS[0]},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _code_from_fake(fake_twilio, index):
    requests_seen = wait_for(
        lambda: len(fake_twilio.create_requests) > index and fake_twilio.create_requests, what="the SMS at the fake"
    )
    form = requests_seen[index].form
    assert form["To"] == CALLER
    return re.search(r"\b(\d{6})\b", form["Body"]).group(1)


def test_initiation_send_sms_verify_and_post_call_make_one_verified_call(live_server, worker, fake_twilio):
    answers = []
    answers.append(_post(live_server, INITIATION, fixture_json("elevenlabs_conversation_initiation_request.json")))
    assert answers[-1]["dynamic_variables"]["customer_known"] is False

    tool = {"conversation_id": CONVERSATION, "caller_id": CALLER}
    answers.append(_post(live_server, SEND, tool))
    assert answers[-1]["result"] == "sent" and answers[-1]["masked_phone"] == "+52******5678"
    code = _code_from_fake(fake_twilio, 0)

    # The caller read it wrong once ("123-456" style), then right ("1 2 3 4 5 6" style).
    wrong = dashed(str((int(code) + 1) % 1_000_000).zfill(6))
    answers.append(_post(live_server, VERIFY, {**tool, "code": wrong}))
    assert answers[-1]["result"] == "wrong_code" and answers[-1]["attempts_left"] == 4
    answers.append(_post(live_server, VERIFY, {**tool, "code": spaced(code)}))
    assert answers[-1] == {**answers[-1], "result": "approved", "verified": True}

    call = Interaction.objects.get(provider="elevenlabs", external_id=CONVERSATION)
    challenge = OtpChallenge.objects.get(conversation_id=CONVERSATION)
    assert call.verified_by_challenge_id == challenge.pk and call.verified_at is not None

    # The post-call webhook (the fixture is for the same conversation) lands on the same interaction.
    ack = _post(live_server, POST_CALL, fixture_json("elevenlabs_post_call_transcription.json"))
    assert ack["status"] == "processed"
    assert Interaction.objects.filter(channel="call").count() == 1
    call.refresh_from_db()
    assert call.status == "completed" and call.verified_by_challenge_id == challenge.pk
    assert CallDetail.objects.get(interaction=call).transcript

    # The code is in the SMS the fake received and nowhere of ours.
    wait_for(
        lambda: Message.objects.filter(pk=challenge.message_id, provider_message_id__isnull=False).exists(),
        what="the SID stored",
    )
    haystacks = [json.dumps(answers), worker.log_text()]
    haystacks += [json.dumps(row, default=str) for row in AuditLog.objects.values()]
    haystacks += [Message.objects.get(pk=challenge.message_id).body]
    for text in haystacks:
        assert code not in text and spaced(code) not in text
    assert len(fake_twilio.create_requests) == 1


def test_a_retried_send_while_the_worker_is_sending_texts_once(live_server, worker, fake_twilio):
    tool = {"conversation_id": "conv_retry", "caller_id": CALLER}
    first = _post(live_server, SEND, tool)
    second = _post(live_server, SEND, tool)
    assert first["result"] == second["result"] == "sent" and second["already_sent"] is True
    _code_from_fake(fake_twilio, 0)
    time.sleep(1)
    assert len(fake_twilio.create_requests) == 1
