"""The services as the voice agent's tools call them, and the daily verified-to-sent ratio."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.common.actors import Actor
from contactcenter.common.domain import DomainError
from contactcenter.common.errors import http_status_for
from interactions.models import Interaction
from otp.api.views import otp_verify_answer
from otp.selectors import otp_daily_conversion
from otp.services import otp_request, otp_verify

from .conftest import queued_code

pytestmark = pytest.mark.django_db
TOOL = Actor.provider("elevenlabs")


def test_a_voice_call_can_request_and_verify_a_code_bound_to_its_conversation():
    call = Interaction.objects.create(
        channel="call", direction="inbound", provider="elevenlabs", customer_phone="+5215512345678"
    )
    result = otp_request(
        phone=call.customer_phone, purpose="identity", actor=TOOL, interaction=call, conversation_id="conv_123"
    )
    challenge = result.challenge
    assert challenge.interaction == call and challenge.conversation_id == "conv_123"
    assert challenge.message.interaction.channel == "sms"  # the SMS has its own interaction; the call keeps its own
    code = queued_code(challenge.pk)

    with pytest.raises(DomainError) as other_conversation:
        otp_verify(code=code, actor=TOOL, phone=call.customer_phone, purpose="identity", conversation_id="conv_999")
    assert http_status_for(other_conversation.value) == 404
    verified = otp_verify(
        code=code, actor=TOOL, phone=call.customer_phone, purpose="identity", conversation_id="conv_123"
    )
    assert verified.verified and otp_verify_answer(verified)[1] == {"status": "approved", "verified": True}
    call.refresh_from_db()
    assert call.verified_at is not None and call.verified_by_challenge_id == challenge.pk


def test_daily_conversion_counts_sent_and_approved_per_day():
    today = timezone.now().date()
    approved = otp_request(phone="+5215512340001", purpose="login", actor=TOOL).challenge
    otp_verify(challenge_id=approved.pk, code=queued_code(approved.pk), actor=TOOL)
    otp_request(phone="+5215512340002", purpose="login", actor=TOOL)

    assert otp_daily_conversion(start=today - timedelta(days=1), end=today) == [
        {"day": today, "sent": 2, "approved": 1, "ratio": 0.5}
    ]
