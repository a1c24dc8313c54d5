"""Query filters shared by the API's lists.

Every datetime a client gives is turned into UTC before it reaches a query: PostgreSQL refuses a UTC offset beyond
±15:59 (a 500), and Python cannot hold the UTC form of `9999-12-31T23:59:59-01:00` or `0001-01-01T00:00:00+01:00`.
Such a value is a 400 naming the field; any other is the instant it names."""

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

# The widest offsets time zones use (UTC-12:00 to UTC+14:00).
MAX_UTC_OFFSET = timedelta(hours=14)


def datetime_to_utc(value: datetime) -> datetime:
    """`value` (naive: in the current time zone) as an aware datetime in UTC. ValueError for an offset no time zone
    has, or an instant outside what a datetime can hold once in UTC."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValueError("The UTC offset must be between -14:00 and +14:00.")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("The time is out of range.") from exc


class UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return datetime_to_utc(value)
        except ValueError as exc:
            raise forms.ValidationError(f"Enter a valid ISO 8601 time. {exc}", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 datetime filter whose value is normalized to UTC; a 400 naming the field when it cannot be."""

    field_class = UtcIsoDateTimeField
