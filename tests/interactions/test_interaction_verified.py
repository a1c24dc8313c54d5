""" "The customer of this interaction proved their number" has one writer, `interaction_verified_mark`: an approved OTP
challenge bound to an interaction and the voice agent's verification both go through it."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from interactions.models import Interaction
from interactions.services import interaction_verified_mark

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "interactions/services/verification.py"
FIELDS = {"verified_at", "verified_by_challenge_id"}


def _writes(path: Path) -> list[int]:
    """Lines that write the verification: `verified_at=`/`verified_by_challenge_id=` given to a call (an update, a
    create), or assigned as an attribute."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and any(keyword.arg in FIELDS for keyword in node.keywords):
            lines.append(node.lineno)
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [t.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr in FIELDS]
    return lines


def test_only_the_writer_writes_the_verification():
    production = [
        path
        for package in ("interactions", "otp", "webhooks", "voice", "retention", "backoffice")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]
    writers = {str(path.relative_to(ROOT)) for path in production if _writes(path)}
    assert writers == {str(WRITER.relative_to(ROOT))}


def _call():
    return Interaction.objects.create(channel="call", direction="inbound", provider="elevenlabs")


def test_the_writer_records_the_challenge_and_a_later_one_replaces_it():
    interaction = _call()
    first, second = "6f1c1a0e-8d1f-4c57-9d57-3d6c1f9a2b10", "7a2d2b1f-9e2a-4d68-8e68-4e7d2a0b3c21"
    at = timezone.now() - timedelta(minutes=1)

    assert interaction_verified_mark(interaction_id=interaction.pk, challenge_id=first, at=at) is True
    interaction.refresh_from_db()
    assert (interaction.verified_at, str(interaction.verified_by_challenge_id)) == (at, first)

    updated_at = interaction.updated_at
    assert interaction_verified_mark(interaction_id=interaction.pk, challenge_id=first, at=timezone.now()) is False
    interaction.refresh_from_db()
    assert (interaction.verified_at, interaction.updated_at) == (at, updated_at)  # the same challenge again: no write

    later = timezone.now()
    assert interaction_verified_mark(interaction_id=interaction.pk, challenge_id=second, at=later) is True
    interaction.refresh_from_db()
    assert (interaction.verified_at, str(interaction.verified_by_challenge_id)) == (later, second)
