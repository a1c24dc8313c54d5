"""What redaction writes: masked numbers, the marker for text, JSON that keeps its structure and technical values."""

import pytest

from retention.policy import policy_problems
from retention.redaction import REDACTED, json_redact, phone_redact, phones_mask


@pytest.mark.parametrize(
    ("stored", "masked"),
    [
        ("+5215512345678", "+52*******5678"),
        ("whatsapp:+5215512345678", "+52*******5678"),
        ("5215512345678@s.whatsapp.net", "+52*******5678"),
        ("+52*******5678", "+52*******5678"),
        ("", ""),
    ],
)
def test_phone_redact_keeps_country_code_and_last_four(stored, masked):
    assert phone_redact(stored) == masked


def test_phones_in_free_text_are_masked_in_every_spelling():
    text = "To +5215512345678, to 5215512345678, to %2B5215512345678 and to +52 1 55 1234 5678."
    masked = phones_mask(text)
    assert "1234" not in masked.replace("5678", "") and "55123" not in masked
    assert masked.count("+52*******5678") == 4


def test_json_keeps_structure_ids_statuses_and_times_and_drops_the_rest():
    payload = {
        "eventName": "message.incoming",
        "ApiVersion": "2010-04-01",
        "request_id": "12345678-aaaa-4bbb-8ccc-000000000000",
        "event_timestamp": 1785000260,
        "data": {"body": "Hola", "from": "5215512345678", "name": "José", "amount": 12, "account": 123456789012},
        "transcript": [{"role": "user", "message": "Soy José", "time_in_call_secs": 4, "interrupted": False}],
        "conversation_id": "conv_whatsapp:+5215512345678",
    }
    redacted = json_redact(payload)
    assert redacted == {
        "eventName": "message.incoming",
        "ApiVersion": "2010-04-01",
        "request_id": "12345678-aaaa-4bbb-8ccc-000000000000",
        "event_timestamp": 1785000260,
        "data": {
            "body": REDACTED,
            "from": "+52*******5678",
            "name": REDACTED,
            "amount": 12,
            "account": "+1*******9012",
        },
        "transcript": [{"role": "user", "message": REDACTED, "time_in_call_secs": 4, "interrupted": False}],
        "conversation_id": "conv_whatsapp:+52*******5678",
    }
    assert json_redact(redacted) == redacted  # idempotent


def test_policy_problems_name_what_is_wrong():
    assert policy_problems({"call": {"recordings": {"redact_after_days": 90}}}) == []
    problems = policy_problems(
        {
            "fax": {},
            "call": {"recordings": {"delete_after_days": 5}, "transcripts": {"redact_after_days": 0}},
            "sms": {"interactions": {"delete_after_days": 4000}},
            "all": {
                "raw_events": {"redact_after_days": 30, "delete_after_days": 10},
                "audit_records": {"delete_after_days": 3650},
            },
        }
    )
    assert problems == [
        "unknown channel 'fax'",
        "call.recordings has no 'delete_after_days'",
        "call.transcripts.redact_after_days must be a whole number of days >= 1 or None (never)",
        "all.raw_events: delete_after_days must not be shorter than redact_after_days",
        "all.audit_records.delete_after_days must be the longest period of the policy",
    ]


def test_a_bad_policy_stops_the_system_check(settings):
    from retention.checks import retention_policy_check

    settings.RETENTION_POLICY = {"call": {"recordings": {"redact_after_days": -1}}}
    assert [error.id for error in retention_policy_check()] == ["retention.E001"]
