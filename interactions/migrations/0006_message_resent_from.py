"""A message is resent at most once, in the data: a resend points at the message it resends (`resent_from`), under a
unique constraint. Until now the rule was kept by reading the audit log; the resends it records ("message.resent",
the original as target, the new message as `data.resent_as`) are linked here, the first one of each original only.

`messages` may be large: on PostgreSQL the column is added alone, its foreign key validated apart and the unique
index built concurrently (contactcenter/common/migration_operations.py), outside a transaction."""

import uuid

import django.db.models.deletion
from django.db import migrations, models, transaction

from contactcenter.common.migration_operations import (
    AddNullableForeignKeyOnPostgres,
    AddUniqueConstraintConcurrentlyOnPostgres,
)


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def resends_link(apps, schema_editor):
    audit_log = apps.get_model("audit", "AuditLog")
    message = apps.get_model("interactions", "Message")
    records = (
        audit_log.objects.filter(action="message.resent", target_type="message")
        .order_by("chain_seq")
        .values_list("target_id", "data")
    )
    linked = set()
    for target_id, data in records.iterator(chunk_size=1000):
        original, resend = _uuid(target_id), _uuid((data or {}).get("resent_as"))
        if original is None or resend is None or original in linked or original == resend:
            continue
        with transaction.atomic():
            if not message.objects.filter(pk=original).exists():
                continue
            if message.objects.filter(pk=resend, resent_from__isnull=True).update(resent_from_id=original):
                linked.add(original)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("audit", "0003_chain_and_purge_function"),
        ("interactions", "0005_canonical_phones"),
    ]

    operations = [
        AddNullableForeignKeyOnPostgres(
            model_name="message",
            name="resent_from",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="resends",
                to="interactions.message",
                verbose_name="resent from",
            ),
        ),
        migrations.RunPython(resends_link, migrations.RunPython.noop, elidable=True),
        AddUniqueConstraintConcurrentlyOnPostgres(
            model_name="message",
            constraint=models.UniqueConstraint(fields=("resent_from",), name="message_resent_once"),
        ),
    ]
