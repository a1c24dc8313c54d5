"""Input and output shapes of the OTP API (the contract's answers)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from contactcenter.common.fields import StrictCharField

from ..codes import CODE_LENGTH_MAX
from ..services import PURPOSE_RE


class OtpPurposeField(StrictCharField):
    """The purpose as given (no trimming: ` login` is not `login`); otp.services decides whether it is one."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, trim_whitespace=False, **kwargs)


class OtpPurposeFieldSchema(OpenApiSerializerFieldExtension):
    """What otp.services takes, said in the document: one of OTP_PURPOSES when the bank set that allow-list, else
    any slug."""

    target_class = OtpPurposeField

    def map_serializer_field(self, auto_schema, direction):
        if settings.OTP_PURPOSES:
            return {"type": "string", "enum": list(settings.OTP_PURPOSES)}
        return {"type": "string", "pattern": PURPOSE_RE.pattern, "maxLength": 32}


class OtpCreateInputSerializer(serializers.Serializer):
    phone = StrictCharField(max_length=32, help_text="The customer's number in E.164, e.g. +5215512345678.")
    purpose = OtpPurposeField(
        help_text="What the code is for, e.g. `login`: lowercase letters, digits, `_`, `-`, `.` (or one of "
        "OTP_PURPOSES when the bank set that allow-list).",
    )
    language = StrictCharField(
        max_length=8, required=False, allow_blank=True, help_text="Language of the SMS: `en` or `es`."
    )
    context = serializers.DictField(
        required=False,
        allow_null=True,
        allow_empty=False,
        help_text="Optional transaction the code is bound to (amount, payee…); the same object must be given at "
        "verify (same keys and JSON values).",
    )
    conversation_id = StrictCharField(max_length=128, required=False, allow_blank=True)


class OtpVerifyInputSerializer(serializers.Serializer):
    id = serializers.UUIDField(required=False, help_text="The challenge id (or give phone and purpose).")
    phone = StrictCharField(max_length=32, required=False)
    purpose = OtpPurposeField(required=False)
    code = StrictCharField(
        max_length=CODE_LENGTH_MAX * 3,
        trim_whitespace=True,
        help_text="The digits the customer received by SMS (OTP_CODE_LENGTH of them; spaces between groups are "
        "ignored). Anything else is a 400 that spends no attempt.",
    )
    context = serializers.DictField(required=False, allow_null=True, allow_empty=False)
    conversation_id = StrictCharField(max_length=128, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs.get("id") and not (attrs.get("phone") and attrs.get("purpose")):
            raise serializers.ValidationError(
                {"id": "Give the challenge id, or the phone and purpose."}, code="required"
            )
        return attrs


class OtpChallengeOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "approved", "expired", "max_attempts", "canceled", "failed"])
    purpose = serializers.CharField()
    expires_at = serializers.DateTimeField()
    attempts_remaining = serializers.IntegerField()
    delivery_status = serializers.ChoiceField(
        choices=["queued", "sent", "delivered", "failed", ""],
        help_text="The SMS carrying the code: queued, sent, delivered or failed.",
    )


class OtpVerifyApprovedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["approved"])
    verified = serializers.BooleanField()


class OtpVerifyWrongCodeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["pending"])
    verified = serializers.BooleanField()
    attempts_remaining = serializers.IntegerField()


class OtpVerifyClosedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["approved", "canceled", "failed", "expired", "max_attempts"])
    verified = serializers.BooleanField(required=False, help_text="Present (false) on 409.")
