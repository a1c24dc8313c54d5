"""One grammar for the durations operators type (`--older-than 30d`, `--since 6h`): a positive whole number and a
unit, `s`, `m`, `h`, `d` or `w`. A bare number is seconds only where a command says so (`reconcile_sms --older-than
900`): elsewhere `30` could mean seconds or days, and a purge must not guess."""

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^([1-9]\d{0,8})([smhdw]?)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HELP = "a positive number and a unit: 90s, 15m, 6h, 30d or 2w"


class InvalidDuration(ValueError):
    pass


def duration_parse(text: str, *, bare_seconds: bool = False) -> timedelta:
    """`90s`, `15m`, `6h`, `30d`, `2w` (and `900` with `bare_seconds`) → a timedelta; InvalidDuration for anything
    else, zero included."""
    match = _DURATION_RE.match(text.strip().lower())
    if not match or not (match.group(2) or bare_seconds):
        raise InvalidDuration(f"Unreadable duration {text!r}: use {DURATION_HELP}.")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"])
