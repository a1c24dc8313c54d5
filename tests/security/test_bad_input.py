"""Items 11-14 of the security review: bad input is never a 500, and nothing a provider sends is lost.

11. A delivery PostgreSQL cannot store as JSON (a lone UTF-16 surrogate, NaN, Infinity, 1e999) is stored (its raw
    text kept, losslessly), applied as far as it can be, and answered 2xx.
12. JSON nested 100,000 levels deep is a 400 everywhere (a bad body for the voice tools, which always answer 200);
    too many form fields on a webhook, a tampered cursor and an out-of-range date filter are 400s.
13. A header the signature does not cover (`X-Idempotency-Key`) never overrides a provider's own event identity.
14. A customer's repeated WhatsApp message without a provider id is never dropped: two identical messages a minute
    apart are two, the same delivery retried within seconds is one (at a time bucket's edge and under concurrency
    too)."""

import base64
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from django.db import connections
from freezegun import freeze_time

from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from interactions.models import Interaction, Message
from interactions.providers.builderbot.inbound import builderbot_identity
from interactions.providers.elevenlabs import elevenlabs_signature_compute
from retention.services import customer_erase, retention_apply
from tests.factories import InteractionFactory
from webhooks.models import EventStatus, InteractionEvent
from webhooks.services import Delivery, webhook_delivery_receive

from .conftest import make_api_key

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
http = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
ELEVENLABS_SECRET = "wsec_test_fixture_secret_do_not_use"
ELEVENLABS = "/webhooks/elevenlabs/call"
BUILDERBOT = "/webhooks/builderbot/whatsapp"
TWILIO = "/webhooks/twilio/sms/status"
OTP_SEND = "/webhooks/elevenlabs/tools/otp/send"
OTP_VERIFY = "/webhooks/elevenlabs/tools/otp/verify"
INITIATION = "/webhooks/elevenlabs/initiation"
TOKENS = {
    ELEVENLABS: {"X-Webhook-Token": "test-elevenlabs-token"},
    BUILDERBOT: {"X-Webhook-Token": "test-builderbot-token"},
    TWILIO: {"X-Webhook-Token": "test-twilio-token"},
    OTP_SEND: {"X-Webhook-Token": "test-elevenlabs-token"},
    OTP_VERIFY: {"X-Webhook-Token": "test-elevenlabs-token"},
    INITIATION: {"X-Webhook-Token": "test-elevenlabs-token"},
}
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CUSTOMER = "5215512345678"


def _post(server, path: str, raw: bytes, *, headers: dict | None = None, token: bool = True) -> requests.Response:
    sent = {**JSON, **(TOKENS[path] if token and path in TOKENS else {}), **(headers or {})}
    return requests.post(server.url + path, data=raw, headers=sent, timeout=30)


def _whatsapp(body: str, *, message_id: str | None = None, sender: str = f'"{CUSTOMER}"') -> bytes:
    """A BuilderBot message as raw JSON text (so that it can carry what `json.dumps` would never write)."""
    ident = f', "id": "{message_id}"' if message_id else ""
    return (
        f'{{"eventName": "message.incoming", "data": {{"from": {sender}, "body": "{body}"{ident}, '
        f'"projectId": "7d4339ee-2a9b-424e-92f6-ad7790c1662f"}}}}'
    ).encode()


def _transcription(conversation_id: str) -> bytes:
    raw = (FIXTURES / "elevenlabs_post_call_transcription.json").read_bytes()
    return raw.replace(b"conv_8901k5zvyjhmfg983brhmhkd98n6", conversation_id.encode())


def _signed(raw: bytes) -> dict:
    return {"ElevenLabs-Signature": elevenlabs_signature_compute(raw_body=raw, secret=ELEVENLABS_SECRET)}


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _error_code(response) -> str:
    return response.json()["errors"][0]["code"]


# --- 11. Deliveries PostgreSQL cannot store as they are ------------------------------------------------------------
@http
def test_a_lone_surrogate_in_a_whatsapp_message_is_stored_applied_and_answered_200(prod_server):
    server = prod_server()
    # A JavaScript sender cut an emoji in half: a lone high surrogate in the text, a lone low one in the id and a key.
    raw = _whatsapp("S\\u00ed \\ud83d", message_id="wamid.\\udc00cut").replace(b'"from"', b'"x\\udfff": 1, "from"')

    response = _post(server, BUILDERBOT, raw)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    event = InteractionEvent.objects.get(pk=response.json()["event_id"])
    assert event.raw_body == raw.decode()  # the delivery exactly as it came
    assert json.loads(event.raw_body)["data"]["body"] == "Sí \ud83d"
    assert event.payload["data"]["body"] == "Sí \ufffd"
    assert event.payload["data"]["x\ufffd"] == 1
    assert event.external_ref == "wamid.\ufffdcut"
    message = Message.objects.get(interaction_id=event.interaction_id)
    assert message.body == "Sí \ufffd"
    # A retry of the same delivery is the same event.
    assert _post(server, BUILDERBOT, raw).json() == {"status": "duplicate", "event_id": str(event.pk)}


@http
def test_nan_infinity_and_overflowing_numbers_in_a_signed_call_webhook_are_stored_and_applied(prod_server):
    server = prod_server()
    raw = (
        _transcription("conv_nan_0001")
        .replace(b'"call_duration_secs": 248', b'"call_duration_secs": NaN')
        .replace(b'"cost": 1240', b'"cost": 1e999')
        .replace(b'"tool_latency_secs": 0.41', b'"tool_latency_secs": -Infinity')
        .replace(b'"time_in_call_secs": 13', b'"time_in_call_secs": Infinity')
    )
    assert raw.count(b"NaN") == 1 and raw.count(b"1e999") == 1 and raw.count(b"Infinity") == 2

    response = _post(server, ELEVENLABS, raw, headers=_signed(raw), token=False)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "processed"
    event = InteractionEvent.objects.get(pk=response.json()["event_id"])
    assert event.signature_valid is True
    assert event.raw_body == raw.decode()
    metadata = event.payload["data"]["metadata"]
    assert metadata["call_duration_secs"] is None and metadata["cost"] is None
    interaction = Interaction.objects.get(external_id="conv_nan_0001")
    assert interaction.status == "completed"


@http
def test_an_overflowing_number_in_a_twilio_json_callback_is_stored_and_answered_200(prod_server):
    server = prod_server()
    raw = b'{"MessageSid": "SM0000000000000000000000000000nan1", "MessageStatus": "delivered", "ErrorCode": 1e999}'

    response = _post(server, TWILIO, raw)

    assert response.status_code == 200, response.text
    event = InteractionEvent.objects.get(pk=response.json()["event_id"])
    assert event.status == EventStatus.DEFERRED  # no message with this SID yet: kept for when it comes
    assert event.raw_body == raw.decode()


@http
def test_a_delivery_that_cannot_be_applied_once_made_storable_is_kept_failed_with_the_reason(prod_server):
    server = prod_server()
    raw = _whatsapp("hola", sender="NaN")

    response = _post(server, BUILDERBOT, raw)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "failed"
    event = InteractionEvent.objects.get(pk=response.json()["event_id"])
    assert "customer number" in event.error
    assert event.payload["data"]["from"] is None
    assert event.raw_body == raw.decode()  # ready for a replay once the reader knows better
    assert Message.objects.count() == 0


@http
def test_an_ordinary_delivery_keeps_no_second_copy_of_its_body(prod_server):
    server = prod_server()
    response = _post(server, BUILDERBOT, _whatsapp("hola", message_id="wamid.plain"))
    assert response.json()["status"] == "processed"
    assert InteractionEvent.objects.get(pk=response.json()["event_id"]).raw_body is None


@pytest.mark.django_db
def test_retention_and_a_customer_erasure_drop_the_raw_body_with_the_payload(client):
    ids = []
    for n in range(2):
        raw = _whatsapp(f"Mi número es {CUSTOMER} \\ud83d", message_id=f"wamid.erase{n}")
        response = client.post(BUILDERBOT, data=raw, content_type="application/json", headers=TOKENS[BUILDERBOT])
        assert response.json()["status"] == "processed"
        ids.append(response.json()["event_id"])
    old, erased = InteractionEvent.objects.get(pk=ids[0]), InteractionEvent.objects.get(pk=ids[1])
    assert CUSTOMER in old.raw_body and CUSTOMER in erased.raw_body

    now = datetime.now(UTC)
    InteractionEvent.objects.filter(pk=old.pk).update(received_at=now - timedelta(days=40))
    InteractionEvent.objects.filter(pk=erased.pk).update(received_at=now - timedelta(days=1))
    retention_apply(now=now)
    old.refresh_from_db()
    assert old.redacted_at is not None and old.raw_body is None
    erased.refresh_from_db()
    assert erased.redacted_at is None and CUSTOMER in erased.raw_body  # younger than the policy: untouched

    customer_erase(phone="+" + CUSTOMER, reason="request", actor=Actor.system("test"))
    erased.refresh_from_db()
    assert erased.redacted_at is not None and erased.raw_body is None


@pytest.mark.django_db
def test_post_call_audio_with_an_unstorable_value_keeps_no_raw_copy_of_the_audio(client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    audio = base64.b64encode(b"ID3" + bytes(range(256)) * 64).decode()
    raw = (
        '{"type": "post_call_audio", "event_timestamp": NaN, '
        f'"data": {{"agent_id": "a", "conversation_id": "conv_audio_nan", "full_audio": "{audio}"}}}}'
    ).encode()
    response = client.post(ELEVENLABS, data=raw, content_type="application/json", headers=TOKENS[ELEVENLABS])
    assert response.json()["status"] == "processed", response.content
    event = InteractionEvent.objects.get(pk=response.json()["event_id"])
    assert audio not in json.dumps(event.payload)  # the audio is in the recording file, not in the ledger
    assert event.raw_body is None
    assert Interaction.objects.get(external_id="conv_audio_nan").call_detail.recording


@pytest.mark.django_db
def test_the_admin_never_shows_the_raw_body(client):
    from tests.backoffice.conftest import create_staff, login_verified

    event = InteractionEvent.objects.create(
        provider="builderbot",
        idempotency_key="k-raw",
        payload={"data": {"body": "\ufffd"}},
        raw_body=f'{{"data": {{"from": "{CUSTOMER}", "body": "\\ud83d"}}}}',
    )
    login_verified(client, create_staff("root", superuser=True))
    page = client.get(f"/admin/webhooks/interactionevent/{event.pk}/change/")
    assert page.status_code == 200
    assert CUSTOMER not in page.content.decode() and "ud83d" not in page.content.decode()


# --- 12. Bodies nested too deep, too many fields, tampered cursors, dates out of range -------------------------------
@http
def test_json_nested_100000_levels_is_400_on_every_endpoint(prod_server):
    server = prod_server()
    interaction = InteractionFactory()
    key = make_api_key("supervisor")
    deep = _deep(100_000)

    # Without any credentials: the sign-in endpoint reads the body first.
    token = requests.post(f"{server.url}/api/auth/token", data=deep, headers=JSON, timeout=30)
    assert token.status_code == 400, token.text
    # The API's parse errors keep the code its OpenAPI document lists (`parse_error`); the detail says why.
    assert token.json()["type"] == "client_error" and _error_code(token) == "parse_error"
    assert "nested deeper than 64 levels" in token.json()["errors"][0]["detail"]
    api = {"Authorization": f"Api-Key {key}", **JSON}
    for method, path in (("PATCH", f"/api/interactions/{interaction.pk}"), ("POST", "/api/otp")):
        response = requests.request(method, server.url + path, data=deep, headers=api, timeout=30)
        assert response.status_code == 400, (path, response.text)
        assert "nested deeper than 64 levels" in response.json()["errors"][0]["detail"]
    for path, body in ((ELEVENLABS, deep), (BUILDERBOT, deep), (TWILIO, _deep(30_000))):  # Twilio takes 64 KB
        response = _post(server, path, body)
        assert response.status_code == 400, (path, response.text)
        assert _error_code(response) == "json_too_deep"
    assert InteractionEvent.objects.count() == 0


@http
def test_json_nested_deeper_than_the_limit_is_refused_before_anything_walks_it(prod_server):
    server = prod_server()
    # Deep enough to break code that walks the payload recursively after parsing (storing, hashing, redacting).
    body = b'{"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "x", "deep": '
    body += _deep(900) + b"}}"
    response = _post(server, BUILDERBOT, body)
    assert response.status_code == 400, response.text
    assert _error_code(response) == "json_too_deep"
    nested = b'{"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "y", "deep": '
    nested += _deep(60) + b"}}"
    assert _post(server, BUILDERBOT, nested).json()["status"] == "processed"


@http
def test_the_voice_tools_answer_a_deeply_nested_body_as_a_bad_body(prod_server):
    server = prod_server()
    mark = server.log_mark()
    # 30,000 levels: within the tools' 64 KB body limit (a bigger body is not even read).
    deep = b'{"conversation_id": "conv_deep_0001", "caller_id": "+5215512345678", "x": ' + _deep(30_000) + b"}"
    for path in (OTP_SEND, OTP_VERIFY):
        response = _post(server, path, deep)
        assert response.status_code == 200, response.text
        assert response.json()["result"] == "no_conversation"  # what a body that is not an object gets
    initiation = _post(server, INITIATION, deep)
    assert initiation.status_code == 200
    assert initiation.json()["dynamic_variables"]["customer_known"] is False
    assert "voice_tool_failed" not in server.log_text_since(mark)


@http
def test_more_form_fields_than_django_allows_is_400_before_authentication(prod_server):
    server = prod_server()
    raw = "&".join(f"f{n}=v" for n in range(1100)).encode() + b"&MessageSid=SM1&MessageStatus=sent"
    for headers in ({}, {"X-Twilio-Signature": "c2lnbmF0dXJl"}, TOKENS[TWILIO]):
        response = requests.post(server.url + TWILIO, data=raw, headers={**FORM, **headers}, timeout=30)
        assert response.status_code in (400, 401), response.text
        assert response.status_code == 400 or not headers
    elevenlabs = requests.post(server.url + ELEVENLABS, data=raw, headers={**FORM, **TOKENS[ELEVENLABS]}, timeout=30)
    assert elevenlabs.status_code == 400, elevenlabs.text
    send = requests.post(server.url + OTP_SEND, data=raw, headers={**FORM, **TOKENS[OTP_SEND]}, timeout=30)
    assert send.status_code == 200 and send.json()["result"] == "no_conversation"
    assert InteractionEvent.objects.count() == 0


@http
def test_more_query_fields_than_django_allows_is_400_on_a_webhook_and_an_empty_request_for_a_tool(prod_server):
    server = prod_server()
    flood = "?" + "&".join(["q"] * 1100)  # short enough for gunicorn's request line (4 KB)
    body = _whatsapp("hola", message_id="wamid.flood")
    for path in (BUILDERBOT, TWILIO, ELEVENLABS):
        response = requests.post(server.url + path + flood, data=body, headers={**JSON, **TOKENS[path]}, timeout=30)
        assert response.status_code == 400, (path, response.text)
        assert _error_code(response) == "too_many_fields"
    tool = requests.post(server.url + OTP_SEND + flood, data=b"{}", headers={**JSON, **TOKENS[OTP_SEND]}, timeout=30)
    assert tool.status_code == 200 and tool.json()["result"] == "no_conversation", tool.text
    stranger = requests.post(server.url + OTP_SEND + flood, data=b"{}", headers=JSON, timeout=30)
    assert stranger.status_code == 401
    assert InteractionEvent.objects.count() == 0


@http
@pytest.mark.parametrize("path", ["/api/health", "/api/interactions", "/api/otp", "/api/auth/token", "/api/schema"])
def test_more_query_fields_than_django_allows_is_400_on_the_api_with_or_without_credentials(prod_server, path):
    server = prod_server()
    flood = "?" + "&".join(["q"] * 1100)
    for headers in ({}, {"Authorization": f"Api-Key {make_api_key('supervisor')}"}):
        response = requests.get(server.url + path + flood, headers=headers, timeout=30)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        assert "too_many_fields" in response.text  # the schema answers in its own format (YAML), the rest JSON


def _cursor(query: str) -> str:
    """A cursor as DRF writes one: the base64 of a query string (`o` offset, `r` reverse, `p` position)."""
    return base64.b64encode(urlencode(parse_qsl(query, keep_blank_values=True)).encode()).decode()


@http
@pytest.mark.parametrize("path", ["/api/interactions", "/api/audit-logs"])
def test_a_tampered_cursor_is_400_invalid_cursor(prod_server, path):
    server = prod_server()
    InteractionFactory()
    audit_log_record(actor=Actor.system("test"), action="test.done", target_type="x", target_id="1")
    headers = {"Authorization": f"Api-Key {make_api_key('auditor')}"}
    page = requests.get(f"{server.url}{path}?page_size=1", headers=headers, timeout=30)
    assert page.status_code == 200, page.text
    for cursor in (
        "not-a-cursor!!",
        _cursor("o=x"),
        _cursor("p=garbage"),
        _cursor("p=9999-12-31 23:59:59-23:00"),  # overflows when converted to UTC
        _cursor("p=5995-07-26 09:45:15-23:47"),  # an offset no time zone (and not PostgreSQL) has
        _cursor("p=2026-01-01 00:00:00%00"),
    ):
        response = requests.get(f"{server.url}{path}", params={"cursor": cursor}, headers=headers, timeout=30)
        assert response.status_code == 400, (cursor, response.text)
        assert _error_code(response) == "invalid_cursor"
        assert response.json()["errors"][0]["attr"] == "cursor"
    # A cursor with a position from another time zone is read as the same instant.
    fine = requests.get(
        f"{server.url}{path}", params={"cursor": _cursor("p=2999-01-01 05:30:00%2B05:30")}, headers=headers, timeout=30
    )
    assert fine.status_code == 200 and len(fine.json()["results"]) >= 1


@http
@pytest.mark.parametrize("path", ["/api/interactions", "/api/audit-logs"])
def test_a_date_filter_out_of_range_is_400_naming_the_field(prod_server, path):
    server = prod_server()
    headers = {"Authorization": f"Api-Key {make_api_key('auditor')}"}
    for field, value in (
        ("created_after", "5995-07-26T09:45:15-23:47"),  # an offset PostgreSQL refuses
        ("created_before", "9999-12-31T23:59:59-01:00"),  # past the last datetime once in UTC
        ("created_after", "0001-01-01T00:00:00+01:00"),  # before the first one
    ):
        response = requests.get(f"{server.url}{path}", params={field: value}, headers=headers, timeout=30)
        assert response.status_code == 400, (field, value, response.text)
        assert response.json()["errors"][0]["attr"] == field
    # An ordinary offset is the instant it names.
    fine = requests.get(
        f"{server.url}{path}", params={"created_after": "2026-01-01T05:30:00+05:30"}, headers=headers, timeout=30
    )
    assert fine.status_code == 200, fine.text


@http
def test_metrics_dates_at_the_ends_of_the_calendar_are_400_naming_the_field(prod_server):
    server = prod_server()
    headers = {"Authorization": f"Api-Key {make_api_key('supervisor')}"}
    for params, field in (
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"date_to": "0001-01-02"}, "date_to"),
        ({"date_from": "0001-01-01", "date_to": "0001-01-05"}, "date_from"),
    ):
        for path in ("/api/metrics/summary", "/api/metrics/daily"):
            response = requests.get(server.url + path, params=params, headers=headers, timeout=30)
            assert response.status_code == 400, (path, params, response.text)
            assert response.json()["errors"][0]["attr"] == field


# --- 13. A header the signature does not cover never overrides the provider's identity ---------------------------
@http
def test_a_signed_elevenlabs_delivery_replayed_with_an_added_idempotency_key_is_a_duplicate(prod_server):
    server = prod_server()
    raw = _transcription("conv_replay_0001")
    signature = _signed(raw)
    first = _post(server, ELEVENLABS, raw, headers=signature, token=False)
    assert first.json()["status"] == "processed", first.text

    replay = _post(server, ELEVENLABS, raw, headers={**signature, "X-Idempotency-Key": "fresh-1"}, token=False)

    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert InteractionEvent.objects.count() == 1
    assert Interaction.objects.filter(external_id="conv_replay_0001").count() == 1


@http
def test_provider_message_ids_win_over_an_idempotency_header(prod_server):
    server = prod_server()
    whatsapp = _whatsapp("hola", message_id="wamid.header1")
    assert _post(server, BUILDERBOT, whatsapp).json()["status"] == "processed"
    again = _post(server, BUILDERBOT, whatsapp, headers={"X-Idempotency-Key": "another"})
    assert again.json()["status"] == "duplicate"
    sms = b"MessageSid=SM00000000000000000000000000header&MessageStatus=delivered"
    assert _post(server, TWILIO, sms, headers=FORM).json()["status"] == "deferred"
    again = _post(server, TWILIO, sms, headers={**FORM, "X-Idempotency-Key": "another"})
    assert again.json()["status"] == "duplicate"
    assert InteractionEvent.objects.count() == 2 and Message.objects.count() == 1


# --- 14. A customer's repeated message is never dropped --------------------------------------------------------------
# A whole number of 30-second buckets since the epoch: the clock below is read relative to a bucket's start.
BUCKET_START = datetime.fromtimestamp(1_800_000_000, tz=UTC)


def _at(seconds: float) -> datetime:
    return BUCKET_START + timedelta(seconds=seconds)


@pytest.fixture
def window(settings):
    settings.BUILDERBOT_WEBHOOK_TOKENS = ["test-builderbot-token"]
    settings.BUILDERBOT_DUPLICATE_WINDOW_SECONDS = 30
    return 30


def _send_at(client, seconds: float, raw: bytes) -> dict:
    with freeze_time(_at(seconds)):
        response = client.post(BUILDERBOT, data=raw, content_type="application/json", headers=TOKENS[BUILDERBOT])
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_the_same_text_a_minute_apart_is_two_messages(client, window):
    assert _send_at(client, 5, _whatsapp("Sí"))["status"] == "processed"
    assert _send_at(client, 65, _whatsapp("Sí"))["status"] == "processed"
    assert Message.objects.filter(body="Sí").count() == 2
    assert InteractionEvent.objects.count() == 2


@pytest.mark.django_db
def test_the_same_delivery_retried_seconds_later_is_one_message(client, window):
    first = _send_at(client, 5, _whatsapp("Sí"))
    assert _send_at(client, 7, _whatsapp("Sí")) == {"status": "duplicate", "event_id": first["event_id"]}
    assert Message.objects.filter(body="Sí").count() == 1


@pytest.mark.django_db
def test_a_retry_across_a_bucket_boundary_is_a_duplicate(client, window):
    first = _send_at(client, 29.9, _whatsapp("Sí"))
    assert _send_at(client, 30.1, _whatsapp("Sí")) == {"status": "duplicate", "event_id": first["event_id"]}
    assert _send_at(client, 59.8, _whatsapp("Sí"))["status"] == "duplicate"  # still within 30 s of the first
    assert Message.objects.filter(body="Sí").count() == 1
    # More than the window after the first copy, the next bucket's is a new message.
    assert _send_at(client, 60.2, _whatsapp("Sí"))["status"] == "processed"
    assert Message.objects.filter(body="Sí").count() == 2


@pytest.mark.django_db
def test_identical_messages_in_one_batch_are_each_kept_and_the_batch_retried_is_a_duplicate(client, window):
    event = json.loads(_whatsapp("Sí"))
    raw = json.dumps([event, event]).encode()
    first = _send_at(client, 3, raw)
    assert [e["status"] for e in first["events"]] == ["processed", "processed"]
    assert _send_at(client, 6, raw)["status"] == "duplicate"
    assert Message.objects.filter(body="Sí").count() == 2


@pytest.mark.django_db(transaction=True)
def test_identical_copies_racing_across_a_bucket_boundary_leave_one_event(window):
    # Two copies at 29.9 s and 30.1 s (two buckets, so two different keys) stored at the same moment, many times over.
    rounds = 8
    for n in range(rounds):
        event = json.loads(_whatsapp(f"Sí {n}"))
        barrier = threading.Barrier(2)
        results = []

        def receive(seconds: float, event=event, barrier=barrier, results=results):
            try:
                barrier.wait(timeout=10)
                delivery = Delivery(
                    provider="builderbot",
                    identity=builderbot_identity(event),
                    payload=event,
                    content_type="application/json",
                    received_at=_at(seconds),
                )
                results.append(webhook_delivery_receive(delivery=delivery))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=receive, args=(s,)) for s in (29.9, 30.1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(r.status for r in results) == ["duplicate", "processed"], (n, results)
    assert InteractionEvent.objects.count() == rounds
    assert Message.objects.count() == rounds


@http
def test_concurrent_identical_copies_over_http_leave_one_event_and_one_message(prod_server):
    server = prod_server(workers=4)
    raw = _whatsapp(f"Sí {uuid.uuid4().hex[:6]}")
    copies = 24
    barrier = threading.Barrier(copies)
    answers: list = []

    def send():
        barrier.wait(timeout=30)
        response = _post(server, BUILDERBOT, raw)
        answers.append((response.status_code, response.json().get("status")))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == copies
    assert all(200 <= status < 300 for status, _ in answers), answers
    assert [outcome for _, outcome in answers].count("processed") == 1
    assert InteractionEvent.objects.count() == 1
    assert Message.objects.count() == 1
