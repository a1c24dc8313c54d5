"""POST /webhooks/twilio/sms/status: signatures, forward-only statuses in every order, deferred callbacks."""

import itertools
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from interactions.models import Interaction, Message
from interactions.providers.twilio.callbacks import status_callback_signature_valid
from interactions.signals import message_provider_id_assigned
from webhooks.models import InteractionEvent

from .conftest import TWILIO_AUTH_TOKEN, TWILIO_URL, fixture_bytes, fixture_request

pytestmark = [pytest.mark.django_db]

SID = "SM2c1e4f5a6b7c8d9e0f1a2b3c4d5e6f7a"
FORM = "application/x-www-form-urlencoded"
TOKEN = {"X-Webhook-Token": "test-twilio-token"}
STATUS_FIXTURES = ["queued", "sent", "delivered", "undelivered", "failed"]


def _message(sid: str | None = SID, status: str = "sending") -> Message:
    interaction = Interaction.objects.create(
        channel="sms", direction="outbound", provider="twilio", customer_phone="+5215512345678"
    )
    return Message.objects.create(
        interaction=interaction,
        channel="sms",
        direction="outbound",
        status=status,
        provider="twilio",
        provider_message_id=sid,
        to_phone="+5215512345678",
        body="hello",
    )


def _post(client, raw: bytes, headers=None, url: str = TWILIO_URL):
    return client.post(url, data=raw, content_type=FORM, headers=headers if headers is not None else TOKEN)


def _status(word: str, sid: str = SID, **extra) -> bytes:
    return urlencode(
        {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": word,
            "SmsStatus": word,
            "AccountSid": "AC" + "0" * 32,
            "To": "+5215512345678",
            "From": "+15005550006",
            **extra,
        }
    ).encode()


@pytest.mark.parametrize("word", STATUS_FIXTURES)
def test_fixture_signatures_are_valid_for_their_recorded_url(word):
    name = f"twilio_sms_status_{word}.txt"
    request = fixture_request(name)
    params = QueryDict(fixture_bytes(name))
    signature = request["headers"]["X-Twilio-Signature"]
    assert status_callback_signature_valid(
        url=request["url"], params=params, signature=signature, auth_token=TWILIO_AUTH_TOKEN
    )
    assert not status_callback_signature_valid(
        url=request["url"] + "x", params=params, signature=signature, auth_token=TWILIO_AUTH_TOKEN
    )


@pytest.mark.parametrize("word", STATUS_FIXTURES)
def test_every_fixture_is_applied_through_the_endpoint(client, word):
    message = _message(status="queued")
    response = _post(client, fixture_bytes(f"twilio_sms_status_{word}.txt"))
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    message.refresh_from_db()
    expected = {
        "queued": "queued",
        "sent": "sent",
        "delivered": "delivered",
        "undelivered": "undelivered",
        "failed": "failed",
    }[word]
    assert message.status == expected
    if word != "queued":  # queued → queued is no step forward: nothing to apply
        assert message.provider_status == word
    event = InteractionEvent.objects.get()
    assert (event.idempotency_key, event.external_ref) == (f"{SID}:{word}", SID)
    assert event.interaction_id == message.interaction_id


def test_error_codes_are_recorded_with_their_meaning(client):
    message = _message()
    _post(client, fixture_bytes("twilio_sms_status_undelivered.txt"))
    message.refresh_from_db()
    assert message.error_code == "30003"
    assert message.error_message == "Unreachable destination handset"
    assert message.failed_at is not None


def test_signature_from_twilios_own_validator_is_accepted_without_a_token(client, settings):
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    _message()
    raw = _status("delivered", RawDlrDoneDate="2607251721", SomeNewParam="kept")
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
        "https://cc.example.com" + TWILIO_URL, dict(QueryDict(raw).items())
    )
    response = _post(client, raw, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    event = InteractionEvent.objects.get()
    assert event.signature_valid is True
    assert event.payload["SomeNewParam"] == "kept"
    assert event.headers["X-Twilio-Signature"] == "present"


def test_signature_made_for_another_url_is_401_and_nothing_is_stored(client, settings):
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    raw = _status("delivered")
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
        "https://elsewhere.example.com" + TWILIO_URL, dict(QueryDict(raw).items())
    )
    assert _post(client, raw, headers={"X-Twilio-Signature": signature}).status_code == 401
    assert _post(client, raw, headers={"X-Twilio-Signature": signature, **TOKEN}).status_code == 401
    assert InteractionEvent.objects.count() == 0


def test_signature_url_keeps_the_query_token_and_proxy_headers_only_when_trusted(client, settings):
    _message()
    url = "https://public.example.com" + TWILIO_URL + "?token=test-twilio-token"
    raw = _status("sent")
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, dict(QueryDict(raw).items()))
    proxy = {"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"}
    settings.ALLOWED_HOSTS = ["testserver", "public.example.com"]
    untrusted = _post(client, raw, headers=proxy, url=TWILIO_URL + "?token=test-twilio-token")
    assert untrusted.status_code == 401  # the signature is checked against http://testserver/...
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    trusted = _post(client, raw, headers=proxy, url=TWILIO_URL + "?token=test-twilio-token")
    assert trusted.status_code == 200
    assert InteractionEvent.objects.get().signature_valid is True


def test_log_only_accepts_a_bad_signature(client, settings):
    settings.TWILIO_SIGNATURE_MODE = "log_only"
    _message()
    response = _post(client, _status("sent"), headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert response.status_code == 200
    assert InteractionEvent.objects.get().signature_valid is False


def test_query_token_without_signature(client):
    _message()
    assert _post(client, _status("sent"), headers={}, url=TWILIO_URL + "?token=test-twilio-token").status_code == 200
    assert _post(client, _status("delivered"), headers={}, url=TWILIO_URL + "?token=bad").status_code == 401
    assert _post(client, _status("delivered"), headers={}).status_code == 401


@pytest.mark.parametrize(
    "words, final",
    [
        *[(order, "delivered") for order in itertools.permutations(["queued", "sent", "delivered"])],
        *[(order, "undelivered") for order in itertools.permutations(["queued", "sent", "undelivered"])],
        *[(order, "read") for order in itertools.permutations(["sent", "delivered", "read"])],
    ],
)
def test_callbacks_in_every_order_end_in_the_same_status(client, words, final):
    message = _message(status="sending")
    for word in words:
        assert _post(client, _status(word)).status_code == 200
    message.refresh_from_db()
    assert message.status == final
    assert message.sent_at is not None
    assert getattr(message, {"delivered": "delivered_at", "read": "read_at", "undelivered": "failed_at"}[final])


def test_repeats_are_duplicates_and_legacy_fields_are_read(client):
    message = _message()
    raw = urlencode({"SmsSid": SID, "SmsStatus": "delivered", "AccountSid": "AC1"}).encode()
    assert _post(client, raw).json()["status"] == "processed"
    assert _post(client, raw).json()["status"] == "duplicate"
    message.refresh_from_db()
    assert message.status == "delivered"


def test_unknown_status_word_is_ignored_without_failing(client):
    message = _message()
    response = _post(client, _status("teleported"))
    assert response.json()["status"] == "ignored"
    message.refresh_from_db()
    assert message.status == "sending"


def test_a_callback_without_a_sid_is_stored_failed(client):
    response = _post(client, urlencode({"MessageStatus": "sent"}).encode())
    assert response.json()["status"] == "failed"
    assert "MessageSid" in InteractionEvent.objects.get().error


@pytest.mark.django_db(transaction=True)
def test_a_callback_for_an_unknown_sid_is_deferred_and_applied_when_the_sid_is_assigned(client):
    new_sid = "SM" + "9" * 32
    response = _post(client, _status("delivered", sid=new_sid))
    assert response.json()["status"] == "deferred"
    event = InteractionEvent.objects.get()
    assert (event.status, event.external_ref) == ("deferred", new_sid)

    message = _message(sid=None)
    Message.objects.filter(pk=message.pk).update(provider_message_id=new_sid)
    message_provider_id_assigned.send(sender=Message, message_id=message.pk, provider_message_id=new_sid)

    event.refresh_from_db()
    message.refresh_from_db()
    assert event.status == "processed"
    assert message.status == "delivered"
    assert event.interaction_id == message.interaction_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sid_recorded_while_its_early_callback_is_being_stored_is_not_missed(client):
    """The send records the SID (and looks for deferred callbacks) after the callback's apply found no message but
    before the callback's transaction committed, so that look found nothing: the callback looks once more after its
    own commit and is applied."""
    import psycopg
    from django.db import connection

    new_sid = "SM" + "7" * 32
    message = _message(sid=None)
    database = connection.settings_dict
    recorded = []

    def record_the_sid_meanwhile(execute, sql, params, many, context):
        if not recorded and "INSERT INTO webhooks_interactionevent" in sql:
            recorded.append(sql)
            with psycopg.connect(
                host=database["HOST"] or "127.0.0.1",
                port=database["PORT"] or 5432,
                user=database["USER"],
                dbname=database["NAME"],
                autocommit=True,
            ) as other:
                other.execute(
                    "UPDATE interactions_message SET provider_message_id = %s WHERE id = %s", [new_sid, message.pk]
                )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record_the_sid_meanwhile):
        response = _post(client, _status("delivered", sid=new_sid))

    assert response.json()["status"] == "deferred"  # what the request saw
    message.refresh_from_db()
    assert message.status == "delivered"  # and what became of it right after
    assert InteractionEvent.objects.get().status == "processed"


def test_deferred_event_is_applied_by_replay(client):
    from django.core.management import call_command

    new_sid = "SM" + "8" * 32
    _post(client, _status("sent", sid=new_sid))
    message = _message(sid=new_sid)
    call_command("replay_webhook_events", "--status", "deferred")
    message.refresh_from_db()
    assert message.status == "sent"
    assert InteractionEvent.objects.get().status == "processed"


def test_json_callback_signed_with_body_sha256(client, settings):
    import hashlib
    import json

    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    message = _message()
    raw = json.dumps({"MessageSid": SID, "MessageStatus": "delivered"}).encode()
    query = "?bodySHA256=" + hashlib.sha256(raw).hexdigest()
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature("https://cc.example.com" + TWILIO_URL + query, {})
    response = client.post(
        TWILIO_URL + query, data=raw, content_type="application/json", headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    tampered = raw.replace(b"delivered", b"read")
    response = client.post(
        TWILIO_URL + query, data=tampered, content_type="application/json", headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 401
