"""POST /webhooks/elevenlabs/call: the recorded fixtures, the signature rules and the format variations."""

import base64
import copy
import json
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from interactions.models import CallDetail, Interaction
from webhooks.counters import webhook_counters
from webhooks.models import InteractionEvent

from .conftest import ELEVENLABS_URL, elevenlabs_headers, fixture_bytes, fixture_json, fixture_request, post_json

pytestmark = [pytest.mark.django_db]


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


TOKEN = {"X-Webhook-Token": "test-elevenlabs-token"}
CUSTOMER = "+525512345678"  # the canonical form of the fixtures' 5215512345678


def _signed_fixture(client, name: str):
    raw = fixture_bytes(name)
    signature = fixture_request(name)["headers"]["ElevenLabs-Signature"]
    t = int(signature.split(",")[0].split("=")[1])
    with freeze_time(_at(t + 60)):
        return post_json(client, ELEVENLABS_URL, raw, headers={"ElevenLabs-Signature": signature})


def _transcription(**data_overrides) -> dict:
    payload = fixture_json("elevenlabs_post_call_transcription.json")
    payload["data"].update(data_overrides)
    return payload


def _post_token(client, payload, **headers):
    return post_json(client, ELEVENLABS_URL, payload, headers={**TOKEN, **headers})


def test_transcription_fixture_with_its_recorded_signature_creates_the_call(client):
    response = _signed_fixture(client, "elevenlabs_post_call_transcription.json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    event = InteractionEvent.objects.get()
    assert (event.provider, event.event_type, event.status) == ("elevenlabs", "post_call_transcription", "processed")
    assert event.idempotency_key == "post_call_transcription:conv_8901k5zvyjhmfg983brhmhkd98n6"
    assert event.signature_valid is True
    assert "X-Webhook-Token" not in event.headers
    interaction = Interaction.objects.get()
    assert event.interaction_id == interaction.pk
    assert (interaction.channel, interaction.direction, interaction.status) == ("call", "inbound", "completed")
    assert interaction.customer_phone == CUSTOMER
    assert interaction.external_id == "conv_8901k5zvyjhmfg983brhmhkd98n6"
    assert interaction.subject == "Lost debit card blocked"
    detail = interaction.call_detail
    assert detail.duration_seconds == 248
    assert (detail.ended_at - detail.started_at).total_seconds() == 248
    assert detail.agent_number == "+525587654321"
    assert detail.call_sid == "CA9f3c2b1a0e8d7c6b5a4f3e2d1c0b9a8f"
    assert detail.phone_call_type == "twilio"
    assert detail.end_reason == "Client disconnected: 1000"
    assert detail.call_successful == "success"
    assert detail.summary.startswith("José Pérez reported")
    assert detail.analysis["data_collection"]["intent"] == "card_block"
    assert detail.transcript[2]["message"] is None
    assert detail.transcript[2]["tool_calls"][0]["tool_name"] == "block_card"
    assert detail.has_audio is True
    assert interaction.metadata["provider_user_id"] == "cust_000123"


def test_a_repeated_delivery_answers_duplicate_and_changes_nothing(client):
    first = _signed_fixture(client, "elevenlabs_post_call_transcription.json")
    updated_at = Interaction.objects.get().updated_at
    second = _signed_fixture(client, "elevenlabs_post_call_transcription.json")

    assert first.status_code == second.status_code == 200
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert InteractionEvent.objects.count() == 1
    assert Interaction.objects.get().updated_at == updated_at


def test_audio_fixture_stores_the_recording_and_scrubs_the_base64(client):
    response = _signed_fixture(client, "elevenlabs_post_call_audio.json")

    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    detail = CallDetail.objects.get(conversation_id="conv_8901k5zvyjhmfg983brhmhkd98n6")
    expected = base64.b64decode(fixture_json("elevenlabs_post_call_audio.json")["data"]["full_audio"])
    with detail.recording.open("rb") as stored:
        assert stored.read() == expected
    event = InteractionEvent.objects.get()
    reference = event.payload["data"]["full_audio"]
    assert reference["stored_as"] == detail.recording.name
    assert reference["bytes"] == len(expected)
    assert "SUQz" not in json.dumps(event.payload)


def test_audio_before_transcript_and_transcript_after_build_one_call(client):
    _signed_fixture(client, "elevenlabs_post_call_audio.json")
    _signed_fixture(client, "elevenlabs_post_call_transcription.json")

    interaction = Interaction.objects.get()
    assert interaction.status == "completed"
    assert interaction.call_detail.recording
    assert interaction.call_detail.duration_seconds == 248
    assert InteractionEvent.objects.filter(interaction=interaction).count() == 2


def test_call_initiation_failure_fixture_records_a_failed_outbound_call(client):
    response = _signed_fixture(client, "elevenlabs_call_initiation_failure_twilio.json")

    assert response.json()["status"] == "processed"
    interaction = Interaction.objects.get()
    assert (interaction.direction, interaction.status) == ("outbound", "failed")
    assert interaction.customer_phone == CUSTOMER
    detail = interaction.call_detail
    assert detail.failure_reason == "no-answer"
    assert detail.call_sid == "CA0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert detail.metadata["sip_status_code"] == 487


def test_call_initiation_failure_sip_variant(client):
    payload = {
        "type": "call_initiation_failure",
        "event_timestamp": "1785000045",
        "data": {
            "agent_id": "agent_1",
            "conversation_id": "conv_sip_fail",
            "failure_reason": "declined",
            "metadata": {
                "type": "sip",
                "body": {
                    "from_number": "+5215587654321",
                    "to_number": CUSTOMER,
                    "sip_status_code": 603,
                    "error_reason": "Decline",
                    "call_sid": "sip-abc",
                },
            },
        },
    }
    assert _post_token(client, payload).json()["status"] == "processed"
    detail = CallDetail.objects.get(conversation_id="conv_sip_fail")
    assert (detail.failure_reason, detail.customer_number, detail.phone_call_type) == ("declined", CUSTOMER, "sip")


# --- authentication ----------------------------------------------------------------------------------------------
def _count():
    return InteractionEvent.objects.count(), Interaction.objects.count()


def test_stale_signature_is_401_and_nothing_is_stored(client):
    raw = fixture_bytes("elevenlabs_post_call_transcription.json")
    signature = fixture_request("elevenlabs_post_call_transcription.json")["headers"]["ElevenLabs-Signature"]
    before = webhook_counters("elevenlabs")["elevenlabs"]["rejected_signature"]
    with freeze_time(_at(1785002262)):  # 33 minutes after t
        response = post_json(client, ELEVENLABS_URL, raw, headers={"ElevenLabs-Signature": signature})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"
    assert _count() == (0, 0)
    assert webhook_counters("elevenlabs")["elevenlabs"]["rejected_signature"] == before + 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Webhook-Token": "wrong"},
        {"ElevenLabs-Signature": "t=abc,v0=00"},
        {"ElevenLabs-Signature": "v0=00"},
    ],
    ids=["nothing", "wrong-token", "non-integer-t", "no-t"],
)
def test_missing_or_wrong_credentials_are_401(client, headers):
    response = post_json(client, ELEVENLABS_URL, _transcription(), headers=headers)
    assert response.status_code == 401
    assert _count() == (0, 0)


def test_signature_made_with_another_secret_is_401_even_with_a_valid_token(client):
    raw = json.dumps(_transcription()).encode()
    headers = {**TOKEN, **elevenlabs_headers(raw, secret="wsec_someone_else")}
    assert post_json(client, ELEVENLABS_URL, raw, headers=headers).status_code == 401
    assert _count() == (0, 0)


def test_signature_from_the_future_beyond_five_minutes_is_401(client):
    raw = json.dumps(_transcription()).encode()
    with freeze_time(_at(1785000000)):
        response = post_json(client, ELEVENLABS_URL, raw, headers=elevenlabs_headers(raw, timestamp=1785000000 + 400))
    assert response.status_code == 401


def test_signature_parts_in_any_order_with_spaces_and_a_rotated_secret(client, settings):
    settings.ELEVENLABS_WEBHOOK_SECRETS = ["wsec_old_one", "wsec_new_one"]
    raw = json.dumps(_transcription()).encode()
    t, v0 = elevenlabs_headers(raw, secret="wsec_new_one")["ElevenLabs-Signature"].split(",")
    response = post_json(client, ELEVENLABS_URL, raw, headers={"elevenlabs-signature": f"{v0}, {t}"})
    assert response.status_code == 200
    assert InteractionEvent.objects.get().signature_valid is True


def test_a_valid_token_alone_is_accepted(client):
    response = _post_token(client, _transcription())
    assert response.status_code == 200
    assert InteractionEvent.objects.get().signature_valid is None


def test_log_only_mode_accepts_a_bad_signature_and_counts_it(client, settings):
    settings.ELEVENLABS_SIGNATURE_MODE = "log_only"
    before = webhook_counters("elevenlabs")["elevenlabs"]["signature_failed_log_only"]
    raw = json.dumps(_transcription()).encode()
    response = post_json(client, ELEVENLABS_URL, raw, headers=elevenlabs_headers(raw, secret="wrong"))
    assert response.status_code == 200
    assert InteractionEvent.objects.get().signature_valid is False
    assert webhook_counters("elevenlabs")["elevenlabs"]["signature_failed_log_only"] == before + 1


# --- format variations (providers.md §4) -------------------------------------------------------------------------
def test_older_and_variant_shapes_are_read(client):
    payload = _transcription(conversation_id="conv_variant_1")
    data = payload["data"]
    payload["event_timestamp"] = "2026-07-25T17:24:20Z"
    for key in ("has_audio", "has_user_audio", "has_response_audio", "agent_name", "branch_id", "version_id"):
        data.pop(key, None)
    data["analysis"] = None
    data["metadata"]["phone_call"] = None
    data["metadata"]["call_duration_secs"] = "61"
    data["metadata"]["start_time_unix_secs"] = "1785000000"
    data["transcript"][0]["tool_calls"] = None
    data["transcript"][0]["tool_results"] = None
    data["transcript"][1]["conversation_turn_metrics"] = {"convai_llm_service_ttfb": {"elapsed_time": 0.3}}
    data["unknown_future_field"] = {"anything": [1, 2]}

    assert _post_token(client, payload).json()["status"] == "processed"
    detail = CallDetail.objects.get(conversation_id="conv_variant_1")
    assert detail.duration_seconds == 61
    assert detail.customer_number == CUSTOMER  # from dynamic_variables.system__caller_id
    assert detail.analysis == {}
    assert detail.interaction.direction == "inbound"


def test_sip_trunking_phone_call_and_data_collection_wrappers(client):
    payload = _transcription(conversation_id="conv_sip_1")
    payload["data"]["metadata"]["phone_call"] = {
        "type": "sip_trunking",
        "direction": "outbound",
        "agent_number": "+5215587654321",
        "external_number": "+14155550123",
        "call_sid": "not-a-twilio-sid",
        "call_id": "x",
    }
    payload["data"]["analysis"]["data_collection_results"]["intent"]["value"] = {"value": "card_block"}
    payload["data"]["analysis"]["call_successful"] = "unknown"
    assert _post_token(client, payload).status_code == 200
    detail = CallDetail.objects.get(conversation_id="conv_sip_1")
    assert (detail.phone_call_type, detail.customer_number, detail.call_sid) == (
        "sip_trunking",
        "+14155550123",
        "not-a-twilio-sid",
    )
    assert detail.interaction.direction == "outbound"
    assert detail.analysis["data_collection"]["intent"] == "card_block"


def test_data_inlined_at_top_level_is_read_as_a_transcription(client):
    data = _transcription(conversation_id="conv_inline")["data"]
    assert _post_token(client, data).json()["status"] == "processed"
    assert CallDetail.objects.filter(conversation_id="conv_inline").exists()


def test_unknown_event_types_are_stored_as_ignored(client):
    response = _post_token(client, {"type": "voice_removal_notice", "event_timestamp": 1785000000, "data": {}})
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert InteractionEvent.objects.get().status == "ignored"
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"type": "post_call_transcription", "data": {"status": "done"}}, "conversation_id"),
        ({"type": "post_call_transcription", "data": "oops"}, "not a JSON object"),
        ({"hello": "world"}, "no event"),
        ({"type": "post_call_audio", "data": {"conversation_id": "c1", "full_audio": "%%%not base64"}}, "base64"),
    ],
)
def test_unreadable_deliveries_are_stored_failed_with_the_reason_and_answered_200(client, payload, reason):
    response = _post_token(client, payload)
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    event = InteractionEvent.objects.get()
    assert event.status == "failed"
    assert reason in event.error
    assert Interaction.objects.count() == 0


def test_a_second_transcription_of_the_same_call_is_a_duplicate_whatever_its_idempotency_header(client):
    # The provider's identity (type:conversation_id) wins: a header no signature covers cannot make it a new event.
    first = _post_token(client, _transcription(status="processing", conversation_id="conv_upd"))
    assert Interaction.objects.get().status == "in_progress"
    updated = copy.deepcopy(_transcription(conversation_id="conv_upd"))
    response = _post_token(client, updated, **{"X-Idempotency-Key": "retry-2"})
    assert response.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert Interaction.objects.get().status == "in_progress"


def test_a_later_event_of_another_type_for_the_same_call_updates_it(client):
    _post_token(client, _transcription(status="processing", conversation_id="conv_upd"))
    assert not Interaction.objects.get().call_detail.recording
    audio = fixture_json("elevenlabs_post_call_audio.json")
    audio["data"]["conversation_id"] = "conv_upd"
    assert _post_token(client, audio).json()["status"] == "processed"
    assert Interaction.objects.get().call_detail.recording


# --- the adapter alone ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        (1785000260, 1785000260),
        (1785000260.5, 1785000260.5),
        ("1785000260", 1785000260),
        ("2026-07-25T17:24:20Z", 1785000260),
        ("2026-07-25T17:24:20+00:00", 1785000260),
        (1785000260000, 1785000260),
        (None, None),
        ("not a time", None),
    ],
)
def test_event_timestamp_spellings(value, expected):
    from interactions.providers.elevenlabs import elevenlabs_event_parse

    payload = {"type": "post_call_transcription", "data": {"conversation_id": "c"}}
    if value is not None:
        payload["event_timestamp"] = value
    parsed = elevenlabs_event_parse(payload, provider="elevenlabs")
    assert (parsed.occurred_at.timestamp() if parsed.occurred_at else None) == expected


def test_signature_header_edge_cases():
    from interactions.providers.elevenlabs import elevenlabs_signature_check, elevenlabs_signature_compute

    body = b'{"a": 1}'
    good = elevenlabs_signature_compute(raw_body=body, secret="s", timestamp=1000)
    t, v0 = good.split(",")
    check = elevenlabs_signature_check
    assert check(raw_body=body, header=good, secrets=["s"], now=1000).valid
    assert check(raw_body=body, header=f"{t},v0=deadbeef,{v0}", secrets=["s"], now=1000).valid
    assert check(raw_body=body, header=f"{t},t=999,{v0}", secrets=["s"], now=1000).reason == "malformed"
    assert check(raw_body=body, header=good, secrets=["s"], now=1000 + 1801).reason == "stale"
    assert check(raw_body=body, header=good, secrets=["s"], now=1000 + 1799).valid
    assert check(raw_body=body + b" ", header=good, secrets=["s"], now=1000).reason == "mismatch"
    assert check(raw_body=body, header="", secrets=["s"], now=1000).reason == "missing"
    assert check(raw_body=body, header=good, secrets=[], now=1000).reason == "no_secret"
