"""The roll-up's triggers and its first build (PostgreSQL only; elsewhere the selectors count live).

The build counts every existing row with the counted tables locked against writes (SHARE): on a million
interactions it takes about 9 s (see docs/operations.md, "Metrics roll-up")."""

from django.conf import settings
from django.db import migrations

from metrics import rollup_sql


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in rollup_sql.install_sql():
            cursor.execute(statement)
        for statement in rollup_sql.build_sql():
            cursor.execute(statement, {"zone": settings.TIME_ZONE})
        cursor.execute(rollup_sql.zone_function_sql(settings.TIME_ZONE))


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in rollup_sql.uninstall_sql():
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
        ("interactions", "0006_message_resent_from"),
        ("otp", "0007_pending_per_client"),
        ("webhooks", "0003_event_raw_body"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
