"""Webhooks and the API while the database fails: a quick 503 with Retry-After (providers and clients retry), never a
500; and a delivery stored before the database went away, but never applied, is applied by the provider's retry."""

from unittest import mock

import pytest
from django.db import OperationalError, connection

from accounts.services import api_key_create
from audit.services import Actor
from interactions.models import Message
from webhooks.models import EventStatus, InteractionEvent

from .conftest import BUILDERBOT_URL, fixture_bytes, post_json

pytestmark = [pytest.mark.django_db]

TOKEN = {"X-Webhook-Token": "test-builderbot-token"}


@pytest.fixture
def client(client):
    # The 5xx is reported with the original error (got_request_exception): the test client must not re-raise it.
    client.raise_request_exception = False
    return client


def _database_down(execute, sql, params, many, context):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


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


def test_a_delivery_stored_but_never_applied_is_applied_by_the_providers_retry(client):
    body = fixture_bytes("builderbot_message_incoming.json")
    # The database goes away between storing the raw delivery (committed) and applying it: the provider gets a 503.
    with mock.patch("webhooks.services.webhook_event_process", side_effect=OperationalError("server closed")):
        first = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
    assert first.status_code == 503
    assert InteractionEvent.objects.get().status == EventStatus.RECEIVED
    assert not Message.objects.exists()

    retry = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)
    again = post_json(client, BUILDERBOT_URL, body, headers=TOKEN)

    assert retry.status_code == 200
    assert retry.json() == {"status": "processed", "event_id": str(InteractionEvent.objects.get().pk)}
    assert InteractionEvent.objects.get().status == EventStatus.PROCESSED
    assert Message.objects.filter(direction="inbound").count() == 1
    assert again.json()["status"] == "duplicate"
