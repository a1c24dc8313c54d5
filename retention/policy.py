"""The retention policy, read from `settings.RETENTION_POLICY`: which kind of data, on which channel, is redacted or
deleted after how many days. See docs/retention.md for the defaults and what each kind covers."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

CHANNELS = ("call", "whatsapp", "sms")
# Kinds of data not tied to one channel live under the pseudo-channel "all".
ALL = "all"
REDACT = "redact"
DELETE = "delete"

# Which actions each kind of data supports, per channel.
KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    "call": {
        "phone_numbers": (REDACT,),
        "transcripts": (REDACT,),
        "recordings": (REDACT,),
        "interactions": (DELETE,),
    },
    "whatsapp": {"phone_numbers": (REDACT,), "message_bodies": (REDACT,), "interactions": (DELETE,)},
    "sms": {"phone_numbers": (REDACT,), "message_bodies": (REDACT,), "interactions": (DELETE,)},
    ALL: {"raw_events": (REDACT, DELETE), "otp_challenges": (REDACT, DELETE), "audit_records": (DELETE,)},
}


@dataclass(frozen=True)
class Rule:
    """One line of the policy: `kind` data of `channel` is redacted (or deleted) once older than `after_days`."""

    channel: str
    kind: str
    action: str
    after_days: int

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.after_days)

    def as_dict(self) -> dict:
        return {"channel": self.channel, "kind": self.kind, "action": self.action, "after_days": self.after_days}


def policy_problems(policy: dict) -> list[str]:
    """What is wrong with a policy dict (unknown channel or kind, bad day counts, audit records not kept longest)."""
    problems: list[str] = []
    longest_other = 0
    for channel, kinds in policy.items():
        if channel not in KINDS:
            problems.append(f"unknown channel {channel!r}")
            continue
        for kind, actions in kinds.items():
            if kind not in KINDS[channel]:
                problems.append(f"unknown kind {channel}.{kind}")
                continue
            for key, days in actions.items():
                action = key.removesuffix("_after_days")
                if action not in KINDS[channel][kind] or not key.endswith("_after_days"):
                    problems.append(f"{channel}.{kind} has no {key!r}")
                elif days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
                    problems.append(f"{channel}.{kind}.{key} must be a whole number of days >= 1 or None (never)")
                elif days is not None and kind != "audit_records":
                    longest_other = max(longest_other, days)
            redact, delete = actions.get("redact_after_days"), actions.get("delete_after_days")
            if isinstance(redact, int) and isinstance(delete, int) and delete < redact:
                problems.append(f"{channel}.{kind}: delete_after_days must not be shorter than redact_after_days")
    audit_days = policy.get(ALL, {}).get("audit_records", {}).get("delete_after_days")
    if isinstance(audit_days, int) and audit_days < longest_other:
        problems.append("all.audit_records.delete_after_days must be the longest period of the policy")
    return problems


def retention_rules() -> list[Rule]:
    """The policy in the order a run applies it: deletions first (less left to redact), then redactions."""
    policy = settings.RETENTION_POLICY
    rules = [
        Rule(channel=channel, kind=kind, action=action, after_days=days)
        for action in (DELETE, REDACT)
        for channel in (*CHANNELS, ALL)
        for kind in KINDS[channel]
        if action in KINDS[channel][kind]
        and (days := policy.get(channel, {}).get(kind, {}).get(f"{action}_after_days")) is not None
    ]
    return rules
