"""The supervisors' back office for interactions, messages and calls.

The changelist is built for millions of rows: one bounded count query (CappedCountPaginator), filters whose choices
cost no query over the table, search by full phone number through the keyed-hash index or by external id, and the
related rows of a page read in the same query. The change page is read-only (changes go through actions that call
the services) and shows the interaction's timeline."""

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.actions import AuditAction
from audit.services import audit_log_record
from backoffice.filters import AgentFilter, CreatedFilter, ProviderFilter, known_providers
from backoffice.forms import AssignForm, ExportForm, RevealForm, StatusForm
from backoffice.paginator import CappedCountPaginator
from backoffice.selectors import interaction_timeline, message_body_for_display
from contactcenter.common.actors import request_actor
from contactcenter.common.context import request_client_ip
from contactcenter.common.csv_export import csv_rows_stream
from contactcenter.common.domain import DomainError
from contactcenter.common.masking import phones_mask
from contactcenter.common.pii import InvalidPhoneNumber, phone_lookup_hashes, phone_mask, phone_normalize
from contactcenter.common.roles import is_auditor, is_supervisor
from interactions.models import CallDetail, Channel, Direction, Interaction, Message, MessageStatus
from interactions.services import (
    interaction_pii_reveal,
    interaction_update,
    message_reconcile,
    message_resend,
)
from webhooks.models import EventStatus, InteractionEvent
from webhooks.services import webhook_event_replay

from .base import ReadOnlyAdmin, RoleScopedAdmin

logger = logging.getLogger(__name__)

# One request acts on at most this many rows (a selection "across all pages" of millions stays a bounded request).
MAX_ACTION_ROWS = 1000
RESENDABLE_STATUSES = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
RECONCILABLE_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT)
# The most rows one CSV export holds (setting EXPORT_MAX_ROWS): a bigger selection is cut, and the user is told.
EXPORT_MAX_ROWS_DEFAULT = 50_000
# Changelist parameters that say how a page is shown, not which rows are selected.
_NOT_FILTERS = frozenset({"p", "o", "all", "_changelist_filters"})
# Columns a list or an export never reads: they stay in the database.
_HEAVY_CALL_COLUMNS = (
    "metadata",
    "summary",
    "call_detail__transcript",
    "call_detail__analysis",
    "call_detail__metadata",
    "call_detail__summary",
)


class SupervisorActionsMixin:
    """Permission checks for the admin actions: `allowed_permissions = ("supervise",)` etc."""

    def has_supervise_permission(self, request):
        return is_supervisor(request.user) and not is_auditor(request.user)

    def has_export_permission(self, request):
        return self.has_view_permission(request)


def _messages_resend(modeladmin, request, message_ids) -> None:
    resend = message_resend
    done, refused = 0, 0
    for message_id in message_ids:
        try:
            resend(message_id=message_id, actor=request_actor(request))
            done += 1
        except DomainError as exc:
            refused += 1
            logger.info("resend refused", extra={"message_id": str(message_id), "reason": exc.code})
    modeladmin.message_user(
        request,
        _("%(done)d message(s) queued again, %(refused)d refused.") % {"done": done, "refused": refused},
        messages.SUCCESS if not refused else messages.WARNING,
    )


def _messages_reconcile(modeladmin, request, message_ids) -> None:
    reconcile = message_reconcile
    changed = 0
    for message_id in message_ids:
        try:
            changed += bool(reconcile(message_id=message_id))
        except DomainError:
            continue
        except Exception:  # a provider outage must not turn the page into a 500
            logger.exception("reconcile failed", extra={"message_id": str(message_id)})
    modeladmin.message_user(
        request,
        _("Asked the provider for %(total)d message(s); %(changed)d status(es) moved forward.")
        % {"total": len(message_ids), "changed": changed},
    )


@admin.register(Interaction)
class InteractionAdmin(SupervisorActionsMixin, RoleScopedAdmin):
    list_display = (
        "short_id",
        "channel",
        "status",
        "direction",
        "masked_phone",
        "assigned_agent",
        "started_at",
        "duration",
        "last_activity_at",
    )
    list_filter = ("channel", "status", "direction", ProviderFilter, AgentFilter, CreatedFilter)
    list_select_related = ("assigned_agent", "call_detail")
    list_per_page = 50
    list_max_show_all = 200
    paginator = CappedCountPaginator
    show_full_result_count = False
    sortable_by = ()
    search_fields = ("=external_id",)
    search_help_text = _("A full phone number (any format, with country code) or an exact external id.")
    actions = (
        "assign_to_agent",
        "change_status",
        "replay_failed_events",
        "resend_failed_sms",
        "reconcile_sms",
        "export_csv",
    )
    change_form_template = "admin/interactions/interaction/change_form.html"
    fields = (
        "channel",
        "direction",
        "status",
        "masked_phone",
        "provider",
        "external_id",
        "assigned_agent",
        "masked_subject",
        "masked_summary",
        "started_at",
        "ended_at",
        "last_activity_at",
        "verified_at",
        "redacted_at",
        "created_at",
        "pretty_metadata",
    )
    readonly_fields = fields

    # --- list -----------------------------------------------------------------------------------------------------

    def get_queryset(self, request):
        # The page's rows carry their agent and call in one query; the heavy call columns stay in the database.
        return super().get_queryset(request).defer(*_HEAVY_CALL_COLUMNS)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            e164 = phone_normalize(term)
        except InvalidPhoneNumber:
            e164 = ""
        if e164:
            # The canonical number's hash and those of legacy spellings (rows redacted before numbers were canonical).
            return queryset.filter(customer_phone_hash__in=phone_lookup_hashes(e164)), False
        # Exact external id; the providers are listed so the (provider, external_id) unique index serves it.
        providers = [value for value, _label in known_providers()]
        return queryset.filter(provider__in=providers, external_id=term), False

    @admin.display(description=_("id"))
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description=_("customer phone"))
    def masked_phone(self, obj):
        return phone_mask(obj.customer_phone)

    @admin.display(description=_("subject"))
    def masked_subject(self, obj):
        return phones_mask(obj.subject)

    @admin.display(description=_("summary"))
    def masked_summary(self, obj):
        return phones_mask(obj.summary)

    @admin.display(description=_("duration"))
    def duration(self, obj):
        try:
            seconds = obj.call_detail.duration_seconds
        except CallDetail.DoesNotExist:
            return "-"
        if seconds is None:
            return "-"
        return f"{seconds // 60}:{seconds % 60:02d}"

    @admin.display(description=_("metadata"))
    def pretty_metadata(self, obj):
        from backoffice.selectors import pretty_json

        text = pretty_json(obj.metadata)
        return format_html("<pre class='cc-json'>{}</pre>", text) if text else "-"

    # --- change page: read-only, with the timeline ------------------------------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied  # changes go through the actions, which call the services
        interaction = self.get_object(request, object_id)
        if interaction is None or not self.has_view_permission(request, interaction):
            return super().change_view(request, object_id, form_url, extra_context)
        timeline = interaction_timeline(interaction=interaction)
        recording_url = ""
        if timeline.call is not None and timeline.call.recording:
            recording_url = reverse("admin:interactions_interaction_recording", args=[interaction.pk])
        context = {
            **(extra_context or {}),
            "timeline": timeline,
            "recording_url": recording_url,
            "may_reveal": request.user.has_perm("interactions.view_pii") and bool(interaction.customer_phone),
            "reveal_form": RevealForm(),
            "reveal_url": reverse("admin:interactions_interaction_reveal", args=[interaction.pk]),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        return [
            path(
                "<uuid:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="interactions_interaction_reveal",
            ),
            path(
                "<uuid:object_id>/recording/",
                self.admin_site.admin_view(self.recording_view),
                name="interactions_interaction_recording",
            ),
            *super().get_urls(),
        ]

    def _visible_object(self, request, object_id) -> Interaction:
        interaction = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, interaction):
            raise PermissionDenied
        return interaction

    def reveal_view(self, request, object_id):
        """Show the customer's full number to a user with `view_pii`, who gives a reason; each reveal is audited."""
        interaction = self._visible_object(request, object_id)
        if not request.user.has_perm("interactions.view_pii"):
            raise PermissionDenied
        form = RevealForm(request.POST or None)
        revealed = ""
        if request.method == "POST" and form.is_valid():
            interaction_pii_reveal(
                interaction=interaction,
                actor=request_actor(request),
                reason=form.cleaned_data["reason"],
                ip_address=request_client_ip(request),
            )
            revealed = interaction.customer_phone
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": interaction,
            "title": _("Reveal the customer's phone number"),
            "form": form,
            "revealed_phone": revealed,
            "masked_phone": phone_mask(interaction.customer_phone),
        }
        response = TemplateResponse(request, "admin/interactions/interaction/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def recording_view(self, request, object_id):
        """The call's recording, to staff who may see the interaction (never a public media URL)."""
        interaction = self._visible_object(request, object_id)
        call = CallDetail.objects.filter(interaction=interaction).only("recording").first()
        if call is None or not call.recording:
            raise Http404
        try:
            handle = call.recording.open("rb")
        except FileNotFoundError:
            raise Http404
        response = FileResponse(handle, content_type="audio/mpeg")
        response["Cache-Control"] = "private, no-store"
        return response

    # --- actions ----------------------------------------------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if is_auditor(request.user):
            return {name: action for name, action in actions.items() if name == "export_csv"}
        return actions

    def _intermediate(self, request, queryset, form, title, action_name):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "queryset": queryset[:20],
            "count": queryset.count(),
            "action_name": action_name,
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/interactions/interaction/action_form.html", context)

    @admin.action(description=_("Assign to an agent"), permissions=["supervise"])
    def assign_to_agent(self, request, queryset):
        form = AssignForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            agent = form.cleaned_data["agent"]
            update = interaction_update
            done, refused, last_error = 0, 0, ""
            for interaction in queryset.order_by()[:MAX_ACTION_ROWS]:
                try:
                    update(
                        interaction=interaction,
                        assignee=agent,
                        actor=request_actor(request),
                        ip_address=request_client_ip(request),
                    )
                    done += 1
                except DomainError as exc:
                    refused += 1
                    last_error = exc.detail
            self.message_user(request, ngettext("%d interaction assigned.", "%d interactions assigned.", done) % done)
            if refused:
                self.message_user(
                    request, _("%(n)d refused: %(error)s") % {"n": refused, "error": last_error}, messages.WARNING
                )
            return None
        return self._intermediate(request, queryset, form, _("Assign to an agent"), "assign_to_agent")

    @admin.action(description=_("Change status"), permissions=["change"])
    def change_status(self, request, queryset):
        form = StatusForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            status = form.cleaned_data["status"]
            done, errors = 0, []
            update = interaction_update
            for interaction in queryset.order_by()[:MAX_ACTION_ROWS]:
                try:
                    update(
                        interaction=interaction,
                        status=status,
                        actor=request_actor(request),
                        ip_address=request_client_ip(request),
                    )
                    done += 1
                except DomainError as exc:
                    errors.append(exc.detail)
            self.message_user(request, ngettext("%d status changed.", "%d statuses changed.", done) % done)
            if errors:
                self.message_user(
                    request, _("%(n)d refused: %(error)s") % {"n": len(errors), "error": errors[0]}, messages.WARNING
                )
            return None
        return self._intermediate(request, queryset, form, _("Change status"), "change_status")

    @admin.action(description=_("Replay failed webhook events"), permissions=["supervise"])
    def replay_failed_events(self, request, queryset):
        replay = webhook_event_replay
        event_ids = list(
            InteractionEvent.objects.filter(
                interaction__in=queryset.order_by().values("pk")[:MAX_ACTION_ROWS], status=EventStatus.FAILED
            ).values_list("pk", flat=True)[:MAX_ACTION_ROWS]
        )
        outcomes: dict[str, int] = {}
        for event_id in event_ids:
            try:
                status = replay(event_id=event_id, actor=request_actor(request))
            except DomainError as exc:
                status = getattr(exc, "code", "refused")
            outcomes[str(status)] = outcomes.get(str(status), 0) + 1
        summary = ", ".join(f"{status}: {n}" for status, n in sorted(outcomes.items())) or "-"
        self.message_user(
            request, _("Replayed %(n)d failed event(s) (%(summary)s).") % {"n": len(event_ids), "summary": summary}
        )

    def _selected_messages(self, queryset, statuses):
        return list(
            Message.objects.filter(
                interaction__in=queryset.order_by().values("pk")[:MAX_ACTION_ROWS],
                channel=Channel.SMS,
                direction=Direction.OUTBOUND,
                status__in=statuses,
            ).values_list("pk", flat=True)[:MAX_ACTION_ROWS]
        )

    @admin.action(description=_("Resend failed SMS"), permissions=["supervise"])
    def resend_failed_sms(self, request, queryset):
        _messages_resend(self, request, self._selected_messages(queryset, RESENDABLE_STATUSES))

    @admin.action(description=_("Reconcile SMS status now"), permissions=["supervise"])
    def reconcile_sms(self, request, queryset):
        _messages_reconcile(self, request, self._selected_messages(queryset, RECONCILABLE_STATUSES))

    @admin.action(description=_("Export selected as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        """Streams the selection as CSV, newest first, at most EXPORT_MAX_ROWS rows. Phone numbers are masked unless
        the user may see PII; an export with numbers in clear first asks for a reason, like a reveal. A selection over
        the cap is announced before the file is made. Every export is audited (what, how many, in clear or not, the
        reason) before a byte of it leaves, and every cell is neutralized against formula injection."""
        clear = request.user.has_perm("interactions.view_pii")
        max_rows = int(getattr(settings, "EXPORT_MAX_ROWS", EXPORT_MAX_ROWS_DEFAULT))
        matched = queryset.order_by()[: max_rows + 1].count()  # bounded, like the changelist's own count
        capped = matched > max_rows
        count = min(matched, max_rows)
        reason = ""
        if clear or capped:
            form = ExportForm(request.POST if "apply" in request.POST else None, reason_required=clear)
            if not ("apply" in request.POST and form.is_valid()):
                return self._export_page(request, form, count=count, capped=capped, max_rows=max_rows, clear=clear)
            reason = form.cleaned_data.get("reason", "")

        select_across = request.POST.get("select_across") == "1"
        data = {
            "count": count,
            "phones": "clear" if clear else "masked",
            "capped": capped,
            "max_rows": max_rows,
            "select_across": select_across,
            # A search may be a phone number: the audit record keeps it masked, like any number it holds.
            "filters": phones_mask({k: v for k, v in request.GET.items() if k not in _NOT_FILTERS}),
        }
        if not select_across:
            data["ids"] = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)[:MAX_ACTION_ROWS]
        if clear:
            data["reason"] = phones_mask(reason)
        audit_log_record(
            actor=request_actor(request),
            action=AuditAction.INTERACTIONS_EXPORTED,
            target_type="interaction",
            data=data,
            ip_address=request_client_ip(request),
        )
        if capped:
            self.message_user(
                request,
                _("The export was cut to the newest %(max)d interactions: narrow the filters to export the others.")
                % {"max": max_rows},
                messages.WARNING,
            )

        rows = (
            queryset.select_related("assigned_agent", "call_detail")
            .defer(*_HEAVY_CALL_COLUMNS)
            .order_by("-created_at", "-id")[:max_rows]
        )
        header = [
            "id",
            "channel",
            "direction",
            "status",
            "customer_phone",
            "provider",
            "external_id",
            "assigned_agent",
            "started_at",
            "ended_at",
            "duration_seconds",
            "last_activity_at",
        ]

        def lines():
            for obj in rows.iterator(chunk_size=2000):
                try:
                    duration = obj.call_detail.duration_seconds
                except CallDetail.DoesNotExist:
                    duration = None
                yield [
                    obj.pk,
                    obj.channel,
                    obj.direction,
                    obj.status,
                    obj.customer_phone if clear else phone_mask(obj.customer_phone),
                    obj.provider,
                    obj.external_id or "",
                    obj.assigned_agent.get_username() if obj.assigned_agent else "",
                    obj.started_at.isoformat() if obj.started_at else "",
                    obj.ended_at.isoformat() if obj.ended_at else "",
                    "" if duration is None else duration,
                    obj.last_activity_at.isoformat() if obj.last_activity_at else "",
                ]

        response = StreamingHttpResponse(csv_rows_stream(header, lines()), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="interactions-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def _export_page(self, request, form, *, count: int, capped: bool, max_rows: int, clear: bool):
        """The page before an export: how many rows, whether the file is cut, and the reason when numbers are in
        clear. It posts the same selection back (the filters stay in the URL)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Export as CSV"),
            "form": form,
            "count": count,
            "capped": capped,
            "max_rows": max_rows,
            "clear": clear,
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        response = TemplateResponse(request, "admin/interactions/interaction/export_form.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(Message)
class MessageAdmin(SupervisorActionsMixin, ReadOnlyAdmin):
    agent_scope = "interaction__assigned_agent"
    list_display = ("created_at", "channel", "direction", "status", "masked_to", "provider", "error_code")
    list_filter = ("channel", "direction", "status", CreatedFilter)
    list_select_related = ()
    paginator = CappedCountPaginator
    sortable_by = ()
    search_fields = ("=provider_message_id",)
    search_help_text = _("An exact provider message id (e.g. a Twilio SID).")
    exclude = ("body", "to_phone", "from_phone", "error_message")
    readonly_fields = ("masked_to", "masked_from", "shown_body", "masked_error_message", "interaction_link")
    actions = ("resend_failed", "reconcile_now")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(provider_message_id=term), False) if term else (queryset, False)

    @admin.display(description=_("to"))
    def masked_to(self, obj):
        return phone_mask(obj.to_phone)

    @admin.display(description=_("from"))
    def masked_from(self, obj):
        return phone_mask(obj.from_phone)

    @admin.display(description=_("body"))
    def shown_body(self, obj):
        return message_body_for_display(obj)

    @admin.display(description=_("error message"))
    def masked_error_message(self, obj):
        return phones_mask(obj.error_message)

    @admin.display(description=_("interaction"))
    def interaction_link(self, obj):
        url = reverse("admin:interactions_interaction_change", args=[obj.interaction_id])
        return format_html('<a href="{}">{}</a>', url, obj.interaction_id)

    @admin.action(description=_("Resend (failed SMS only)"), permissions=["supervise"])
    def resend_failed(self, request, queryset):
        ids = queryset.filter(channel=Channel.SMS, direction=Direction.OUTBOUND, status__in=RESENDABLE_STATUSES)
        _messages_resend(self, request, list(ids.values_list("pk", flat=True)[:MAX_ACTION_ROWS]))

    @admin.action(description=_("Reconcile SMS status now"), permissions=["supervise"])
    def reconcile_now(self, request, queryset):
        ids = queryset.filter(channel=Channel.SMS, direction=Direction.OUTBOUND, status__in=RECONCILABLE_STATUSES)
        _messages_reconcile(self, request, list(ids.values_list("pk", flat=True)[:MAX_ACTION_ROWS]))


@admin.register(CallDetail)
class CallDetailAdmin(ReadOnlyAdmin):
    agent_scope = "interaction__assigned_agent"
    list_display = ("conversation_id", "agent_name", "duration_seconds", "call_successful", "created_at")
    search_fields = ("=conversation_id",)
    paginator = CappedCountPaginator
    sortable_by = ()
    # Free-form columns (the provider's summary, end and failure reasons) are shown with their numbers masked.
    exclude = ("customer_number", "transcript", "analysis", "metadata", "summary_title", "summary", "end_reason")
    readonly_fields = ("masked_customer_number", "masked_summary_title", "masked_summary", "masked_end_reason")

    @admin.display(description=_("customer number"))
    def masked_customer_number(self, obj):
        return phone_mask(obj.customer_number)

    @admin.display(description=_("summary title"))
    def masked_summary_title(self, obj):
        return phones_mask(obj.summary_title)

    @admin.display(description=_("summary"))
    def masked_summary(self, obj):
        return phones_mask(obj.summary)

    @admin.display(description=_("end reason"))
    def masked_end_reason(self, obj):
        return phones_mask(obj.end_reason)
