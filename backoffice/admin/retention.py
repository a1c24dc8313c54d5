from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from backoffice.forms import CustomerEraseForm
from contactcenter.common.actors import Actor
from contactcenter.common.context import request_client_ip
from contactcenter.common.domain import DomainError
from retention.models import RetentionRun
from retention.selectors import retention_last_run, retention_overview
from retention.services import customer_erase

from .base import ReadOnlyAdmin

ERASE_PERMISSION = "retention.erase_customer"


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    """Data retention: per channel, what is due for redaction and deletion now and when the policy last ran; the
    history of runs; and, for supervisors with `retention.erase_customer`, the erasure of one customer's data."""

    change_list_template = "admin/retention/retentionrun/change_list.html"
    list_display = ("started_at", "status", "trigger", "rows_redacted", "rows_deleted", "batches", "finished_at")
    list_filter = ("status", "trigger")
    date_hierarchy = "started_at"
    fields = (
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "policy_now",
        "rows_redacted",
        "rows_deleted",
        "batches",
        "error",
        "policy",
        "counts",
    )

    def get_urls(self):
        return [
            path(
                "erase-customer/",
                self.admin_site.admin_view(self.erase_customer_view),
                name="retention_erase_customer",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        context = {
            "retention_overview": retention_overview(),
            "retention_last_run": retention_last_run(),
            "may_erase_customer": request.user.has_perm(ERASE_PERMISSION),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def erase_customer_view(self, request):
        if not request.user.has_perm(ERASE_PERMISSION):
            raise PermissionDenied
        form = CustomerEraseForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            dry_run = not form.cleaned_data["confirm"]
            try:
                result = customer_erase(
                    phone=form.cleaned_data["phone"],
                    reason=form.cleaned_data["reason"],
                    actor=Actor.user(request.user),
                    dry_run=dry_run,
                    ip_address=request_client_ip(request),
                )
            except DomainError as exc:
                form.add_error(exc.attr if exc.attr in form.fields else None, exc.detail)
            else:
                if not dry_run:
                    total = sum(count for label, count in result["counts"].items() if label != "recording_files")
                    messages.success(
                        request,
                        _("The data of customer %(phone)s was erased (%(rows)d rows redacted).")
                        % {"phone": result["phone"], "rows": total},
                    )
                    return redirect(reverse(f"{self.admin_site.name}:retention_retentionrun_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase a customer's data"),
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/retention/erase_customer.html", context)
