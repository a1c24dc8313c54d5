"""The Twilio and BuilderBot adapters against the fake servers over real HTTP on loopback: request formats, error
bodies of every shape, and the split between permanent, transient and uncertain failures."""

import json
import socket
from pathlib import Path

import pytest

from interactions.providers.base import (
    OutboundMessage,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from interactions.providers.builderbot import BuilderBotWhatsAppBackend
from interactions.providers.twilio import TwilioSmsBackend
from interactions.providers.twilio.errors import retry_after_seconds, twilio_error_parse
from simulators.fake_builderbot import builderbot_error
from simulators.fake_http import Behaviour
from simulators.fake_twilio import accept_then_hang, drop, hang, server_error, too_many_requests, twilio_error

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
PHONE = "+5215512345678"


def _sms(**kwargs) -> OutboundMessage:
    return OutboundMessage(
        **{"message_id": "6f1c0d2e-0000-4000-8000-000000000001", "channel": "sms", "to_phone": PHONE, "body": "Hola"}
        | kwargs
    )


# --- Twilio: the request --------------------------------------------------------------------------------------


def test_twilio_send_posts_the_real_path_form_encoded_with_basic_auth(settings, sms_via_fake_twilio):
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    result = TwilioSmsBackend().send(_sms(validity_seconds=300))

    [request] = sms_via_fake_twilio.create_requests
    assert request.path == f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert request.headers["authorization"].startswith("Basic ")
    assert request.form == {
        "To": PHONE,
        "From": settings.TWILIO_FROM_NUMBER,
        "Body": "Hola",
        "StatusCallback": "https://cc.example.com/webhooks/twilio/sms/status?msg_id=6f1c0d2e-0000-4000-8000-000000000001",
        "ValidityPeriod": "300",
    }
    assert result.provider_message_id.startswith("SM")
    assert result.provider_message_id in sms_via_fake_twilio.messages
    assert result.provider_status == "queued"


def test_twilio_send_uses_the_messaging_service_and_no_callback_without_a_public_url(settings, sms_via_fake_twilio):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG11111111111111111111111111111111"
    settings.PUBLIC_BASE_URL = ""
    result = TwilioSmsBackend().send(_sms())

    form = sms_via_fake_twilio.create_requests[0].form
    assert form["MessagingServiceSid"] == "MG11111111111111111111111111111111"
    assert "From" not in form
    assert "StatusCallback" not in form
    assert result.provider_status == "accepted"


def test_twilio_fetch_reads_the_status_and_error_code(sms_via_fake_twilio):
    backend = TwilioSmsBackend()
    sid = backend.send(_sms()).provider_message_id
    sms_via_fake_twilio.wait_for_callbacks()
    sms_via_fake_twilio.set_status(sid, "undelivered", error_code=30003)
    status = backend.fetch(sid)
    assert (status.provider_status, status.error_code) == ("undelivered", "30003")


def test_twilio_fetch_of_an_unknown_sid_is_permanent(sms_via_fake_twilio):
    with pytest.raises(PermanentSendError) as error:
        TwilioSmsBackend().fetch("SM" + "0" * 32)
    assert error.value.code == "20404"


# --- Twilio: errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "error_class", "code"),
    [
        (twilio_error(21211), PermanentSendError, "21211"),
        (twilio_error(21610, shape="errors"), PermanentSendError, "21610"),
        (twilio_error(21408, shape="rfc9457"), PermanentSendError, "21408"),
        (twilio_error(20003, 401), PermanentSendError, "20003"),
        (twilio_error(21211, shape="html"), PermanentSendError, "400"),
        (too_many_requests(), TransientSendError, "20429"),
        (too_many_requests(shape="rfc9457"), TransientSendError, "20429"),
        (Behaviour(kind="error", status=429, body="slow down"), TransientSendError, "20429"),
        (server_error(503), UncertainSendError, "503"),
        (twilio_error(20500, 500), UncertainSendError, "20500"),
    ],
    ids=["21211", "21610-errors-shape", "21408-rfc9457", "20003", "non-json-400", "20429", "20429-rfc9457",
         "429-non-json", "503-html", "500-json"],
)  # fmt: skip
def test_twilio_errors_are_classified(sms_via_fake_twilio, behaviour, error_class, code):
    sms_via_fake_twilio.fail_next(behaviour)
    with pytest.raises(error_class) as error:
        TwilioSmsBackend().send(_sms())
    assert type(error.value) is error_class
    assert error.value.code == code
    assert error.value.detail
    assert not sms_via_fake_twilio.messages  # the fake created nothing


def test_twilio_429_retry_after_is_read(sms_via_fake_twilio):
    sms_via_fake_twilio.fail_next(too_many_requests(retry_after=7))
    with pytest.raises(TransientSendError) as error:
        TwilioSmsBackend().send(_sms())
    assert error.value.retry_after == 7


@pytest.mark.parametrize("behaviour", [accept_then_hang(3), hang(3), drop()], ids=["accept-then-hang", "hang", "drop"])
def test_twilio_answers_that_may_hide_a_created_message_are_uncertain(settings, sms_via_fake_twilio, behaviour):
    settings.MESSAGE_SEND_TIMEOUT_SECONDS = 0.5
    sms_via_fake_twilio.fail_next(behaviour)
    with pytest.raises(UncertainSendError):
        TwilioSmsBackend().send(_sms())


def test_twilio_refused_connection_is_transient_not_uncertain(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(TransientSendError) as error:
        TwilioSmsBackend().send(_sms())
    assert type(error.value) is TransientSendError


def test_twilio_lookup_finds_the_message_an_uncertain_attempt_created(settings, sms_via_fake_twilio):
    from django.utils import timezone

    settings.MESSAGE_SEND_TIMEOUT_SECONDS = 0.5
    since = timezone.now()
    sms_via_fake_twilio.fail_next(accept_then_hang(2))
    backend = TwilioSmsBackend()
    with pytest.raises(UncertainSendError):
        backend.send(_sms(body="Su folio es 42"))
    found = backend.lookup(_sms(body="Su folio es 42"), since=since)
    assert found is not None
    assert found.provider_message_id in sms_via_fake_twilio.messages
    assert backend.lookup(_sms(body="otro texto"), since=since) is None


@pytest.mark.parametrize(
    "name", ["twilio_error_21211.json", "twilio_error_21610.json", "twilio_error_21408.json", "twilio_error_20429.json",
             "twilio_error_rfc9457_variant.json"],
)  # fmt: skip
def test_recorded_twilio_error_bodies_are_read(name):
    text = (FIXTURES / name).read_text()
    info = twilio_error_parse(json.loads(text)["status"], text)
    assert info.code == str(json.loads(text)["code"])
    assert info.message
    assert "5215512345678" not in info.message


def test_twilio_error_parse_masks_phones_and_reads_non_json():
    info = twilio_error_parse(400, '{"code": 21211, "message": "The \'To\' number +5215512345678 is not valid."}')
    assert "+52*******5678" in info.message
    assert twilio_error_parse(502, "<html>Bad gateway</html>").message == "HTTP 502 from Twilio"


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


# --- BuilderBot -----------------------------------------------------------------------------------------------


def test_builderbot_send_matches_the_recorded_request(settings, whatsapp_via_fake_builderbot):
    result = BuilderBotWhatsAppBackend().send(
        _sms(channel="whatsapp", body="Adjuntamos su estado de cuenta.",
             media_url="https://contact-center.example.com/media/estado-cuenta-demo.pdf")
    )  # fmt: skip
    [request] = whatsapp_via_fake_builderbot.send_requests
    assert request.path == f"/api/v2/{settings.BUILDERBOT_PROJECT_ID}/messages"
    assert request.headers["x-api-builderbot"] == settings.BUILDERBOT_API_KEY
    assert request.headers["content-type"] == "application/json"
    assert request.json() == json.loads((FIXTURES / "builderbot_send_message_request_media.json").read_text())
    assert result.status == "sent"


def test_builderbot_text_only_body_has_no_media_key(whatsapp_via_fake_builderbot):
    BuilderBotWhatsAppBackend().send(_sms(channel="whatsapp", body="Su folio de aclaración es ACL-20260725-0042."))
    assert whatsapp_via_fake_builderbot.send_requests[0].json() == json.loads(
        (FIXTURES / "builderbot_send_message_request.json").read_text()
    )


def test_builderbot_success_with_an_empty_or_odd_body(whatsapp_via_fake_builderbot):
    whatsapp_via_fake_builderbot.fail_next(Behaviour(kind="error", status=201, body=""))
    result = BuilderBotWhatsAppBackend().send(_sms(channel="whatsapp"))
    assert (result.status, result.provider_message_id) == ("sent", None)


@pytest.mark.parametrize(
    ("behaviour", "error_class"),
    [
        (builderbot_error(401, "Unauthorized"), PermanentSendError),
        (builderbot_error(400, "bad number"), PermanentSendError),
        (builderbot_error(429, headers={"Retry-After": "3"}), TransientSendError),
        (builderbot_error(502), UncertainSendError),
        (drop(), UncertainSendError),
    ],
    ids=["401", "400", "429", "502", "drop"],
)
def test_builderbot_errors_are_classified(whatsapp_via_fake_builderbot, behaviour, error_class):
    whatsapp_via_fake_builderbot.fail_next(behaviour)
    with pytest.raises(error_class) as error:
        BuilderBotWhatsAppBackend().send(_sms(channel="whatsapp"))
    assert type(error.value) is error_class
    assert not whatsapp_via_fake_builderbot.sent


def test_builderbot_wrong_key_is_refused_by_the_fake(settings, whatsapp_via_fake_builderbot):
    settings.BUILDERBOT_API_KEY = "bb-wrong"
    with pytest.raises(PermanentSendError) as error:
        BuilderBotWhatsAppBackend().send(_sms(channel="whatsapp"))
    assert error.value.http_status == 401
