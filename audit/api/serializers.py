from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contactcenter.common.masking import phones_mask

from ..models import AuditLog


@extend_schema_field({"type": "object", "additionalProperties": True})
class MaskedDataField(serializers.JSONField):
    """What the services wrote holds masked numbers only; free text typed by people (a reason) may quote one: every
    phone number in it is masked on the way out, whoever reads it (contactcenter.common.masking)."""

    def to_representation(self, value):
        return phones_mask(value)


class AuditLogSerializer(serializers.ModelSerializer):
    data = MaskedDataField(  # type: ignore[assignment]  # a field named like Serializer.data
        read_only=True, help_text="What changed; never a secret or an unmasked phone."
    )

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "actor_type",
            "actor_id",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "data",
            "ip_address",
            "request_id",
        ]
        read_only_fields = fields
