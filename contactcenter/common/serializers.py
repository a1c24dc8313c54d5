"""What decides whether phone numbers are shown masked or in clear: `MaskedPhoneField` for a number, `MaskedTextField`
and `pii_masked_in_context` for free-form data that may carry numbers (a message body, a summary, a transcript with
its tool calls). One decision per response (`pii_visible_in_context`), one masking function
(`contactcenter.common.masking.phones_mask`)."""

from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contactcenter.common.masking import phones_mask
from contactcenter.common.pii import phone_mask

# Set by a view to decide once for a whole response; otherwise computed from the request on first use.
PII_VISIBLE_CONTEXT_KEY = "pii_visible"


def pii_visible_in_context(context: Mapping[str, Any]) -> bool:
    """Whether phones are shown in clear for this serializer context (decided once, then kept in the context)."""
    if PII_VISIBLE_CONTEXT_KEY not in context:
        request = context.get("request")
        if request is None:
            visible = not settings.PII_MASKING_ENABLED
        else:
            from contactcenter.common.permissions import caller_may_see_pii

            visible = caller_may_see_pii(request)
        cast(dict, context)[PII_VISIBLE_CONTEXT_KEY] = visible  # a serializer's context is a dict (a Mapping to DRF)
    return bool(context[PII_VISIBLE_CONTEXT_KEY])


@extend_schema_field(
    {
        "type": "string",
        "example": "+52*******4321",
        "description": "E.164 number, masked to the country code and last four digits unless masking is off or the "
        "caller may see PII (`interactions.view_pii`).",
    }
)
class MaskedPhoneField(serializers.ReadOnlyField):
    """Read-only phone number: masked (`+52*******4321`) unless PII_MASKING_ENABLED is off or the caller holds
    `interactions.view_pii` (see `contactcenter.common.permissions.caller_may_see_pii`). Without a request in the context the
    number is masked whenever masking is on: the safe default."""

    def to_representation(self, value):
        if not value:
            return ""
        if pii_visible_in_context(self.root.context):
            return value
        return phone_mask(value)


def pii_masked_in_context(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` (any JSON value or text) as this serializer context may see it: in clear when it may see PII, else with
    every phone number in it masked."""
    if value in (None, "") or pii_visible_in_context(context):
        return value
    return phones_mask(value)


class MaskedTextField(serializers.CharField):
    """Read-only free text (a message body, a summary) with the phone numbers in it masked unless the caller may see
    PII, as MaskedPhoneField decides."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        kwargs.setdefault(
            "help_text", "Free text; the phone numbers in it are masked unless the caller may see PII (`view_pii`)."
        )
        super().__init__(**kwargs)

    def to_representation(self, value):
        return pii_masked_in_context(super().to_representation(value), self.root.context)
