from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.common.actors import ActorType


class AuditLog(models.Model):
    """Who did what, to which object, when and from where.

    Append-only, and tamper-evident (audit/chain.py): each record carries its position in one chain (`chain_seq`,
    1, 2, 3… without gaps) and an HMAC of its fields chained to the record before it (`chain_hash`), written by
    `audit_log_record` only. On PostgreSQL a trigger refuses UPDATE and DELETE; the application's database role may
    only INSERT and SELECT (`setup_database_roles`), and old records are deleted by the `audit_purge` function alone
    (audit/migrations/0003), oldest first, never younger than the retention policy allows."""

    # What `setup_database_roles` grants the application's role on this table (contactcenter/common/db_roles.py), and
    # the functions it may execute.
    app_role_privileges = ("SELECT", "INSERT")
    app_role_functions = ("audit_purge(timestamp with time zone, integer)",)

    ActorType = ActorType

    id = models.BigAutoField(primary_key=True)
    # Set by audit_log_record once it holds the chain's lock: the chain's order is the order of time.
    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True, default="")
    actor_label = models.CharField(_("actor"), max_length=150, blank=True, default="")
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64, blank=True, default="")
    target_id = models.CharField(_("target id"), max_length=64, blank=True, default="")
    data = models.JSONField(_("data"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=128, blank=True, default="")
    chain_seq = models.BigIntegerField(_("chain position"), unique=True, editable=False)
    chain_hash = models.CharField(_("chain hash"), max_length=64, editable=False)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="audit_created_idx"),
            models.Index(fields=["target_type", "target_id", "-created_at"], name="audit_target_idx"),
            models.Index(fields=["actor_type", "actor_id", "-created_at"], name="audit_actor_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_action_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_type__in=["user", "api_client", "provider", "system"]),
                name="audit_actor_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label or self.actor_type} {self.action}"


class AuditVerification(models.Model):
    """The outcome of one walk of the audit chain (`audit_verify`, the daily `audit.verify` task): /api/health reports
    the last one, and the next walk compares its head with the last good one (a tail cut off shows there)."""

    class Problem(models.TextChoices):
        EDITED = "edited", _("A record does not match its hash")
        GAP = "gap", _("Records missing inside the chain")
        START = "start", _("The chain does not start where the last purge left it")
        TAIL = "tail", _("Records missing at the end of the chain")

    app_role_privileges = ("SELECT", "INSERT")

    id = models.BigAutoField(primary_key=True)
    verified_at = models.DateTimeField(_("verified at"), default=timezone.now)
    trigger = models.CharField(_("started by"), max_length=32, default="command")
    ok = models.BooleanField(_("chain intact"))
    rows = models.BigIntegerField(_("records checked"), default=0)
    first_seq = models.BigIntegerField(_("first position"), null=True, blank=True)
    head_seq = models.BigIntegerField(_("last position"), null=True, blank=True)
    head_hash = models.CharField(_("last hash"), max_length=64, blank=True, default="")
    problem = models.CharField(_("problem"), max_length=16, choices=Problem.choices, blank=True, default="")
    broken_seq = models.BigIntegerField(_("broken at position"), null=True, blank=True)
    broken_id = models.BigIntegerField(_("broken at record id"), null=True, blank=True)
    detail = models.TextField(_("detail"), blank=True, default="")
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("audit chain verification")
        verbose_name_plural = _("audit chain verifications")
        ordering = ["-verified_at", "-id"]
        indexes = [models.Index(fields=["-verified_at", "-id"], name="audit_verification_at_idx")]

    def __str__(self) -> str:
        return f"{self.verified_at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'broken'}"


class AuditPurgePolicy(models.Model):
    """The one row `audit_purge` reads: the youngest audit records it may delete are this many days old (NULL: never).
    Written from RETENTION_AUDIT_RECORDS_DELETE_DAYS by `migrate` (connected as the owner); the application's role may
    neither read nor change it."""

    app_role_privileges = ()

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    delete_after_days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_purge_policy_one_row")]

    def __str__(self) -> str:
        return f"audit records deleted after {self.delete_after_days} days" if self.delete_after_days else "never"
