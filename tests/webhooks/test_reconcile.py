"""reconcile_calls and its periodic task: missed conversations are recovered from the (fake) conversations API."""

import copy
import time

import pytest
from django.core.management import CommandError, call_command

from interactions.models import CallDetail, Interaction
from simulators.fake_elevenlabs import FakeElevenLabs
from webhooks.models import InteractionEvent
from webhooks.tasks import calls_reconcile_task

from .conftest import ELEVENLABS_URL, fixture_json, post_json

pytestmark = [pytest.mark.django_db]

API_KEY = "xi-test-key"


def _conversation(conversation_id: str, *, minutes_ago: int, status: str = "done") -> dict:
    data = copy.deepcopy(fixture_json("elevenlabs_post_call_transcription.json")["data"])
    data["conversation_id"] = conversation_id
    data["status"] = status
    data["metadata"]["start_time_unix_secs"] = int(time.time()) - minutes_ago * 60
    return data


@pytest.fixture
def fake_api(settings):
    with FakeElevenLabs(api_key=API_KEY) as fake:
        settings.ELEVENLABS_API_KEY = API_KEY
        settings.ELEVENLABS_API_BASE_URL = fake.url
        yield fake


def test_a_conversation_missing_from_our_database_is_recovered(client, fake_api, capsys):
    received = _conversation("conv_received", minutes_ago=30)
    post_json(
        client,
        ELEVENLABS_URL,
        {"type": "post_call_transcription", "event_timestamp": 1, "data": received},
        headers={"X-Webhook-Token": "test-elevenlabs-token"},
    )
    fake_api.add_conversation(received)
    fake_api.add_conversation(_conversation("conv_missed", minutes_ago=20))
    fake_api.add_conversation(_conversation("conv_live", minutes_ago=1, status="in-progress"))
    fake_api.add_conversation(_conversation("conv_too_old", minutes_ago=60 * 48))

    call_command("reconcile_calls", "--since", "6h")

    out = capsys.readouterr().out
    assert "fetched conv_missed" in out
    assert "listed=3 known=1 not_finished=1 recovered=1 failed=0" in out
    detail = CallDetail.objects.get(conversation_id="conv_missed")
    assert detail.interaction.status == "completed"
    assert detail.duration_seconds == 248
    event = InteractionEvent.objects.get(external_ref="conv_missed")
    assert (event.status, event.headers) == ("processed", {"X-Source": "reconcile_calls"})
    assert all(r.headers.get("xi-api-key") == API_KEY for r in fake_api.requests)

    call_command("reconcile_calls", "--since", "6h")
    assert "recovered=0" in capsys.readouterr().out
    assert Interaction.objects.count() == 2


def test_the_list_is_followed_across_pages(fake_api, capsys):
    for index in range(105):
        fake_api.add_conversation(_conversation(f"conv_{index:03d}", minutes_ago=index + 1))
    call_command("reconcile_calls", "--since", "1d", "--dry-run")
    out = capsys.readouterr().out
    assert "listed=105" in out and "dry_run=True" in out
    assert out.count("missing conv_") == 105
    assert Interaction.objects.count() == 0
    list_requests = [r for r in fake_api.requests if r.path == "/v1/convai/conversations"]
    assert len(list_requests) == 2
    assert list_requests[1].query["cursor"] == "100"


def test_a_webhook_arriving_after_reconciliation_is_a_duplicate(client, fake_api):
    missed = _conversation("conv_late", minutes_ago=5)
    fake_api.add_conversation(missed)
    call_command("reconcile_calls", "--since", "1h")
    response = post_json(
        client,
        ELEVENLABS_URL,
        {"type": "post_call_transcription", "event_timestamp": 2, "data": missed},
        headers={"X-Webhook-Token": "test-elevenlabs-token"},
    )
    assert response.json()["status"] == "duplicate"


def test_a_wrong_api_key_is_a_clear_command_error(fake_api, settings):
    settings.ELEVENLABS_API_KEY = "wrong"
    with pytest.raises(CommandError, match="401"):
        call_command("reconcile_calls", "--since", "1h")


def test_the_periodic_task_runs_the_same_reconciliation_and_skips_without_a_key(fake_api, settings):
    fake_api.add_conversation(_conversation("conv_task", minutes_ago=10))
    assert calls_reconcile_task.apply().get()["recovered"] == 1
    settings.ELEVENLABS_API_KEY = ""
    assert calls_reconcile_task() == {"skipped": True}


def test_the_beat_schedule_has_the_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["calls-reconcile"]
    assert entry["task"] == calls_reconcile_task.name
