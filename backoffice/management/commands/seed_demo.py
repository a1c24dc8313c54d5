"""Realistic demo data across channels, fast enough for a million interactions (benchmarks, demos, screenshots)."""

import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils import timezone

from audit.actions import AuditAction
from audit.models import AuditLog
from audit.services import audit_records_chain
from contactcenter.common.pii import phone_hash
from contactcenter.common.roles import Role
from interactions.models import CallDetail, Interaction, Message
from otp.models import OtpChallenge
from webhooks.models import InteractionEvent

CHANNEL_WEIGHTS = {"call": 30, "whatsapp": 35, "sms": 35}
STATUS_WEIGHTS = {"completed": 70, "open": 8, "in_progress": 7, "failed": 8, "abandoned": 7}
SMS_STATUS_WEIGHTS = {"delivered": 84, "sent": 5, "undelivered": 4, "failed": 3, "queued": 2, "sending": 2}
COUNTRY_PREFIXES = ["+52155", "+52133", "+54911", "+1415", "+1212", "+34612", "+57300"]
PURPOSES = ["login", "transaction", "password_reset", "identity"]
CALL_TURNS = [
    ("agent", "Good morning, you are speaking with the bank's virtual assistant. How can I help you?"),
    ("user", "Hi, I want to check why my card was declined this morning."),
    ("agent", "I can help with that. First I need to verify your identity: I am sending you a code by SMS."),
    ("user", "Okay, I got it."),
    ("agent", "Thank you, you are verified. I can see a declined purchase at 9:12 for an online store."),
    ("user", "Yes, that was me. Can you unblock it?"),
    ("agent", "Done: the card is active again for online purchases. Anything else?"),
    ("user", "No, that is all, thank you."),
]
WHATSAPP_LINES = [
    ("inbound", "Hola, quiero saber el saldo de mi cuenta"),
    ("outbound", "¡Hola! Con gusto te ayudo. Para continuar te enviaremos un código de verificación."),
    ("inbound", "Listo, ya lo ingresé"),
    ("outbound", "Gracias. Tu saldo disponible es de $12,430.55 MXN."),
    ("inbound", "¿Y cuándo es mi fecha de corte?"),
    ("outbound", "Tu fecha de corte es el día 15 de cada mes."),
]
END_REASONS = ["Client disconnected", "Agent ended the call", "Call transferred to a human", "Max duration reached"]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Table:
    """Writes rows of one model: COPY on PostgreSQL (fast), bulk_create elsewhere. Rows are dicts by attname."""

    def __init__(self, model: type[models.Model]):
        self.model = model
        # Serial primary keys are left to the database.
        self.fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        self.rows: list[dict] = []
        self.written = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if not self.rows:
            return
        if connection.vendor == "postgresql":
            self._copy()
        else:
            self._bulk_create()
        self.written += len(self.rows)
        self.rows = []

    def _value(self, field, row):
        if field.attname in row:
            value = row[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = row.get("created_at") or row.get("received_at") or timezone.now()
        else:
            value = field.get_default()
        return value

    def _copy(self) -> None:
        from psycopg.types.json import Jsonb

        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        table = connection.ops.quote_name(self.model._meta.db_table)
        json_fields = {f.attname for f in self.fields if isinstance(f, models.JSONField)}
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in self.rows:
                copy.write_row(
                    [
                        Jsonb(self._value(f, row)) if f.attname in json_fields else self._value(f, row)
                        for f in self.fields
                    ]
                )

    def _bulk_create(self) -> None:
        auto = [f for f in self.fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        saved = [(f, f.auto_now, f.auto_now_add) for f in auto]
        try:
            for f in auto:
                f.auto_now = f.auto_now_add = False
            objs = [self.model(**{f.attname: self._value(f, row) for f in self.fields}) for row in self.rows]
            self.model.objects.bulk_create(objs, batch_size=1000)
        finally:
            for f, auto_now, auto_now_add in saved:
                f.auto_now, f.auto_now_add = auto_now, auto_now_add


class Command(BaseCommand):
    help = (
        "Create realistic demo data: calls with transcripts and webhook events, WhatsApp conversations, OTP SMS with "
        "delivery statuses and their challenges, assignments to demo agents and audit records. Writes with COPY on "
        "PostgreSQL in batches (a million interactions take a few minutes). Adds to what is there."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interactions", type=int, required=True, help="How many interactions to create.")
        parser.add_argument("--days", type=int, default=90, help="Spread them over the last DAYS days (default 90).")
        parser.add_argument("--agents", type=int, default=8, help="Demo agents to assign interactions to (default 8).")
        parser.add_argument("--batch", type=int, default=5000, help="Interactions per batch (default 5000).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable data.")

    def handle(self, *args, interactions, days, agents, batch, seed, **options):
        if interactions < 0 or days < 1 or batch < 1:
            raise CommandError("--interactions must be >= 0, --days and --batch >= 1.")
        rng = random.Random(seed)
        started = time.monotonic()
        agent_ids = self._demo_users(agents)
        phones = [f"{rng.choice(COUNTRY_PREFIXES)}{rng.randrange(10**6, 10**7)}" for _ in range(5000)]
        phones = [(p, phone_hash(p)) for p in phones]
        tables = {
            model: _Table(model)
            for model in (Interaction, CallDetail, InteractionEvent, Message, OtpChallenge, AuditLog)
        }
        now = timezone.now()
        done = 0
        while done < interactions:
            size = min(batch, interactions - done)
            with transaction.atomic():
                for _ in range(size):
                    self._one(rng, tables, phones, agent_ids, now, days)
                # Audit records take the next places of the hash chain (oldest first) before they are written.
                tables[AuditLog].rows.sort(key=lambda row: row["created_at"])
                audit_records_chain(rows=tables[AuditLog].rows)
                # Parents before children (foreign keys are checked at each COPY).
                for table in tables.values():
                    table.flush()
            done += size
            if interactions >= 50_000 and done % (batch * 20) == 0:
                self.stdout.write(f"  {done}/{interactions} interactions")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in tables:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{t.written} {m._meta.verbose_name_plural}" for m, t in tables.items())
        self.stdout.write(self.style.SUCCESS(f"seed_demo: created {summary} in {elapsed:.1f}s"))

    def _demo_users(self, count: int) -> list[int]:
        """Demo agents (no usable password: they exist to be assigned), in the `agent` group."""
        user_model = get_user_model()
        for name in (Role.AGENT, Role.SUPERVISOR, Role.AUDITOR):
            Group.objects.get_or_create(name=name)
        agent_group = Group.objects.get(name=Role.AGENT)
        ids = []
        for i in range(1, count + 1):
            user, created = user_model.objects.get_or_create(
                username=f"demo.agent{i}", defaults={"is_staff": True, "first_name": "Agent", "last_name": str(i)}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(agent_group)
            ids.append(user.pk)
        return ids

    def _one(self, rng, tables, phones, agent_ids, now, days) -> None:
        channel = _weighted(rng, CHANNEL_WEIGHTS)
        status = _weighted(rng, STATUS_WEIGHTS)
        phone, hashed = rng.choice(phones)
        created = now - timedelta(seconds=rng.randrange(days * 86400))
        agent = rng.choice(agent_ids) if agent_ids and rng.random() < 0.6 else None
        interaction_id = uuid.uuid4()
        provider = {"call": settings.ELEVENLABS_PROVIDER_NAME, "whatsapp": "builderbot", "sms": "twilio"}[channel]
        direction = "outbound" if channel == "sms" else ("inbound" if rng.random() < 0.9 else "outbound")
        length = timedelta(seconds=rng.randrange(30, 900))
        ended = created + length if status in ("completed", "failed", "abandoned") else None
        conversation_id = f"conv_{interaction_id.hex[:24]}" if channel == "call" else None
        tables[Interaction].add(
            {
                "id": interaction_id,
                "channel": channel,
                "direction": direction,
                "status": status,
                "customer_phone": phone,
                "customer_phone_hash": hashed,
                "provider": provider,
                "external_id": conversation_id,
                "assigned_agent_id": agent,
                "subject": {"call": "Card declined", "whatsapp": "Balance inquiry", "sms": "Verification"}[channel],
                "started_at": created,
                "ended_at": ended,
                "last_activity_at": ended or created + timedelta(seconds=rng.randrange(5, 300)),
                "created_at": created,
                "updated_at": ended or created,
            }
        )
        if agent is not None:
            tables[AuditLog].add(
                {
                    "created_at": created + timedelta(seconds=5),
                    "actor_type": "user",
                    "actor_id": "seed",
                    "actor_label": "demo.supervisor",
                    "action": AuditAction.INTERACTION_ASSIGNED.value,
                    "target_type": "interaction",
                    "target_id": str(interaction_id),
                    "data": {"from_agent": None, "to_agent": agent},
                }
            )
        if channel == "call":
            self._call(rng, tables, interaction_id, conversation_id, phone, created, length, status)
        elif channel == "whatsapp":
            self._whatsapp(rng, tables, interaction_id, phone, created)
        else:
            self._sms(rng, tables, interaction_id, phone, hashed, created)

    def _call(self, rng, tables, interaction_id, conversation_id, phone, created, length, status) -> None:
        turns = CALL_TURNS[: rng.randrange(4, len(CALL_TURNS) + 1)]
        seconds = int(length.total_seconds())
        tables[CallDetail].add(
            {
                "interaction_id": interaction_id,
                "conversation_id": conversation_id,
                "agent_id": "agent_demo_01",
                "agent_name": "Bank assistant",
                "call_sid": f"CA{uuid.uuid4().hex}",
                "phone_call_type": "twilio",
                "customer_number": phone,
                "agent_number": "+15005550006",
                "conversation_status": "done" if status != "open" else "in-progress",
                "started_at": created,
                "ended_at": created + length,
                "duration_seconds": seconds,
                "end_reason": rng.choice(END_REASONS),
                "call_successful": "success" if status == "completed" else "failure",
                "summary_title": "Declined card",
                "summary": "The customer asked about a declined purchase; verified by OTP; card reactivated.",
                "transcript": [
                    {"role": role, "message": text, "time_in_call_secs": i * max(seconds // len(turns), 1)}
                    for i, (role, text) in enumerate(turns)
                ],
                "analysis": {"call_successful": "success", "evaluation_criteria_results": {}},
                "has_audio": False,
                "cost": Decimal(rng.randrange(100, 2000)),
                "created_at": created,
                "updated_at": created + length,
            }
        )
        failed = rng.random() < 0.005
        tables[InteractionEvent].add(
            {
                "id": uuid.uuid4(),
                "provider": settings.ELEVENLABS_PROVIDER_NAME,
                "event_type": "post_call_transcription",
                "idempotency_key": f"seed:{conversation_id}:post_call_transcription",
                "status": "failed" if failed else "processed",
                "external_ref": conversation_id,
                "content_type": "application/json",
                "payload": {
                    "type": "post_call_transcription",
                    "data": {"conversation_id": conversation_id, "status": "done"},
                },
                "signature_valid": True,
                "error": "Interaction not found (demo failure)" if failed else "",
                "attempts": 1,
                "interaction_id": interaction_id,
                "received_at": created + length + timedelta(seconds=3),
                "processed_at": None if failed else created + length + timedelta(seconds=4),
            }
        )

    def _whatsapp(self, rng, tables, interaction_id, phone, created) -> None:
        at = created
        for direction, text in WHATSAPP_LINES[: rng.randrange(2, len(WHATSAPP_LINES) + 1)]:
            at = at + timedelta(seconds=rng.randrange(5, 120))
            inbound = direction == "inbound"
            tables[Message].add(
                {
                    "id": uuid.uuid4(),
                    "interaction_id": interaction_id,
                    "channel": "whatsapp",
                    "direction": direction,
                    "status": "received" if inbound else rng.choice(["delivered", "read", "read"]),
                    "to_phone": "" if inbound else phone,
                    "from_phone": phone if inbound else "",
                    "body": text,
                    "provider": "builderbot",
                    "provider_message_id": f"wamid.{uuid.uuid4().hex}",
                    "received_at": at if inbound else None,
                    "queued_at": None if inbound else at,
                    "sent_at": None if inbound else at,
                    "created_at": at,
                    "updated_at": at,
                }
            )

    def _sms(self, rng, tables, interaction_id, phone, hashed, created) -> None:
        status = _weighted(rng, SMS_STATUS_WEIGHTS)
        message_id = uuid.uuid4()
        failed = status in ("failed", "undelivered")
        tables[Message].add(
            {
                "id": message_id,
                "interaction_id": interaction_id,
                "channel": "sms",
                "direction": "outbound",
                "status": status,
                "provider_status": status,
                "to_phone": phone,
                "from_phone": "+15005550006",
                "body": "[one-time code removed after sending]",
                "provider": "twilio",
                "provider_message_id": None if status in ("queued", "sending") else f"SM{uuid.uuid4().hex}",
                "is_sensitive": True,
                "purpose": "otp",
                "error_code": rng.choice(["30003", "30005", "30006"]) if failed else "",
                "error_message": "Unreachable destination handset" if failed else "",
                "send_attempts": 1,
                "queued_at": created,
                "sent_at": created + timedelta(seconds=1) if status not in ("queued", "sending") else None,
                "delivered_at": created + timedelta(seconds=4) if status == "delivered" else None,
                "failed_at": created + timedelta(seconds=6) if failed else None,
                "status_changed_at": created + timedelta(seconds=4),
                "created_at": created,
                "updated_at": created + timedelta(seconds=4),
            }
        )
        if failed:
            otp_status = "failed"
        else:
            otp_status = rng.choices(["approved", "expired", "max_attempts"], weights=[80, 15, 5])[0]
        attempts = 5 if otp_status == "max_attempts" else rng.choice([0, 0, 0, 1])
        tables[OtpChallenge].add(
            {
                "id": uuid.uuid4(),
                "phone": phone,
                "phone_hash": hashed,
                "purpose": rng.choice(PURPOSES),
                "code_hash": uuid.uuid4().hex,
                "status": otp_status,
                "attempts": attempts,
                "max_attempts": 5,
                "expires_at": created + timedelta(minutes=5),
                "approved_at": created + timedelta(seconds=40) if otp_status == "approved" else None,
                "closed_at": created + timedelta(minutes=5),
                "language": "es",
                "message_id": message_id,
                "interaction_id": interaction_id,
                "requested_by": "demo",
                "created_at": created,
                "updated_at": created + timedelta(minutes=5),
            }
        )
