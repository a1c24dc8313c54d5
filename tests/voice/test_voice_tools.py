"""The voice agent's tools through HTTP: send a code to the caller, verify what they read back, the initiation
variables; authentication, idempotency, the caller's number taken from the call, the OTP limits, and the code kept
out of every answer, log line and audit record."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditLog
from interactions.models import CallDetail, Interaction
from otp.models import OtpChallenge

from .conftest import (
    CALLER,
    CONVERSATION,
    INITIATION,
    POST_CALL,
    SEND,
    VERIFY,
    code_in,
    dashed,
    fixture_json,
    spaced,
    wrong,
)

pytestmark = pytest.mark.django_db(transaction=True)

VARIABLES = {
    "customer_known",
    "customer_masked_phone",
    "open_interactions",
    "last_contact_channel",
    "last_contact_date",
    "verification_pending",
}


def send(agent, conversation_id=CONVERSATION, caller_id=CALLER, **extra):
    response = agent.post(SEND, {"conversation_id": conversation_id, "caller_id": caller_id, **extra}, format="json")
    assert response.status_code == 200
    return response.json()


def verify(agent, code, conversation_id=CONVERSATION, caller_id=CALLER):
    response = agent.post(
        VERIFY, {"conversation_id": conversation_id, "caller_id": caller_id, "code": code}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def initiation(agent, payload):
    response = agent.post(INITIATION, payload, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "conversation_initiation_client_data"
    assert set(body["dynamic_variables"]) == VARIABLES
    return body["dynamic_variables"]


def sent_code(sms_outbox, index=-1) -> str:
    return code_in(sms_outbox[index][1])


# --- authentication --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SEND, VERIFY, INITIATION])
def test_without_or_with_a_wrong_token_every_endpoint_answers_401_and_does_nothing(client, path, sms_outbox):
    payload = {"conversation_id": CONVERSATION, "caller_id": CALLER, "code": "123456"}
    assert client.post(path, payload, content_type="application/json").status_code == 401
    wrong_token = client.post(path, payload, content_type="application/json", HTTP_X_WEBHOOK_TOKEN="nope")
    assert wrong_token.status_code == 401
    assert wrong_token.json()["errors"][0]["code"] == "not_authenticated"
    assert not sms_outbox and not OtpChallenge.objects.exists() and not Interaction.objects.exists()


def test_a_dedicated_tool_token_is_accepted_besides_the_webhook_token(client, settings, sms_outbox):
    settings.ELEVENLABS_TOOL_TOKENS = ["tool-secret-fixture-0001"]
    answer = client.post(
        SEND,
        {"conversation_id": CONVERSATION, "caller_id": CALLER},
        content_type="application/json",
        HTTP_X_WEBHOOK_TOKEN="tool-secret-fixture-0001",
    )
    assert answer.status_code == 200 and answer.json()["result"] == "sent"


def test_a_signature_is_no_substitute_for_the_token(client):
    answer = client.post(
        INITIATION, {"caller_id": CALLER}, content_type="application/json", HTTP_ELEVENLABS_SIGNATURE="t=1,v0=ab"
    )
    assert answer.status_code == 401


# --- send ------------------------------------------------------------------------------------------------------------


def test_send_texts_a_code_to_the_number_of_the_call_bound_to_the_conversation(agent, sms_outbox, settings):
    answer = send(agent)
    assert answer["result"] == "sent"
    assert answer["masked_phone"] == "+52******5678"
    assert settings.OTP_TTL_SECONDS - 5 <= answer["expires_in_seconds"] <= settings.OTP_TTL_SECONDS
    assert answer["code_length"] == 6 and answer["already_sent"] is False
    assert "5678" in answer["message"]
    assert [to for to, _ in sms_outbox] == [CALLER]

    challenge = OtpChallenge.objects.get()
    call = Interaction.objects.get(provider="elevenlabs", external_id=CONVERSATION)
    assert challenge.conversation_id == CONVERSATION and challenge.interaction == call
    assert challenge.purpose == settings.VOICE_OTP_PURPOSE and challenge.client_id == "elevenlabs:voice-agent"
    assert call.channel == "call" and call.customer_phone == CALLER and call.verified_at is None


def test_a_repeated_send_in_the_same_call_returns_the_code_already_sent(agent, sms_outbox, settings):
    first = send(agent)
    again = send(agent)
    assert again["result"] == "sent" and again["already_sent"] is True
    assert again["masked_phone"] == first["masked_phone"]
    assert len(sms_outbox) == 1 and OtpChallenge.objects.count() == 1
    assert AuditLog.objects.filter(action="voice.otp_send_repeated").count() == 1

    with freeze_time(timezone.now() + timedelta(seconds=settings.VOICE_OTP_RESEND_WINDOW_SECONDS + 1)):
        later = send(agent)
    assert later["result"] == "sent" and later["already_sent"] is False
    assert len(sms_outbox) == 2
    assert OtpChallenge.objects.filter(status="pending").count() == 1  # the new code replaced the first


def test_the_rate_limit_of_the_otp_service_holds_through_the_tool(agent, sms_outbox, settings):
    settings.VOICE_OTP_RESEND_WINDOW_SECONDS = 0
    for _ in range(settings.OTP_RATE_LIMIT_MAX):
        assert send(agent)["result"] == "sent"
    limited = send(agent)
    assert limited["result"] == "rate_limited"
    assert 0 < limited["retry_after_seconds"] <= settings.OTP_RATE_LIMIT_WINDOW_SECONDS
    assert len(sms_outbox) == settings.OTP_RATE_LIMIT_MAX
    refused = AuditLog.objects.get(action="voice.otp_refused")
    assert refused.data["result"] == "rate_limited" and refused.data["phone"] == "+52******5678"


def test_the_number_comes_from_the_call_and_a_spoken_number_is_ignored_unless_allowed(agent, sms_outbox, settings):
    other = "+525599990000"  # canonical; spoken below as "+52 1 55 9999 0000"
    assert send(agent, phone_number=other)["masked_phone"] == "+52******5678"
    assert sms_outbox[-1][0] == CALLER

    settings.VOICE_OTP_ALLOW_SPOKEN_NUMBER = True
    allowed = send(agent, conversation_id="conv_spoken", phone_number="+52 1 55 9999 0000")
    assert allowed["result"] == "sent" and allowed["masked_phone"] == "+52******0000"
    assert sms_outbox[-1][0] == other
    assert send(agent, conversation_id="conv_spoken_2", phone_number="five five five")["result"] == "invalid_number"


def test_a_caller_id_that_contradicts_the_call_record_is_refused(agent, sms_outbox):
    initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    answer = send(agent, caller_id="+5215500001111")
    assert answer["result"] == "not_allowed" and answer["reason"] == "caller_mismatch"
    assert not sms_outbox and not OtpChallenge.objects.exists()


def test_without_a_caller_id_the_number_recorded_for_the_call_is_used(agent, sms_outbox):
    assert send(agent, caller_id="")["result"] == "no_number"
    initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    assert send(agent, caller_id="")["result"] == "sent"
    assert sms_outbox == [(CALLER, sms_outbox[0][1])]


@pytest.mark.parametrize("caller_id", ["", "anonymous", "{{system__caller_id}}", "266696687", None])
def test_a_hidden_or_unknown_number_gets_no_code(agent, sms_outbox, caller_id):
    assert send(agent, caller_id=caller_id)["result"] == "no_number"
    assert not sms_outbox


def test_a_country_outside_the_allow_list_is_not_allowed(agent, sms_outbox, settings):
    settings.OTP_ALLOWED_COUNTRIES = ["US"]
    answer = send(agent)
    assert answer == {**answer, "result": "not_allowed", "reason": "country_not_allowed"}
    assert not sms_outbox


def test_odd_bodies_get_an_answer_the_agent_can_read(agent, sms_outbox):
    assert send(agent, conversation_id="")["result"] == "no_conversation"
    for body, content_type in ((b"not json", "application/json"), (b"[1, 2]", "application/json"), (b"", "")):
        answer = agent.generic("POST", SEND, body, content_type=content_type)
        assert answer.status_code == 200 and answer.json()["result"] == "no_conversation"
    form = agent.post(
        SEND,
        f"conversation_id={CONVERSATION}&caller_id=%2B5215512345678",
        content_type="application/x-www-form-urlencoded",
    )
    assert form.json()["result"] == "sent"


def test_an_unexpected_failure_still_answers_200_with_a_result(agent, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database is gone +5215512345678")

    monkeypatch.setattr("voice.views.voice_otp_send", broken)
    monkeypatch.setattr("voice.views.voice_otp_verify", broken)
    monkeypatch.setattr("voice.views.voice_initiation_answer", broken)
    with caplog.at_level(logging.INFO):
        assert send(agent)["result"] == "unavailable"
        assert verify(agent, "123456") == {**verify(agent, "123456"), "result": "unavailable", "verified": False}
        variables = initiation(agent, {"caller_id": CALLER})
    assert variables["customer_known"] is False and variables["customer_masked_phone"] == ""
    assert "5512345678" not in caplog.text


# --- verify ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spell",
    [
        spaced,  # "1 2 3 4 5 6"
        dashed,  # "123-456"
        lambda code: f"{code[:3]} {code[3:]}",
        int,  # leading zeros lost in a JSON number come back
        lambda code: [code[:2], code[2:4], code[4:]],
        lambda code: f"my code is {spaced(code)}.",
    ],
)
def test_the_code_as_a_speech_recogniser_writes_it_approves_and_marks_the_call_verified(agent, sms_outbox, spell):
    send(agent)
    code = sent_code(sms_outbox)
    answer = verify(agent, spell(code))
    assert answer["result"] == "approved" and answer["verified"] is True
    challenge = OtpChallenge.objects.get()
    call = Interaction.objects.get(provider="elevenlabs", external_id=CONVERSATION)
    assert challenge.status == "approved"
    assert call.verified_by_challenge_id == challenge.pk and call.verified_at == challenge.approved_at
    assert verify(agent, code)["result"] == "already_verified"


def test_a_code_of_another_conversation_is_refused(agent, sms_outbox):
    send(agent, conversation_id="conv_a")
    code = sent_code(sms_outbox)
    assert verify(agent, code, conversation_id="conv_b")["result"] == "no_challenge"
    send(agent, conversation_id="conv_b", caller_id="+5215500002222")
    other = verify(agent, code, conversation_id="conv_b", caller_id="+5215500002222")
    assert other["result"] in ("wrong_code", "approved")
    if other["result"] == "approved":  # one chance in a million that both codes are the same
        pytest.skip("the two random codes happen to be equal")
    assert OtpChallenge.objects.get(conversation_id="conv_a").status == "pending"
    assert not Interaction.objects.filter(verified_at__isnull=False).exists()


def test_wrong_codes_count_attempts_then_lock(agent, sms_outbox, settings):
    send(agent)
    code = sent_code(sms_outbox)
    for left in range(settings.OTP_MAX_ATTEMPTS - 1, 0, -1):
        answer = verify(agent, wrong(code))
        assert answer == {**answer, "result": "wrong_code", "verified": False, "attempts_left": left}
    assert verify(agent, wrong(code))["result"] == "locked"
    assert verify(agent, code)["result"] == "locked"
    assert Interaction.objects.get(external_id=CONVERSATION).verified_at is None


def test_a_code_with_the_wrong_number_of_digits_costs_no_attempt(agent, sms_outbox):
    send(agent)
    code = sent_code(sms_outbox)
    answer = verify(agent, code[:5])
    assert answer["result"] == "invalid_code" and answer["code_length"] == 6
    assert verify(agent, "")["result"] == "invalid_code"
    assert OtpChallenge.objects.get().attempts == 0
    assert verify(agent, code)["result"] == "approved"


def test_an_expired_code_is_expired(agent, sms_outbox, settings):
    send(agent)
    code = sent_code(sms_outbox)
    with freeze_time(timezone.now() + timedelta(seconds=settings.OTP_TTL_SECONDS + 1)):
        assert verify(agent, code)["result"] == "expired"
        assert verify(agent, "12")["result"] == "expired"
    assert OtpChallenge.objects.get().status == "expired"


def test_verify_without_a_code_sent_in_the_call(agent):
    assert verify(agent, "123456")["result"] == "no_challenge"
    assert verify(agent, "123456", conversation_id="")["result"] == "no_conversation"


# --- initiation ------------------------------------------------------------------------------------------------------


def test_initiation_for_an_unknown_caller_gives_every_variable_and_records_the_call(agent):
    variables = initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    assert variables == {
        "customer_known": False,
        "customer_masked_phone": "+52******5678",
        "open_interactions": 0,
        "last_contact_channel": "",
        "last_contact_date": "",
        "verification_pending": False,
    }
    detail = CallDetail.objects.get(conversation_id=CONVERSATION)
    assert detail.customer_number == CALLER and detail.agent_number == "+525587654321"
    assert detail.call_sid.startswith("CA") and detail.interaction.direction == "inbound"
    assert AuditLog.objects.get(action="voice.initiation").data["phone"] == "+52******5678"


def test_initiation_for_a_known_caller_tells_coarse_facts_only(agent, sms_outbox):
    with freeze_time("2026-11-20 10:00:00"):
        Interaction.objects.create(
            channel="whatsapp",
            direction="inbound",
            provider="builderbot",
            customer_phone=CALLER,
            status="open",
            subject="Card blocked",
            summary="Private matter",
            last_activity_at=timezone.now(),
        )
    Interaction.objects.create(
        channel="sms", direction="outbound", provider="twilio", customer_phone="+5215500003333", status="open"
    )
    variables = initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    assert variables == {
        "customer_known": True,
        "customer_masked_phone": "+52******5678",
        "open_interactions": 1,
        "last_contact_channel": "whatsapp",
        "last_contact_date": "2026-11-20",
        "verification_pending": False,
    }
    send(agent)
    again = initiation(
        agent, {**fixture_json("elevenlabs_conversation_initiation_request.json"), "conversation_id": "c2"}
    )
    assert again["verification_pending"] is True
    assert again["open_interactions"] == 3  # the WhatsApp one, the SMS that carried the code, the first call


def test_initiation_shares_nothing_when_the_bank_says_so(agent, settings):
    settings.VOICE_INITIATION_SHARE_CONTEXT = False
    Interaction.objects.create(channel="whatsapp", direction="inbound", provider="builderbot", customer_phone=CALLER)
    variables = initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    assert variables == {
        "customer_known": False,
        "customer_masked_phone": "",
        "open_interactions": 0,
        "last_contact_channel": "",
        "last_contact_date": "",
        "verification_pending": False,
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"caller_id": "5215512345678@s.whatsapp.net", "called_number": "1234567890", "call_sid": "", "agent_id": "a"},
        {"caller_id": "wa-user-8f3a", "call_sid": "", "conversation_id": "conv_wa"},
        {"caller_id": CALLER, "call_sid": "CA1", "agent_id": "a"},  # no conversation id
        {"caller_id": None, "called_number": 42, "call_sid": None, "sip_headers": {"X-A": "b"}},
        {"caller_id": "anonymous", "call_id": "sip-1", "conversation_id": "conv_sip"},
        {},
    ],
)
def test_initiation_never_errors_on_odd_input(agent, payload):
    initiation(agent, payload)
    assert not Interaction.objects.filter(external_id="conv_wa").exists()  # WhatsApp conversations are no calls
    assert not Interaction.objects.filter(external_id="conv_sip").exists()  # nothing to record without a number


def test_initiation_answers_a_body_that_is_not_json(agent):
    for body in (b"{broken", b"[]", b"\xff\xfe"):
        response = agent.generic("POST", INITIATION, body, content_type="application/json")
        assert response.status_code == 200
        assert set(response.json()["dynamic_variables"]) == VARIABLES


# --- the call's interaction and the post-call webhook ----------------------------------------------------------------


def test_the_post_call_webhook_lands_on_the_interaction_the_tools_used(agent, sms_outbox, settings):
    initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json"))
    send(agent)
    assert verify(agent, spaced(sent_code(sms_outbox)))["result"] == "approved"
    call = Interaction.objects.get(provider="elevenlabs", external_id=CONVERSATION)

    post_call = agent.post(POST_CALL, fixture_json("elevenlabs_post_call_transcription.json"), format="json")
    assert post_call.status_code == 200 and post_call.json()["status"] == "processed"
    assert Interaction.objects.filter(channel="call").count() == 1
    after = Interaction.objects.get(pk=call.pk)
    assert after.status == "completed" and after.customer_phone == CALLER
    assert after.verified_at == call.verified_at and after.verified_by_challenge_id == call.verified_by_challenge_id
    assert CallDetail.objects.get(interaction=after).duration_seconds is not None


def test_the_tools_find_the_call_the_post_call_webhook_created(agent, sms_outbox):
    agent.post(POST_CALL, fixture_json("elevenlabs_post_call_transcription.json"), format="json")
    assert send(agent, caller_id="+5215500001111")["reason"] == "caller_mismatch"
    assert send(agent, caller_id="")["result"] == "sent"
    assert OtpChallenge.objects.get().interaction == Interaction.objects.get(channel="call")


# --- the code stays secret -------------------------------------------------------------------------------------------


def test_the_code_is_in_no_answer_log_line_or_audit_record(agent, sms_outbox, caplog, settings):
    answers = []
    with caplog.at_level(logging.DEBUG):
        answers.append(initiation(agent, fixture_json("elevenlabs_conversation_initiation_request.json")))
        answers.append(send(agent))
        answers.append(send(agent))
        code = sent_code(sms_outbox)
        answers.append(verify(agent, wrong(code)))
        answers.append(verify(agent, code[:4]))
        answers.append(verify(agent, dashed(code)))
        answers.append(verify(agent, code))
    assert answers[-2]["result"] == "approved"
    texts = [json.dumps(answers)]
    texts += [json.dumps(record.__dict__, default=str) for record in caplog.records]
    texts += [json.dumps(row, default=str) for row in AuditLog.objects.values()]
    for text in texts:
        assert code not in text and dashed(code) not in text and spaced(code) not in text
        assert CALLER not in text and CALLER[1:] not in text
    assert any(r.getMessage() == "voice_tool" and getattr(r, "tool", "") == "otp_verify" for r in caplog.records)
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {
        "voice.initiation",
        "otp.created",
        "voice.otp_send_repeated",
        "otp.verify_failed",
        "otp.approved",
    } <= actions


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    for path in (SEND, VERIFY, INITIATION):
        assert "post" in schema["paths"][path]
