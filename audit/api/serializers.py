from rest_framework import serializers

from ..models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    data = serializers.JSONField(read_only=True, help_text="What changed; never a secret or an unmasked phone.")

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
