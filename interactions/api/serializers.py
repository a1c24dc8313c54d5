"""Input and output serializers of the interactions API. Phones go through MaskedPhoneField, free-form text and JSON
(bodies, summaries, transcripts with their tool calls) through MaskedTextField / MaskedJSONField: the phone numbers in
them are masked for callers who may not see PII, always."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contactcenter.common.fields import StrictIntegerField
from contactcenter.common.openapi import schema_keywords
from contactcenter.common.serializers import MaskedPhoneField, MaskedTextField, pii_masked_in_context

from ..models import CallDetail, Interaction, InteractionStatus, Message

SENSITIVE_BODY_PLACEHOLDER = "[hidden: sensitive content]"


class AgentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class InteractionListSerializer(serializers.ModelSerializer):
    customer_phone = MaskedPhoneField()
    assigned_agent = AgentSerializer(read_only=True, allow_null=True)
    subject = MaskedTextField()
    redacted = serializers.SerializerMethodField()

    class Meta:
        model = Interaction
        fields = [
            "id",
            "channel",
            "direction",
            "status",
            "customer_phone",
            "provider",
            "external_id",
            "assigned_agent",
            "subject",
            "started_at",
            "ended_at",
            "last_activity_at",
            "verified_at",
            "redacted",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_redacted(self, obj) -> bool:
        return obj.redacted_at is not None


class MessageSerializer(serializers.ModelSerializer):
    to_phone = MaskedPhoneField()
    from_phone = MaskedPhoneField()
    body = serializers.SerializerMethodField(
        help_text=f"The text, or `{SENSITIVE_BODY_PLACEHOLDER}` for sensitive messages (OTP codes). Phone numbers "
        "in it are masked unless the caller may see PII."
    )
    error_message = MaskedTextField()
    media_url = serializers.CharField(read_only=True, help_text="URL of the attached media (WhatsApp), or empty.")

    class Meta:
        model = Message
        fields = [
            "id",
            "channel",
            "direction",
            "status",
            "provider_status",
            "to_phone",
            "from_phone",
            "body",
            "is_sensitive",
            "media_url",
            "media_type",
            "provider",
            "provider_message_id",
            "purpose",
            "error_code",
            "error_message",
            "send_attempts",
            "queued_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "received_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_body(self, obj) -> str:
        return SENSITIVE_BODY_PLACEHOLDER if obj.is_sensitive else pii_masked_in_context(obj.body, self.context)


class CallDetailSerializer(serializers.ModelSerializer):
    customer_number = MaskedPhoneField()
    # Provider identifiers that may carry the caller's number (a SIP call id is often `+52…@carrier`).
    call_sid = MaskedTextField()
    conversation_id = MaskedTextField()
    recording_url = serializers.SerializerMethodField()
    transcript = serializers.SerializerMethodField()
    end_reason = MaskedTextField()
    failure_reason = MaskedTextField()
    summary_title = MaskedTextField()
    summary = MaskedTextField()

    class Meta:
        model = CallDetail
        fields = [
            "conversation_id",
            "agent_id",
            "agent_name",
            "call_sid",
            "customer_number",
            "agent_number",
            "conversation_status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "end_reason",
            "failure_reason",
            "call_successful",
            "summary_title",
            "summary",
            "transcript",
            "recording_url",
            "has_audio",
        ]
        read_only_fields = fields

    def get_recording_url(self, obj) -> str | None:
        """The stored recording's URL when we keep the audio, else the provider's URL, else null."""
        if obj.recording:
            request = self.context.get("request")
            url = obj.recording.url
            return request.build_absolute_uri(url) if request is not None else url
        return obj.recording_url or None

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "The conversation turns as the voice provider sent them (role, message, time in call, "
            "tool calls and results…), phone numbers masked unless the caller may see PII.",
        }
    )
    def get_transcript(self, obj):
        return pii_masked_in_context(obj.transcript, self.context) if isinstance(obj.transcript, list) else []


class EventSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_type = serializers.DictField(child=serializers.IntegerField())


class InteractionDetailSerializer(InteractionListSerializer):
    summary = MaskedTextField()
    messages = MessageSerializer(many=True, read_only=True)
    call_detail = CallDetailSerializer(read_only=True, allow_null=True, help_text="Voice calls only; null otherwise.")
    event_summary = serializers.SerializerMethodField()

    class Meta(InteractionListSerializer.Meta):
        fields = [*InteractionListSerializer.Meta.fields, "summary", "messages", "call_detail", "event_summary"]
        read_only_fields = fields

    @extend_schema_field(EventSummarySerializer)
    def get_event_summary(self, obj):
        return self.context["event_summary"]


@schema_keywords(anyOf=[{"required": ["assigned_agent"]}, {"required": ["status"]}])
class InteractionPatchSerializer(serializers.Serializer):
    """Assign an agent (a user id, or null to unassign) and/or change the status. Give at least one."""

    assigned_agent = StrictIntegerField(
        required=False, allow_null=True, min_value=1, help_text="Id of the agent to assign, or null to unassign."
    )
    status = serializers.ChoiceField(
        choices=InteractionStatus.choices,
        required=False,
        help_text="open → in_progress, completed, failed, abandoned; in_progress → open, completed, failed, abandoned; "
        "completed, failed and abandoned are final.",
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give `assigned_agent`, `status`, or both.", code="empty_patch")
        return attrs
