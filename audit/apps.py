from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _purge_policy_sync(sender, using="default", **kwargs):
    """After every `migrate` (run as the schema's owner): the purge function's copy of the audit records' retention."""
    from django.db import connections

    from .models import AuditPurgePolicy
    from .services import audit_purge_policy_sync

    if AuditPurgePolicy._meta.db_table in connections[using].introspection.table_names():
        audit_purge_policy_sync(using=using)


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit")

    def ready(self):
        from contactcenter.common.health import health_report_register

        from . import checks  # noqa: F401  (registers the deploy check on database roles)
        from .services import audit_chain_health

        post_migrate.connect(_purge_policy_sync, sender=self, dispatch_uid="audit_purge_policy_sync")
        health_report_register("audit_chain", audit_chain_health)
