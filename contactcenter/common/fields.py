"""Serializer fields that take exactly the JSON type the OpenAPI document gives them.

DRF reads `7` as the string "7" and "7" as the integer 7. The schema says `string` or `integer`, a client following it
sends that, and a value of another type is a mistake best told at once (a code sent as a number has lost its leading
zeros): a 400 naming the field, as for any other invalid value."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses anything but a JSON string (`"invalid"`: "Not a valid string.")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses anything but a JSON integer: no strings, booleans or fractions."""

    def to_internal_value(self, data):
        if (
            isinstance(data, bool)
            or not isinstance(data, int | float)
            or (isinstance(data, float) and not data.is_integer())
        ):
            self.fail("invalid")
        return super().to_internal_value(data)
