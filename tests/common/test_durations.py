"""The one grammar of the durations operators type, through the commands that take them."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from contactcenter.common.durations import InvalidDuration, duration_parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("6H", timedelta(hours=6)),
        ("30d", timedelta(days=30)),
        (" 2w ", timedelta(weeks=2)),
    ],
)
def test_a_number_and_a_unit_is_a_duration(text, expected):
    assert duration_parse(text) == expected


@pytest.mark.parametrize("text", ["30", "0d", "-1d", "1.5h", "thirty days", "", "1y", "9999999999d"])
def test_anything_else_is_refused(text):
    with pytest.raises(InvalidDuration):
        duration_parse(text)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command",
    [("reconcile_sms", "--older-than"), ("purge_otp_challenges", "--older-than"), ("reconcile_calls", "--since")],
)
def test_every_command_reads_durations_alike(command):
    with pytest.raises(CommandError, match=r"Unreadable duration '15 minutes': use .*15m"):
        call_command(*command, "15 minutes")


def test_a_bare_number_is_seconds_only_where_a_command_says_so():
    assert duration_parse("900", bare_seconds=True) == timedelta(seconds=900)
    with pytest.raises(InvalidDuration):
        duration_parse("0", bare_seconds=True)
