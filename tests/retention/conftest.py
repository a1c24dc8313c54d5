"""Seeding a customer's data across every channel at a chosen age, and looking for it anywhere in the database."""

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from django.core.files.base import ContentFile
from django.forms.models import model_to_dict
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditLog
from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from webhooks.models import InteractionEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
FIXTURE_PHONE = "5215512345678"  # the number the recorded provider payloads carry
BANK_NUMBER = "+15005550006"

# Free text the seeded rows carry: none of it may be left after redaction.
TEXTS = (
    "Hola, quiero saber el saldo de mi cuenta",
    "José Pérez",
    "Perdí mi tarjeta",
    "bloquear la tarjeta",
    "Su código es 482913",
    "Card blocked for a lost card",
)


def _fixture(name: str, phone: str) -> str:
    return (FIXTURES / name).read_text().replace(FIXTURE_PHONE, phone.lstrip("+"))


def _event(provider: str, payload: dict, interaction: Interaction | None, **extra) -> InteractionEvent:
    return InteractionEvent.objects.create(
        provider=provider,
        event_type=extra.pop("event_type", "test"),
        idempotency_key=uuid.uuid4().hex,
        status="processed",
        payload=payload,
        headers={"Content-Type": "application/json", "X-Forwarded-For": "10.0.0.1"},
        normalized=extra.pop("normalized", {}),
        interaction=interaction,
        **extra,
    )


@dataclass
class Customer:
    """Everything one customer left behind, across the three channels."""

    phone: str
    interactions: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    events: list = field(default_factory=list)
    otp_challenges: list = field(default_factory=list)
    recordings: list = field(default_factory=list)

    @property
    def interaction_ids(self):
        return [interaction.pk for interaction in self.interactions]


def seed_customer(phone: str, *, at: datetime) -> Customer:
    """A call (transcript, recording, post-call event), a WhatsApp conversation (two messages, the BuilderBot event),
    an SMS with an OTP code (the Twilio status event) and its OTP challenge, all created at `at`."""
    customer = Customer(phone=phone)
    with freeze_time(at):
        call = Interaction.objects.create(
            channel="call",
            direction="inbound",
            status="completed",
            provider="elevenlabs",
            customer_phone=phone,
            subject="Lost card",
            summary="José Pérez called: Perdí mi tarjeta. Card blocked for a lost card.",
            metadata={"caller_id": phone, "customer_name": "José Pérez", "channel": "call"},
            started_at=at,
        )
        transcription = json.loads(_fixture("elevenlabs_post_call_transcription.json", phone))
        detail = CallDetail.objects.create(
            interaction=call,
            conversation_id=f"conv_{uuid.uuid4().hex}",
            customer_number=phone,
            agent_number=BANK_NUMBER,
            summary="José Pérez wants to bloquear la tarjeta.",
            summary_title="Card blocked for a lost card",
            transcript=transcription["data"]["transcript"],
            analysis=transcription["data"].get("analysis") or {"transcript_summary": "José Pérez"},
            metadata={"dynamic_variables": {"system__caller_id": phone}},
            recording_url="https://api.elevenlabs.io/v1/convai/conversations/x/audio",
        )
        detail.recording.save(f"{uuid.uuid4().hex}.mp3", ContentFile(b"ID3 fake audio"), save=True)
        customer.recordings.append(detail.recording.name)
        customer.events.append(_event("elevenlabs", transcription, call, event_type="post_call_transcription"))

        chat = Interaction.objects.create(
            channel="whatsapp", direction="inbound", provider="builderbot", customer_phone=phone, started_at=at
        )
        incoming = json.loads(_fixture("builderbot_message_incoming.json", phone))
        customer.messages += [
            Message.objects.create(
                interaction=chat,
                channel="whatsapp",
                direction="inbound",
                status="received",
                from_phone=phone,
                body=incoming["data"]["body"],
                provider="builderbot",
                media_url="https://cdn.example.com/media/photo.jpg",
            ),
            Message.objects.create(
                interaction=chat,
                channel="whatsapp",
                direction="outbound",
                status="sent",
                to_phone=phone,
                body="José Pérez, Su código es 482913",
                provider="builderbot",
            ),
        ]
        customer.events.append(
            _event(
                "builderbot",
                incoming,
                chat,
                event_type="message.incoming",
                external_ref=phone.lstrip("+"),
                normalized={"phone": phone, "body": incoming["data"]["body"], "name": "José Pérez"},
            )
        )

        sms = Interaction.objects.create(
            channel="sms", direction="outbound", provider="twilio", customer_phone=phone, started_at=at
        )
        sms_message = Message.objects.create(
            interaction=sms,
            channel="sms",
            direction="outbound",
            status="delivered",
            to_phone=phone,
            from_phone=BANK_NUMBER,
            body="Su código es 482913",
            provider="twilio",
            provider_message_id=f"SM{uuid.uuid4().hex}",
            error_message=f"The 'To' number {phone} was unreachable once",
            is_sensitive=True,
            purpose="login",
        )
        customer.messages.append(sms_message)
        status = dict(parse_qsl(_fixture("twilio_sms_status_delivered.txt", phone)))
        customer.events.append(_event("twilio", status, sms, event_type="message.status"))
        customer.otp_challenges.append(
            OtpChallenge.objects.create(
                phone=phone,
                phone_hash="",
                purpose="login",
                code_hash="x" * 64,
                status="approved",
                max_attempts=5,
                expires_at=at + timedelta(minutes=5),
                approved_at=at,
                message=sms_message,
                interaction=sms,
            )
        )
        customer.interactions += [call, chat, sms]
    return customer


def rows_of(customer: Customer) -> list:
    """Every row the customer's data lives in, as stored now."""
    ids = customer.interaction_ids
    return [
        *Interaction.objects.filter(pk__in=ids),
        *CallDetail.objects.filter(interaction_id__in=ids),
        *Message.objects.filter(interaction_id__in=ids),
        *InteractionEvent.objects.filter(pk__in=[event.pk for event in customer.events]),
        *OtpChallenge.objects.filter(pk__in=[challenge.pk for challenge in customer.otp_challenges]),
    ]


def dump(rows) -> str:
    """The rows' every stored value, as one searchable text."""
    return json.dumps([model_to_dict(row) | {"_pk": str(row.pk)} for row in rows], default=str, ensure_ascii=False)


def assert_redacted(text: str, phone: str) -> None:
    """No phone digit beyond the last four, no message text."""
    digits = re.sub(r"\D", "", phone)
    national = digits[2:]  # Mexican test numbers: country code 52
    assert digits not in text
    assert digits[:-4] not in text
    assert national[:-4] not in text
    for words in TEXTS:
        assert words not in text, words


def assert_untouched(text: str, phone: str) -> None:
    assert re.sub(r"\D", "", phone) in text
    assert "José Pérez" in text


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def policy(settings):
    """The retention policy of this test, to change in place."""
    settings.RETENTION_POLICY = copy.deepcopy(settings.RETENTION_POLICY)
    return settings.RETENTION_POLICY


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def audit_records(action: str):
    return list(AuditLog.objects.filter(action=action).order_by("id"))
