"""The event ledger: bodies that are not data, idempotency (also under 50 concurrent copies), replay, logs."""

import base64
import json
import logging
import threading
from unittest import mock

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditLog
from contactcenter.common.actors import Actor
from interactions.models import CallDetail, Message
from webhooks.counters import webhook_counters
from webhooks.models import InteractionEvent
from webhooks.services import webhook_event_replay

from .conftest import BUILDERBOT_URL, ELEVENLABS_URL, TWILIO_URL, fixture_bytes, post_json

pytestmark = [pytest.mark.django_db]

TOKENS = {
    ELEVENLABS_URL: {"X-Webhook-Token": "test-elevenlabs-token"},
    BUILDERBOT_URL: {"X-Webhook-Token": "test-builderbot-token"},
    TWILIO_URL: {"X-Webhook-Token": "test-twilio-token"},
}
THREE_MB = 3 * 1024 * 1024


def _nothing_written():
    return InteractionEvent.objects.count() == 0 and Message.objects.count() == 0 and CallDetail.objects.count() == 0


@pytest.mark.parametrize("url", [ELEVENLABS_URL, BUILDERBOT_URL])
@pytest.mark.parametrize(
    "raw, code",
    [
        (b'{"type": "post_call_transcription", "data": {', "invalid_json"),
        (b"\xff\xfe not utf-8", "invalid_json"),
        (b"42", "invalid_payload"),
        (b'"a string"', "invalid_payload"),
        (b"", "empty_body"),
        (b"   ", "empty_body"),
    ],
    ids=["malformed", "not-utf8", "number", "string", "empty", "blank"],
)
def test_bodies_that_are_not_json_objects_are_400_and_nothing_is_written(client, url, raw, code):
    response = post_json(client, url, raw, headers=TOKENS[url])
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"] == code
    assert _nothing_written()


def test_a_json_list_is_400_for_elevenlabs_and_a_list_of_non_objects_400_for_builderbot(client):
    assert post_json(client, ELEVENLABS_URL, [{"type": "x"}], headers=TOKENS[ELEVENLABS_URL]).status_code == 400
    assert post_json(client, BUILDERBOT_URL, [1, 2], headers=TOKENS[BUILDERBOT_URL]).status_code == 400
    assert post_json(client, BUILDERBOT_URL, [], headers=TOKENS[BUILDERBOT_URL]).status_code == 400
    assert _nothing_written()


@pytest.mark.parametrize("url", [ELEVENLABS_URL, BUILDERBOT_URL, TWILIO_URL])
def test_a_wrong_content_type_is_415(client, url):
    response = post_json(client, url, b"<xml/>", headers=TOKENS[url], content_type="text/xml")
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "unsupported_media_type"
    assert _nothing_written()


def test_twilio_body_that_is_not_form_data_is_400(client):
    response = post_json(
        client,
        TWILIO_URL,
        b"\xff\xfe\x00",
        headers=TOKENS[TWILIO_URL],
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert _nothing_written()


@pytest.mark.parametrize("url", [BUILDERBOT_URL, TWILIO_URL])
def test_a_3mb_body_is_413_where_deliveries_are_small(client, url):
    raw = json.dumps({"eventName": "message.incoming", "data": {"body": "x" * THREE_MB}}).encode()
    response = post_json(client, url, raw, headers=TOKENS[url])
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload_too_large"
    assert _nothing_written()


def test_a_3mb_post_call_audio_is_accepted_and_a_3mb_malformed_body_is_400(client):
    audio = b"ID3" + bytes(range(256)) * (THREE_MB // 256)
    payload = {
        "type": "post_call_audio",
        "event_timestamp": 1785000270,
        "data": {"agent_id": "a", "conversation_id": "conv_big", "full_audio": base64.b64encode(audio).decode()},
    }
    raw = json.dumps(payload).encode()
    assert len(raw) > THREE_MB
    response = post_json(client, ELEVENLABS_URL, raw, headers=TOKENS[ELEVENLABS_URL])
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    detail = CallDetail.objects.get(conversation_id="conv_big")
    assert detail.recording.size == len(audio)
    assert len(json.dumps(InteractionEvent.objects.get().payload)) < 2000

    malformed = post_json(client, ELEVENLABS_URL, raw[:-5], headers=TOKENS[ELEVENLABS_URL])
    assert malformed.status_code == 400
    assert InteractionEvent.objects.count() == 1


def test_an_x_idempotency_key_header_wins(client):
    headers = {**TOKENS[BUILDERBOT_URL], "X-Idempotency-Key": "delivery-77"}
    first = post_json(
        client,
        BUILDERBOT_URL,
        {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "one"}},
        headers=headers,
    )
    second = post_json(
        client,
        BUILDERBOT_URL,
        {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "two"}},
        headers=headers,
    )
    assert first.json()["status"] == "processed"
    assert second.json()["status"] == "duplicate"
    assert InteractionEvent.objects.get().idempotency_key == "header:delivery-77"
    assert Message.objects.count() == 1


def test_one_structured_log_line_per_delivery_without_pii(client, caplog):
    caplog.set_level(logging.INFO, logger="webhooks")
    post_json(client, BUILDERBOT_URL, fixture_bytes("builderbot_message_incoming.json"), headers=TOKENS[BUILDERBOT_URL])
    post_json(client, BUILDERBOT_URL, fixture_bytes("builderbot_message_incoming.json"), headers=TOKENS[BUILDERBOT_URL])
    lines = [r for r in caplog.records if r.getMessage() == "webhook_delivery"]
    assert [r.outcome for r in lines] == ["processed", "duplicate"]
    for record in lines:
        assert record.provider == "builderbot"
        assert record.event_type == "message.incoming"
        assert record.latency_ms >= 0
        assert "5512345678" not in json.dumps(record.__dict__, default=str)


def test_rejections_are_logged_as_security_lines(client, caplog):
    caplog.set_level(logging.WARNING, logger="webhooks.security")
    post_json(client, BUILDERBOT_URL + "?token=guess", {"eventName": "x"})
    records = [r for r in caplog.records if r.getMessage() == "webhook_rejected"]
    assert len(records) == 1
    assert (records[0].provider, records[0].reason) == ("builderbot", "token_wrong")
    assert "guess" not in json.dumps(records[0].__dict__, default=str)


# --- replay -------------------------------------------------------------------------------------------------------
def _failing_delivery(client):
    with mock.patch(
        "interactions.providers.builderbot.inbound.whatsapp_message_record", side_effect=RuntimeError("database hiccup")
    ):
        response = post_json(
            client, BUILDERBOT_URL, fixture_bytes("builderbot_message_incoming.json"), headers=TOKENS[BUILDERBOT_URL]
        )
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    event = InteractionEvent.objects.get()
    assert "database hiccup" in event.error
    assert Message.objects.count() == 0
    return event


def test_replay_command_turns_a_failed_event_into_processed_and_is_idempotent(client, capsys):
    event = _failing_delivery(client)

    call_command("replay_webhook_events", "--dry-run")
    assert "dry run: would replay 1 event(s)" in capsys.readouterr().out
    event.refresh_from_db()
    assert event.status == "failed"

    call_command("replay_webhook_events", "--provider", "builderbot")
    assert "replayed 1 event(s) processed=1" in capsys.readouterr().out
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == ("processed", 2, "")
    assert Message.objects.count() == 1

    call_command("replay_webhook_events", str(event.pk))
    assert webhook_event_replay(event_id=event.pk, actor=Actor.system()) == "processed"
    event.refresh_from_db()
    assert event.attempts == 2
    assert Message.objects.count() == 1
    assert AuditLog.objects.filter(action="webhook_event.replayed", target_id=str(event.pk)).count() == 1


def test_admin_action_replays_selected_events(client):
    event = _failing_delivery(client)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    with mock.patch("backoffice.admin.webhooks.webhook_event_replay", wraps=webhook_event_replay) as replay:
        from django.contrib.admin.sites import site

        from backoffice.admin.webhooks import InteractionEventAdmin

        model_admin = InteractionEventAdmin(InteractionEvent, site)
        request = mock.Mock(user=admin)
        with mock.patch.object(model_admin, "message_user") as message_user:
            model_admin.replay_events(request, InteractionEvent.objects.filter(pk=event.pk))
    assert replay.call_count == 1
    assert "1 processed" in str(message_user.call_args)
    event.refresh_from_db()
    assert event.status == "processed"


def test_replay_filters_by_time_range(client, capsys):
    _failing_delivery(client)
    call_command("replay_webhook_events", "--since", "2999-01-01T00:00:00Z")
    assert "replayed 0 event(s)" in capsys.readouterr().out
    assert InteractionEvent.objects.get().status == "failed"


# --- 50 concurrent copies -----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_copies_leave_one_event_and_one_message(wsgi_server):
    raw = fixture_bytes("builderbot_message_incoming.json")
    barrier = threading.Barrier(50)
    statuses: list[int] = []
    bodies: list[dict] = []
    lock = threading.Lock()

    def send():
        barrier.wait(timeout=30)
        response = requests.post(
            wsgi_server.url + BUILDERBOT_URL,
            data=raw,
            timeout=60,
            headers={"Content-Type": "application/json", **TOKENS[BUILDERBOT_URL]},
        )
        with lock:
            statuses.append(response.status_code)
            bodies.append(response.json())

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(statuses) == 50
    assert all(200 <= status < 300 for status in statuses), statuses
    assert sorted(b["status"] for b in bodies).count("processed") == 1
    assert InteractionEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_counters_command_prints_the_counts(client, capsys):
    post_json(client, BUILDERBOT_URL + "?token=guess", {"eventName": "x"})
    call_command("webhook_counters", "--provider", "builderbot")
    counts = json.loads(capsys.readouterr().out)["builderbot"]
    assert counts["rejected_token"] >= 1


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_stored_and_applied_when_redis_is_down(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    import webhooks.counters

    webhooks.counters._paused_until = 0.0
    try:
        for body in ("one", "two", "three"):
            event = {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": body}}
            response = post_json(client, BUILDERBOT_URL, event, headers=TOKENS[BUILDERBOT_URL])
            assert response.json()["status"] == "processed"
    finally:
        webhooks.counters._paused_until = 0.0
    assert Message.objects.count() == 3


@pytest.mark.parametrize("url", [BUILDERBOT_URL, TWILIO_URL, ELEVENLABS_URL])
def test_nul_characters_anywhere_never_make_a_500(client, url):
    if url == TWILIO_URL:
        raw, content_type = b"MessageSid=SM%00x&MessageStatus=sent%00&%00=%00", "application/x-www-form-urlencoded"
    else:
        raw, content_type = (
            b'{"eventName": "message.incoming\\u0000", "type": "x\\u0000", "data": {"a\\u0000": 1}}',
            ("application/json"),
        )
    headers = {**TOKENS[url], "X-Idempotency-Key": "k\x00y"}
    response = client.post(url, data=raw, content_type=content_type, headers=headers)
    assert response.status_code == 200, response.content
    assert InteractionEvent.objects.count() == 1


def test_a_forged_forwarded_for_header_is_stored_only_when_it_is_an_address(client, settings):
    # One trusted proxy: the client is the last address of X-Forwarded-For, the one the proxy appended. When that
    # entry is not an address, the TCP peer is stored instead (never the text).
    settings.TRUSTED_PROXY_COUNT = 1
    event = {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "ip"}}
    post_json(
        client, BUILDERBOT_URL, event, headers={**TOKENS[BUILDERBOT_URL], "X-Forwarded-For": "1.2.3.4, not-an-ip"}
    )
    other = {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "ip2"}}
    post_json(
        client, BUILDERBOT_URL, other, headers={**TOKENS[BUILDERBOT_URL], "X-Forwarded-For": "10.0.0.1, 203.0.113.9"}
    )
    assert set(InteractionEvent.objects.values_list("remote_addr", flat=True)) == {"127.0.0.1", "203.0.113.9"}


def test_replay_leaves_an_event_redacted_by_retention_alone(client, capsys):
    from django.utils import timezone

    event = _failing_delivery(client)
    InteractionEvent.objects.filter(pk=event.pk).update(redacted_at=timezone.now(), payload={"data": "[redacted]"})
    call_command("replay_webhook_events", str(event.pk))
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("failed", 1)
    assert Message.objects.count() == 0


@pytest.mark.redis
def test_counters_count_each_outcome_once_and_derive_received(client, settings):
    from django.core.cache import cache

    from webhooks.counters import webhook_counters

    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        assert hasattr(cache._cache, "get_client")  # the one-round-trip INCR path is the one exercised
    before = webhook_counters("builderbot")["builderbot"]
    body = fixture_bytes("builderbot_message_incoming.json")
    post_json(client, BUILDERBOT_URL, body, headers=TOKENS[BUILDERBOT_URL])
    post_json(client, BUILDERBOT_URL, body, headers=TOKENS[BUILDERBOT_URL])
    after = webhook_counters("builderbot")["builderbot"]
    assert after["processed"] == before["processed"] + 1
    assert after["duplicate"] == before["duplicate"] + 1
    assert after["received"] == before["received"] + 2


def test_counters_are_added_up_in_the_process_and_written_in_one_go(client, settings):
    """A delivery does not cost a round trip to Redis: counts wait in the process (at most
    WEBHOOK_COUNTERS_FLUSH_SECONDS) and are all written before anyone reads them."""
    from django.core.cache import cache

    import webhooks.counters

    webhooks.counters.webhook_counters_flush()
    before = webhook_counters("builderbot")["builderbot"]["processed"]
    settings.WEBHOOK_COUNTERS_FLUSH_SECONDS = 3600
    for body in ("uno", "dos", "tres"):
        event = {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": body}}
        assert post_json(client, BUILDERBOT_URL, event, headers=TOKENS[BUILDERBOT_URL]).json()["status"] == "processed"

    assert int(cache.get("webhooks:count:builderbot:processed") or 0) == before  # nothing written yet
    assert webhook_counters("builderbot")["builderbot"]["processed"] == before + 3
    assert int(cache.get("webhooks:count:builderbot:processed") or 0) == before + 3
