"""The provider registry drives the webhooks: every registered provider has its route, its OpenAPI operation, its
counters and its applier, and a provider added to the registry is served by the generic view with no other change."""

import types
from datetime import datetime

import pytest
from django.urls import include, path, resolve, reverse
from drf_spectacular.generators import SchemaGenerator

from interactions.models import Channel
from interactions.providers import registry
from interactions.providers.auth import auth_decide, presented_token, token_matches
from interactions.providers.base import (
    AuthResult,
    BodyRejected,
    Identity,
    InboundBody,
    InboundEvent,
    InboundProvider,
    Outcome,
    OutcomeStatus,
    PayloadUnreadable,
    WebhookDocs,
)
from interactions.providers.bodies import json_body_read
from webhooks.counters import webhook_counters
from webhooks.models import EventStatus, InteractionEvent
from webhooks.services import webhook_event_process
from webhooks.urls import provider_webhook_paths

from .conftest import post_json

pytestmark = [pytest.mark.django_db]

FAKE_TOKEN = "test-fourth-token"


class FourthInbound(InboundProvider):
    """A made-up provider: our token in a header, one JSON event per delivery keyed by its `id`."""

    name = "fourth"
    label = "Fourth"
    channel = "fax"
    webhook_path = "fourth/events"
    url_name = "fourth-events"
    max_body_bytes = 1024
    docs = WebhookDocs(
        operation_id="webhooks_fourth_events",
        summary="Fourth provider events",
        description="A provider added in a test.",
        request={"application/json": {"type": "object"}},
    )

    def authenticate(self, request, raw: bytes) -> AuthResult:
        return auth_decide(
            request=request,
            token_ok=token_matches(presented_token(request, allow_query=False), [FAKE_TOKEN]),
            tokens_configured=True,
            signing_configured=False,
            signature_present=False,
            signature_ok=False,
            signature_reason="",
            mode="enforce",
        )

    def read(self, request, raw: bytes) -> InboundBody:
        payload, changed = json_body_read(raw)
        if not isinstance(payload, dict):
            raise BodyRejected(400, "invalid_payload", "The body must be a JSON object.")
        event_id = str(payload.get("id", ""))
        identity = Identity(str(payload.get("kind", "")), f"id:{event_id}", event_id)
        return InboundBody([InboundEvent(identity, payload, record=("read", event_id))], changed=changed)

    def apply(self, *, payload, received_at: datetime, record=None) -> Outcome:
        if "id" not in payload:
            raise PayloadUnreadable("no id")
        if payload.get("kind") == "noise":
            return Outcome(OutcomeStatus.IGNORED, error="noise is not handled")
        return Outcome(
            OutcomeStatus.PROCESSED,
            normalized={"id": payload["id"], "read_on_the_way_in": record is not None},
            external_ref=f"ref-{payload['id']}",
        )


@pytest.fixture
def fourth(monkeypatch, settings):
    """FourthInbound registered beside the three, and a URL conf built from the registry the way webhooks.urls is."""
    provider = FourthInbound()
    monkeypatch.setattr(registry, "PROVIDERS", (*registry.PROVIDERS, provider))
    urlconf = types.ModuleType("fourth_provider_urls")
    urlconf.urlpatterns = [path("webhooks/", include((provider_webhook_paths(), "webhooks")))]
    settings.ROOT_URLCONF = urlconf
    return provider


# --- the three registered providers ---------------------------------------------------------------------------
def test_the_registry_lists_the_three_providers_once():
    assert registry.provider_names() == ("elevenlabs", "builderbot", "twilio")
    assert len({p.webhook_path for p in registry.providers()}) == len(registry.providers())
    assert len({p.url_name for p in registry.providers()}) == len(registry.providers())
    assert registry.provider_get("twilio").channel == Channel.SMS
    assert registry.provider_for_channel(Channel.WHATSAPP).name == "builderbot"
    assert registry.provider_get("nobody") is None


@pytest.mark.parametrize("provider", registry.providers(), ids=registry.provider_names())
def test_every_registered_provider_has_its_route_and_its_operation(provider, client):
    url = reverse(f"webhooks:{provider.url_name}")
    assert url == f"/webhooks/{provider.webhook_path}"
    assert resolve(url).func.view_class.provider is provider
    # Served by the generic view: no token, no signature, nothing stored.
    assert post_json(client, url, {"id": 1}).status_code == 401
    assert not InteractionEvent.objects.exists()
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"][url]["post"]
    assert operation["operationId"] == provider.docs.operation_id
    assert set(operation["requestBody"]["content"]) == set(provider.docs.request)


def test_the_counters_cover_every_registered_provider():
    assert set(webhook_counters()) == set(registry.provider_names())


# --- a fourth provider ------------------------------------------------------------------------------------------
def test_a_fourth_provider_is_served_by_the_generic_view_and_applied_by_the_ledger(fourth, client):
    headers = {"X-Webhook-Token": FAKE_TOKEN}
    url = reverse("webhooks:fourth-events")
    assert url == "/webhooks/fourth/events"

    response = post_json(client, url, {"id": 7, "kind": "ping"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "processed"
    event = InteractionEvent.objects.get()
    assert (event.provider, event.event_type, event.idempotency_key) == ("fourth", "ping", "id:7")
    assert event.external_ref == "ref-7"
    # Applied at once with what `read` made of the payload.
    assert event.normalized == {"id": 7, "read_on_the_way_in": True}

    again = post_json(client, url, {"id": 7, "kind": "ping"}, headers=headers)
    assert again.json() == {"status": "duplicate", "event_id": str(event.pk)}
    assert InteractionEvent.objects.count() == 1

    assert post_json(client, url, {"id": 8, "kind": "noise"}, headers=headers).json()["status"] == "ignored"
    assert webhook_counters("fourth")["fourth"]["processed"] >= 1


def test_a_fourth_provider_gets_the_shared_rejections_and_its_counters(fourth, client):
    url = reverse("webhooks:fourth-events")
    before = webhook_counters("fourth")["fourth"]
    assert post_json(client, url, {"id": 1}, headers={"X-Webhook-Token": "wrong"}).status_code == 401
    too_big = {"id": 1, "padding": "x" * 2048}
    assert post_json(client, url, too_big, headers={"X-Webhook-Token": FAKE_TOKEN}).status_code == 413
    as_text = post_json(client, url, b"id=1", headers={"X-Webhook-Token": FAKE_TOKEN}, content_type="text/plain")
    assert as_text.status_code == 415
    assert not InteractionEvent.objects.exists()
    after = webhook_counters("fourth")["fourth"]
    assert after["rejected_token"] == before["rejected_token"] + 1
    assert after["rejected_body"] == before["rejected_body"] + 2


def test_a_fourth_providers_event_is_replayed_through_the_registry(fourth, client):
    url = reverse("webhooks:fourth-events")
    response = post_json(client, url, {"kind": "ping"}, headers={"X-Webhook-Token": FAKE_TOKEN})
    assert response.json()["status"] == "failed"
    event = InteractionEvent.objects.get()
    assert event.error == "no id"
    InteractionEvent.objects.filter(pk=event.pk).update(payload={"id": 9, "kind": "ping"})
    assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED
    event.refresh_from_db()
    # A replay reads the stored payload: nothing read on the way in is at hand any more.
    assert event.normalized == {"id": 9, "read_on_the_way_in": False}
