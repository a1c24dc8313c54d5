"""Concurrent tool calls (ElevenLabs retrying, the LLM calling twice) give one SMS, and one approval."""

import threading

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from otp.models import OtpChallenge

from .conftest import CALLER, CONVERSATION, SEND, VERIFY, code_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _together(count, call):
    barrier = threading.Barrier(count)
    answers = []

    def run():
        client = APIClient()
        client.credentials(HTTP_X_WEBHOOK_TOKEN=django_settings.ELEVENLABS_WEBHOOK_TOKENS[0])
        barrier.wait()
        try:
            answers.append(call(client))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == count
    return answers


def test_concurrent_sends_in_one_call_text_once(sms_outbox):
    tool = {"conversation_id": CONVERSATION, "caller_id": CALLER}
    answers = _together(8, lambda client: client.post(SEND, tool, format="json").json())
    assert [a["result"] for a in answers] == ["sent"] * 8
    assert sorted(a["already_sent"] for a in answers) == [False] + [True] * 7
    assert len(sms_outbox) == 1 and OtpChallenge.objects.count() == 1


def test_concurrent_right_codes_approve_once(agent, sms_outbox):
    tool = {"conversation_id": CONVERSATION, "caller_id": CALLER}
    agent.post(SEND, tool, format="json")
    code = code_in(sms_outbox[0][1])
    answers = _together(8, lambda client: client.post(VERIFY, {**tool, "code": code}, format="json").json())
    results = sorted(a["result"] for a in answers)
    assert results == ["already_verified"] * 7 + ["approved"]
