from datetime import date, timedelta

from django.utils import timezone
from rest_framework import serializers

from interactions.models import Channel

MAX_DAYS = 366
# Days a window may start or end on: the day after the last and a week before the first must exist too (a window's
# end is the next midnight, its default start 6 days before its end), whatever the time zone.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


class _DayField(serializers.DateField):
    default_error_messages = {
        "out_of_range": f"Give a day between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.",
    }

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            self.fail("out_of_range")
        return day


class MetricsQuerySerializer(serializers.Serializer):
    date_from = _DayField(required=False, help_text="First day (included). Default: 6 days before date_to.")
    date_to = _DayField(required=False, help_text="Last day (included), in TIME_ZONE. Default: today.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, help_text="Only this channel.")

    def validate(self, attrs):
        date_to = attrs.get("date_to") or timezone.localdate()
        date_from = attrs.get("date_from") or date_to - timedelta(days=6)
        if date_from > date_to:
            raise serializers.ValidationError({"date_from": ["date_from must not be after date_to."]})
        if (date_to - date_from).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"date_from": [f"The range may span at most {MAX_DAYS} days."]})
        return {"date_from": date_from, "date_to": date_to, "channel": attrs.get("channel")}


class ChannelStatusCountSerializer(serializers.Serializer):
    channel = serializers.CharField()
    status = serializers.CharField()
    count = serializers.IntegerField()


class InteractionCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_channel = serializers.DictField(child=serializers.IntegerField())
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_channel_and_status = ChannelStatusCountSerializer(many=True)


class CallMetricsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Calls with a duration.")
    avg_duration_seconds = serializers.FloatField(allow_null=True)
    p90_duration_seconds = serializers.FloatField(allow_null=True)


class ErrorCodeCountSerializer(serializers.Serializer):
    error_code = serializers.CharField()
    count = serializers.IntegerField()


class MessageMetricsSerializer(serializers.Serializer):
    channel = serializers.CharField()
    outbound = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    median_seconds_to_delivered = serializers.FloatField(allow_null=True)
    failures_by_error_code = ErrorCodeCountSerializer(many=True)


class OtpMetricsSerializer(serializers.Serializer):
    issued = serializers.IntegerField()
    approved = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    approval_rate = serializers.FloatField(allow_null=True)
    abandonment_rate = serializers.FloatField(allow_null=True)
    by_status = serializers.DictField(child=serializers.IntegerField())


class WebhookMetricsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField(allow_null=True)


class MetricsSummarySerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    channel = serializers.CharField(allow_null=True)
    interactions = InteractionCountsSerializer()
    calls = CallMetricsSerializer(allow_null=True, help_text="Null when `channel` is not call.")
    messages = MessageMetricsSerializer(allow_null=True, help_text="SMS, or WhatsApp with channel=whatsapp.")
    otp = OtpMetricsSerializer(allow_null=True, help_text="Null when `channel` is call or whatsapp.")
    webhooks = WebhookMetricsSerializer()


class MetricsDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    interactions = serializers.IntegerField()
    calls_avg_duration_seconds = serializers.FloatField(allow_null=True)
    sms_sent = serializers.IntegerField()
    sms_delivered = serializers.IntegerField()
    sms_failed = serializers.IntegerField()
    sms_delivery_rate = serializers.FloatField(allow_null=True)
    otp_sent = serializers.IntegerField()
    otp_verified = serializers.IntegerField()
    otp_verified_ratio = serializers.FloatField(allow_null=True)
    webhook_events = serializers.IntegerField()
    webhook_failed = serializers.IntegerField()
    webhook_failure_rate = serializers.FloatField(allow_null=True)


class MetricsDailySerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    channel = serializers.CharField(allow_null=True)
    days = MetricsDaySerializer(many=True)
