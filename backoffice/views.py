"""The dashboard page of the admin: charts drawn on the server and the items that need attention."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from contactcenter.common.roles import is_auditor, is_supervisor
from interactions.models import Channel

from . import charts
from .selectors import dashboard_data

DASHBOARD_CACHE_KEY = "backoffice:dashboard:14d"
DASHBOARD_CACHE_SECONDS = 60


@staff_member_required
def dashboard_view(request):
    """Supervisors and auditors only: the numbers cover every interaction, not one agent's."""
    from django.contrib import admin

    if not (is_supervisor(request.user) or is_auditor(request.user)):
        raise PermissionDenied
    # A minute-old picture is fine for supervisors and keeps the grouped queries off a busy database.
    data = cache.get_or_set(DASHBOARD_CACHE_KEY, lambda: dashboard_data(days=14), DASHBOARD_CACHE_SECONDS)
    labels = [day.strftime("%m-%d") for day in data.days]
    funnel_labels = {
        "queued": _("Queued"),
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "failed": _("Failed or undelivered"),
    }
    channel_names = dict(Channel.choices)
    series = {
        str(channel_names.get(ch, ch)): data.per_channel_per_day.get(ch, [0] * len(labels)) for ch in Channel.values
    }
    rates = [(100.0 * approved / total) if total else None for _day, approved, total in data.otp_per_day]
    approval = (100.0 * data.otp_approved / data.otp_total) if data.otp_total else None
    attention = [
        {
            "label": _("Failed webhook events"),
            "count": data.failed_events,
            "url": reverse("admin:webhooks_interactionevent_changelist") + "?" + urlencode({"status__exact": "failed"}),
        },
        {
            "label": _("Messages stuck in queued or sending for more than 15 minutes"),
            "count": data.stuck_messages,
            "url": reverse("admin:interactions_message_changelist") + "?" + urlencode({"status__in": "queued,sending"}),
        },
        {
            "label": _("OTP challenges whose SMS failed"),
            "count": data.failed_otp_deliveries,
            "url": reverse("admin:otp_otpchallenge_changelist") + "?" + urlencode({"status__exact": "failed"}),
        },
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Dashboard"),
        "interactions_chart": charts.stacked_bars(
            labels=labels, series=series, title=_("Interactions per channel per day")
        ),
        "funnel_chart": charts.horizontal_bars(
            items=[(funnel_labels[step], count) for step, count in data.sms_funnel],
            title=_("SMS delivery funnel (14 days)"),
        ),
        "otp_chart": charts.line(labels=labels, values=rates, title=_("OTP approval rate per day")),
        "webhook_chart": charts.stacked_bars(
            labels=labels,
            series={_("failed"): [n for _day, n in data.webhook_failures_per_day]},
            title=_("Webhook events that failed, per day"),
            height=180,
        ),
        "otp_approval": approval,
        "otp_total": data.otp_total,
        "attention": attention,
    }
    return TemplateResponse(request, "admin/backoffice/dashboard.html", context)
