from django.db import models
from django.utils.translation import gettext_lazy as _


class RetentionRun(models.Model):
    """One application of the retention policy (dry runs are not recorded): when it ran, what it did, how it ended.
    The admin shows the last one per channel; the audit log holds one record per batch besides."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        # Stopped at its time budget; the task hands what is left to a fresh run.
        PARTIAL = "partial", _("Partial")
        FAILED = "failed", _("Failed")

    id = models.BigAutoField(primary_key=True)
    trigger = models.CharField(_("started by"), max_length=32, default="command")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The moment the policy's thresholds were computed from (a run's own "now").
    policy_now = models.DateTimeField(_("policy applied as of"))
    policy = models.JSONField(_("policy"), default=dict, blank=True)
    # Rows redacted and deleted per rule (`channel.kind.action`), and the totals.
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    rows_redacted = models.PositiveBigIntegerField(_("rows redacted"), default=0)
    rows_deleted = models.PositiveBigIntegerField(_("rows deleted"), default=0)
    batches = models.PositiveIntegerField(_("batches"), default=0)
    error = models.TextField(_("error"), blank=True, default="")

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at", "-id"]
        permissions = [("erase_customer", _("Can erase all data of one customer"))]
        indexes = [models.Index(fields=["-started_at"], name="retention_run_started_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["running", "completed", "partial", "failed"]),
                name="retention_run_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"retention run {self.id} {self.status}"
