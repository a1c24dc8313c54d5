"""Webhooks and the API while the database fails: a quick 503 with Retry-After (providers and clients retry), never a
500; a delivery whose transaction did not commit leaves nothing behind and is applied once by the provider's retry;
and an event an earlier version stored but never applied is applied by a retry or by the sweep."""

import psycopg
import pytest
from django.db import OperationalError, connection

from accounts.services import api_key_create
from contactcenter.common.actors import Actor
from interactions.models import Interaction, Message
from webhooks.models import EventStatus, InteractionEvent

from .conftest import BUILDERBOT_URL, fixture_bytes, post_json

pytestmark = [pytest.mark.django_db]

TOKEN = {"X-Webhook-Token": "test-builderbot-token"}


@pytest.fixture
def client(client):
    # The 5xx is reported with the original error (got_request_exception): the test client must not re-raise it.
    client.raise_request_exception = False
    return client


def _raise_from_driver(driver_error: Exception):
    # What Django raises for a psycopg error: its own class, with the driver's error (and its SQLSTATE) as the cause.
    raise OperationalError(str(driver_error)) from driver_error


def _database_down(execute, sql, params, many, context):
    _raise_from_driver(psycopg.OperationalError("connection to server at 127.0.0.1 failed: Connection refused"))


def _assert_service_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "type": "server_error",
        "errors": [
            {
                "code": "service_unavailable",
                "detail": "The service is briefly unavailable; retry shortly.",
                "attr": None,
            }
        ],
    }


def test_a_webhook_gets_503_with_retry_after_while_the_database_is_down(client):
    with connection.execute_wrapper(_database_down):
        response = post_json(client, BUILDERBOT_URL, fixture_bytes("builderbot_message_incoming.json"), headers=TOKEN)

    _assert_service_unavailable(response)


def test_an_api_call_gets_503_with_retry_after_while_the_database_is_down(client):
    _, key = api_key_create(name="ivr", role="integration", actor=Actor.system("tests"))

    with connection.execute_wrapper(_database_down):
        response = client.post(
            "/api/otp",
            {"phone": "+5215512345678", "purpose": "login"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {key}",
        )

    _assert_service_unavailable(response)


def test_an_admin_page_gets_503_while_the_database_is_down(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser(username="boss", password="x-1234567890"))

    with connection.execute_wrapper(_database_down):
        response = client.get("/admin/interactions/interaction/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def _failing_first(statement_start: str, driver_error: Exception, *, containing: str = ""):
    """An execute wrapper that fails the first statement starting with `statement_start` (quotes ignored; and holding
    `containing`), as the database would."""
    failed = []

    def wrapper(execute, sql, params, many, context):
        if not failed and sql.lstrip().replace('"', "").startswith(statement_start) and containing in sql:
            failed.append(sql)
            _raise_from_driver(driver_error)
        return execute(sql, params, many, context)

    return wrapper


def _stored_but_never_applied(client, body: bytes) -> InteractionEvent:
    """The state an earlier version of the ledger could leave (it stored a delivery in a transaction of its own, then
    applied it in another): the event `received`, nothing applied."""
    assert post_json(client, BUILDERBOT_URL, body, headers=TOKEN).json()["status"] == "processed"
    Message.objects.all().delete()
    Interaction.objects.all().delete()
    InteractionEvent.objects.update(status=EventStatus.RECEIVED, processed_at=None, attempts=0, normalized={})
    return InteractionEvent.objects.get()


def test_a_lost_connection_while_applying_stores_nothing_and_the_providers_retry_applies_it_once(client):
    body = fixture_bytes("builderbot_message_incoming.json")
    lost_connection = psycopg.OperationalError("server closed the connection unexpectedly")
    with connection.execute_wrapper(_failing_first("INSERT INTO interactions_message", lost_connection)):
        first = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
    assert first.status_code == 503  # not answered 2xx: the provider retries
    assert not InteractionEvent.objects.exists()
    assert not Message.objects.exists()

    retry = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
    again = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert retry.status_code == 200
    assert retry.json() == {"status": "processed", "event_id": str(InteractionEvent.objects.get().pk)}
    assert InteractionEvent.objects.get().status == EventStatus.PROCESSED
    assert Message.objects.filter(direction="inbound").count() == 1
    assert again.json()["status"] == "duplicate"


def test_a_lost_connection_while_storing_the_applied_event_rolls_the_apply_back(client):
    body = fixture_bytes("builderbot_message_incoming.json")
    lost_connection = psycopg.OperationalError("server closed the connection unexpectedly")
    with connection.execute_wrapper(_failing_first("INSERT INTO webhooks_interactionevent", lost_connection)):
        first = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert first.status_code == 503
    assert not InteractionEvent.objects.exists()
    assert not Message.objects.exists()  # the apply went with the transaction
    assert post_json(client, BUILDERBOT_URL, body, headers=TOKEN).json()["status"] == "processed"
    assert Message.objects.filter(direction="inbound").count() == 1


def test_a_deadlock_while_applying_is_retried_by_the_provider_instead_of_stored_failed(client):
    body = fixture_bytes("builderbot_message_incoming.json")
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")
    with connection.execute_wrapper(_failing_first("INSERT INTO interactions_message", deadlock)):
        first = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert first.status_code == 503
    assert not InteractionEvent.objects.exists()  # not `failed`: no provider retries those
    retry = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
    assert retry.json()["status"] == "processed"
    assert Message.objects.filter(direction="inbound").count() == 1


def test_an_error_a_retry_cannot_clear_stays_a_500(client):
    """A statement timeout or a value too large is not an outage: answering 503 would make providers retry forever."""
    body = fixture_bytes("builderbot_message_incoming.json")
    timeout = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    with connection.execute_wrapper(_failing_first("INSERT INTO webhooks_interactionevent", timeout)):
        response = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert response.status_code == 500
    assert not InteractionEvent.objects.exists()
    assert not Message.objects.exists()


def test_a_repeat_of_an_event_stored_but_never_applied_applies_it(client):
    body = fixture_bytes("builderbot_message_incoming.json")
    event = _stored_but_never_applied(client, body)

    retry = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert retry.json() == {"status": "processed", "event_id": str(event.pk)}
    assert InteractionEvent.objects.get().status == EventStatus.PROCESSED
    assert Message.objects.filter(direction="inbound").count() == 1
    assert post_json(client, BUILDERBOT_URL, body, headers=TOKEN).json()["status"] == "duplicate"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_leaves_an_event_being_applied_to_its_applier_instead_of_waiting(client):
    """A provider retry that arrives while another process holds the event (applying it) answers at once, changes
    nothing, and leaves the event to that process; once the lock is gone, a later retry applies it."""
    body = fixture_bytes("builderbot_message_incoming.json")
    event = _stored_but_never_applied(client, body)

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
    ) as other:
        other.execute("SELECT 1 FROM webhooks_interactionevent WHERE id = %s FOR UPDATE", [event.pk])
        while_locked = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
        other.rollback()

    assert while_locked.status_code == 200
    assert while_locked.json()["status"] == "duplicate"
    assert InteractionEvent.objects.get().status == EventStatus.RECEIVED
    assert not Message.objects.exists()
    assert post_json(client, BUILDERBOT_URL, body, headers=TOKEN).json()["status"] == "processed"
    assert Message.objects.filter(direction="inbound").count() == 1


def test_the_sweep_applies_a_delivery_stored_but_never_applied_when_no_retry_comes(client, settings):
    """Not every provider retries: the periodic sweep applies what a lost apply left `received`, once it is old
    enough, and running it again changes nothing."""
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    from webhooks.tasks import events_sweep_task

    body = fixture_bytes("builderbot_message_incoming.json")
    _stored_but_never_applied(client, body)

    assert events_sweep_task.apply().get() == 0  # too young: the provider's own retry may still come
    assert InteractionEvent.objects.get().status == EventStatus.RECEIVED

    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_EVENTS_SWEEP_AFTER_SECONDS + 1)
    with freeze_time(later):
        assert events_sweep_task.apply().get() == 1
        assert events_sweep_task.apply().get() == 0
    assert InteractionEvent.objects.get().status == EventStatus.PROCESSED
    assert Message.objects.filter(direction="inbound").count() == 1
    # A late retry is now a plain duplicate.
    assert post_json(client, BUILDERBOT_URL, body, headers=TOKEN).json()["status"] == "duplicate"
