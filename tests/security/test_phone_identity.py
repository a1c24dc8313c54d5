"""Item 5 of the security review: one canonical phone number.

`+52 1 55…` (Mexico's legacy mobile form, and WhatsApp's `521…` ids) and `+52 55…` are one customer and one rate-limit
bucket; digits of other scripts (fullwidth `１`) are read as the digits they are and never stored or sent as sent;
the address a provider needs to reach the number (WhatsApp's `521…`) is kept apart from the identity; existing rows
are brought to the canonical form (and their keyed hashes with them) by a migration."""

import importlib
import json

import pytest
import requests
from django.apps import apps as django_apps

from contactcenter.common.pii import phone_hash
from interactions.models import Interaction, Message
from otp.models import OtpChallenge

from .conftest import make_api_key

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CANONICAL = "+525512345678"
SPELLINGS = ["+52 1 55 1234 5678", "＋５２ １ ５５ １２３４ ５６７８", "0052 55 1234 5678", "+52 (55) 1234-5678"]


def test_every_spelling_of_a_number_is_one_rate_limit_bucket_and_reaches_twilio_canonical(prod_server, fake_twilio):
    server = prod_server({"SMS_BACKEND": "auto", "TWILIO_API_BASE_URL": fake_twilio.url, "OTP_RATE_LIMIT_MAX": "3"})
    key = make_api_key("integration")
    answers = [
        requests.post(
            f"{server.url}/api/otp",
            json={"phone": spelling, "purpose": "login"},
            headers={"Authorization": f"Api-Key {key}"},
            timeout=10,
        )
        for spelling in SPELLINGS
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429], [a.text for a in answers]
    assert answers[3].json()["errors"][0]["code"] == "rate_limited"
    assert set(OtpChallenge.objects.values_list("phone", flat=True)) == {CANONICAL}
    assert set(OtpChallenge.objects.values_list("phone_hash", flat=True)) == {phone_hash(CANONICAL)}
    sent_to = [request.form["To"] for request in fake_twilio.create_requests]
    assert sent_to == [CANONICAL] * 3  # ASCII, canonical: never the fullwidth digits as sent


def test_a_whatsapp_customer_and_an_sms_customer_of_one_line_are_one_identity_and_replies_go_to_the_whatsapp_id(
    prod_server, fake_builderbot
):
    server = prod_server(
        {"WHATSAPP_BACKEND": "auto", "BUILDERBOT_API_URL": fake_builderbot.url, "THROTTLE_RATE_WRITES": "1000/min"}
    )
    incoming = requests.post(
        f"{server.url}/webhooks/builderbot/whatsapp",
        data=json.dumps(
            {"eventName": "message.incoming", "data": {"from": "5215512345678", "body": "hola", "id": "w1"}}
        ),
        headers={"Content-Type": "application/json", "X-Webhook-Token": "test-builderbot-token"},
        timeout=10,
    )
    assert incoming.status_code == 200, incoming.text
    whatsapp = Interaction.objects.get(channel="whatsapp")
    assert whatsapp.customer_phone == CANONICAL
    assert whatsapp.customer_address == "5215512345678"
    sms = Interaction.objects.create(
        channel="sms", direction="inbound", provider="twilio", customer_phone="+52155 1234 5678"
    )
    assert sms.customer_phone_hash == whatsapp.customer_phone_hash == phone_hash(CANONICAL)

    key = make_api_key("supervisor")
    auth = {"Authorization": f"Api-Key {key}"}
    found = requests.get(
        f"{server.url}/api/interactions", params={"phone": "５２１５５１２３４５６７８"}, headers=auth, timeout=10
    )
    assert found.status_code == 200, found.text
    assert {row["id"] for row in found.json()["results"]} == {str(whatsapp.pk), str(sms.pk)}

    reply = requests.post(
        f"{server.url}/api/interactions/{whatsapp.pk}/messages",
        json={"body": "¿En qué le ayudo?"},
        headers=auth,
        timeout=10,
    )
    assert reply.status_code in (201, 202), reply.text
    assert [request.json()["number"] for request in fake_builderbot.send_requests] == ["5215512345678"]
    sent = Message.objects.get(direction="outbound")
    assert sent.to_phone == CANONICAL  # the identity; the WhatsApp id is only the address it went to


def test_stored_numbers_in_legacy_spellings_are_brought_to_the_canonical_form_by_the_migration(transactional_db):
    legacy = "+5215512345678"
    whatsapp = Interaction.objects.create(channel="whatsapp", direction="inbound", provider="builderbot")
    Interaction.objects.filter(pk=whatsapp.pk).update(customer_phone=legacy, customer_phone_hash=phone_hash(legacy))
    fullwidth = Interaction.objects.create(channel="sms", direction="inbound", provider="twilio")
    Interaction.objects.filter(pk=fullwidth.pk).update(customer_phone="+５２５５１２３４５６７８")
    redacted = Interaction.objects.create(channel="sms", direction="inbound", provider="twilio")
    Interaction.objects.filter(pk=redacted.pk).update(
        customer_phone="+52*******5678", customer_phone_hash=phone_hash(legacy)
    )
    message = Message.objects.create(
        interaction=whatsapp, channel="whatsapp", direction="inbound", status="received", provider="builderbot"
    )
    Message.objects.filter(pk=message.pk).update(from_phone=legacy)
    common = {"purpose": "login", "code_hash": "x", "max_attempts": 5, "expires_at": "2999-01-01T00:00:00Z"}
    old_pending = OtpChallenge.objects.create(phone=legacy, phone_hash=phone_hash(legacy), **common)
    new_pending = OtpChallenge.objects.create(phone=CANONICAL, phone_hash=phone_hash(CANONICAL), **common)

    importlib.import_module("interactions.migrations.0005_canonical_phones").forwards(django_apps, None)
    importlib.import_module("otp.migrations.0005_canonical_phones").forwards(django_apps, None)

    whatsapp.refresh_from_db()
    assert (whatsapp.customer_phone, whatsapp.customer_phone_hash) == (CANONICAL, phone_hash(CANONICAL))
    assert whatsapp.customer_address == "5215512345678"  # replies still go to the WhatsApp id
    assert Interaction.objects.get(pk=fullwidth.pk).customer_phone == CANONICAL
    # A redacted row cannot be recomputed: it keeps its hash, and the lookups try the legacy spelling's hash too.
    assert Interaction.objects.get(pk=redacted.pk).customer_phone_hash == phone_hash(legacy)
    key = make_api_key("supervisor")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    listed = client.get("/api/interactions", {"phone": CANONICAL}).json()["results"]
    assert {row["id"] for row in listed} == {str(whatsapp.pk), str(fullwidth.pk), str(redacted.pk)}
    assert Message.objects.get(pk=message.pk).from_phone == CANONICAL
    old_pending.refresh_from_db()
    assert (old_pending.phone, old_pending.status) == (CANONICAL, "canceled")  # one pending challenge per number
    assert OtpChallenge.objects.get(pk=new_pending.pk).status == "pending"
