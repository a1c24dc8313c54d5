"""The foundation: health, error shape, request ids, database invariants, the audit table, settings, Celery."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from interactions.models import Interaction, Message
from tests.factories import InteractionFactory
from webhooks.models import InteractionEvent

pytestmark = pytest.mark.django_db


def test_health_answers_200_with_each_dependency(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["broker"]["status"] in ("up", "eager")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_health_answers_503_naming_the_database_when_it_is_down(client):
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = 1  # nothing listens there: a real connection failure
    try:
        response = client.get("/api/health")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "down"


@pytest.mark.parametrize("path", ["/api/nothing-here", "/webhooks/nothing-here"])
def test_unknown_paths_under_api_and_webhooks_answer_json_errors(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}],
    }


def test_request_id_is_taken_from_the_header_and_returned(client):
    response = client.get("/api/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    generated = client.get("/api/health")["X-Request-ID"]
    assert len(generated) == 32


def test_schema_and_swagger_are_served(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert b"/api/health" in schema.content
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200


# --- database invariants ----------------------------------------------------------------------------------------


def test_duplicate_idempotency_key_is_refused_by_the_database():
    InteractionEvent.objects.create(provider="twilio", idempotency_key="SM1:delivered")
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionEvent.objects.create(provider="twilio", idempotency_key="SM1:delivered")


def test_duplicate_provider_message_id_is_refused_by_the_database():
    interaction = InteractionFactory()
    Message.objects.create(
        interaction=interaction,
        channel="sms",
        direction="outbound",
        status="sent",
        provider="twilio",
        provider_message_id="SM123",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            interaction=interaction,
            channel="sms",
            direction="outbound",
            status="sent",
            provider="twilio",
            provider_message_id="SM123",
        )


def test_duplicate_provider_external_id_is_refused_by_the_database():
    InteractionFactory(provider="elevenlabs", channel="call", external_id="conv_1")
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory(provider="elevenlabs", channel="call", external_id="conv_1")
    # Rows without an external id do not collide.
    InteractionFactory(external_id=None)
    InteractionFactory(external_id=None)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("interaction", "status", "closed"),
        ("interaction", "channel", "email"),
        ("interaction", "direction", "sideways"),
        ("message", "status", "lost"),
        ("event", "status", "done"),
    ],
)
def test_bad_status_and_channel_words_are_refused_by_the_database(model, field, value):
    interaction = InteractionFactory()
    if model == "interaction":
        target = Interaction.objects.filter(pk=interaction.pk)
    elif model == "message":
        message = Message.objects.create(
            interaction=interaction, channel="sms", direction="outbound", status="queued", provider="twilio"
        )
        target = Message.objects.filter(pk=message.pk)
    else:
        event = InteractionEvent.objects.create(provider="twilio", idempotency_key=uuid.uuid4().hex)
        target = InteractionEvent.objects.filter(pk=event.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        target.update(**{field: value})


def test_phone_hash_is_kept_for_matching():
    interaction = InteractionFactory(customer_phone="+5215512345678")
    assert len(interaction.customer_phone_hash) == 64
    assert "5512345678" not in interaction.customer_phone_hash


@pytest.mark.postgres
def test_audit_table_refuses_update_and_delete_on_postgresql():
    record = audit_log_record(actor=Actor.system(), action="test.action", data={"n": 1})
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=record.pk).update(action="tampered")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=record.pk).delete()
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlog SET data = '{}' WHERE id = %s", [record.pk])
    assert AuditLog.objects.get(pk=record.pk).action == "test.action"


# --- settings and Celery ----------------------------------------------------------------------------------------


def test_visibility_timeout_outlasts_every_countdown_and_retry_delay():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > settings.CELERY_MAX_TASK_DELAY_SECONDS
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    from contactcenter.celery import app

    for task in app.tasks.values():
        if task.name.startswith("celery."):
            continue
        assert (getattr(task, "retry_backoff_max", 0) or 0) <= settings.CELERY_MAX_TASK_DELAY_SECONDS, task.name
        assert (getattr(task, "default_retry_delay", 0) or 0) <= settings.CELERY_MAX_TASK_DELAY_SECONDS, task.name


def _run_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DJANGO_",
                "DATABASE",
                "REDIS",
                "SECRET",
                "TWILIO",
                "BUILDERBOT",
                "ELEVENLABS",
                "DEBUG",
                "SMS_",
                "WHATSAPP_",
                "CELERY",
            )
        )
    }
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='contactcenter.settings'; "
            "django.setup(); print('ok')",
        ],
        env=clean,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_production_settings_name_every_missing_variable():
    result = _run_settings({"DEBUG": "false"})
    assert result.returncode != 0
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "BUILDERBOT_WEBHOOK_TOKEN"):
        assert name in result.stderr


def test_development_settings_need_nothing():
    result = _run_settings({"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_enqueue_does_not_hang_when_the_broker_is_down():
    import time

    from contactcenter.common.tasks import enqueue
    from interactions.tasks import message_deliver_task
    from tests.support.celery_worker import publishing_to_broker

    with publishing_to_broker("redis://127.0.0.1:1/0"):  # nothing listens on port 1
        started = time.perf_counter()
        assert enqueue(message_deliver_task, str(uuid.uuid4())) is False
        elapsed = time.perf_counter() - started
    assert elapsed < 3, f"enqueue blocked for {elapsed:.1f}s with the broker down"
