"""The audit records' hash chain (audit/chain.py), the verifications' outcome and the purge function.

1. `chain_seq` and `chain_hash` are added and the records already there are chained in id order, in batches, with the
   append-only trigger switched off for that alone (migrations run as the table's owner). The ALTER TABLE holds the
   table until the migration commits, so nothing is appended meanwhile; then the columns become NOT NULL, `chain_seq`
   unique. Processes of the previous release still running after the commit cannot write audit records (they leave
   the chain's columns empty) until they are restarted with this release.
2. On PostgreSQL, `audit_purge(cutoff, max_rows)`: the one way to delete audit records for a role that is not the
   owner. SECURITY DEFINER (it runs as the owner), its search_path fixed, it turns the trigger's purge switch on for
   itself only, never deletes a record younger than its own copy of the policy (the `audit_auditpurgepolicy` row,
   written from RETENTION_AUDIT_RECORDS_DELETE_DAYS by `migrate`; NULL: never) whatever `cutoff` says, deletes only
   from the start of the chain up to the first record that is not old enough, never the last record, at most
   `max_rows` (<= 10000), and returns what the caller records as the chain's new anchor: how many, the last deleted
   record's seq and hash, their time range. Nobody but the owner may execute it until granted
   (`setup_database_roles`).
"""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

BATCH = 2000

PURGE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_purge(cutoff timestamptz, max_rows integer)
RETURNS TABLE (deleted integer, last_seq bigint, last_hash varchar, first_at timestamptz, last_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = {schema}, pg_temp
SET contactcenter.audit_purge = 'on'
AS $$
#variable_conflict use_column
DECLARE
    policy_days integer;
    policy_found boolean := false;
BEGIN
    SELECT p.delete_after_days, true INTO policy_days, policy_found FROM audit_auditpurgepolicy p WHERE p.id = 1;
    IF NOT policy_found OR policy_days IS NULL OR cutoff IS NULL OR max_rows IS NULL OR max_rows < 1 THEN
        RETURN QUERY SELECT 0, NULL::bigint, NULL::varchar, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    cutoff := LEAST(cutoff, now() - make_interval(days => policy_days));
    RETURN QUERY
    WITH head AS (
        SELECT h.id, h.chain_seq, h.created_at,
               bool_and(h.created_at < cutoff) OVER (ORDER BY h.chain_seq) AS old_prefix
        FROM (
            SELECT a.id, a.chain_seq, a.created_at FROM audit_auditlog a
            ORDER BY a.chain_seq LIMIT LEAST(max_rows, 10000)
        ) h
    ),
    doomed AS (
        SELECT head.id FROM head
        WHERE head.old_prefix AND head.chain_seq < (SELECT max(t.chain_seq) FROM audit_auditlog t)
    ),
    gone AS (
        DELETE FROM audit_auditlog a USING doomed d WHERE a.id = d.id
        RETURNING a.chain_seq, a.chain_hash, a.created_at
    )
    SELECT count(*)::integer, max(g.chain_seq), (array_agg(g.chain_hash ORDER BY g.chain_seq DESC))[1]::varchar,
           min(g.created_at), max(g.created_at)
    FROM gone g;
END;
$$;
REVOKE ALL ON FUNCTION audit_purge(timestamptz, integer) FROM PUBLIC;
"""

DROP_PURGE_FUNCTION = "DROP FUNCTION IF EXISTS audit_purge(timestamptz, integer);"
TRIGGER = "audit_auditlog_append_only"


def chain_existing_records(apps, schema_editor):
    from audit.chain import FIELDS, GENESIS, chain_key, link_hash

    audit_log = apps.get_model("audit", "AuditLog")
    connection = schema_editor.connection
    postgres = connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(f"ALTER TABLE audit_auditlog DISABLE TRIGGER {TRIGGER}")
    key, prev_hash, seq, last_id = chain_key(), GENESIS, 0, 0
    fields = [name for name in FIELDS if name != "chain_seq"]
    while True:
        rows = list(audit_log.objects.filter(pk__gt=last_id).order_by("pk").values("id", *fields)[:BATCH])
        if not rows:
            break
        ids, seqs, hashes = [], [], []
        for row in rows:
            seq += 1
            row["chain_seq"] = seq
            prev_hash = link_hash(prev_hash=prev_hash, row=row, key=key)
            ids.append(row["id"])
            seqs.append(seq)
            hashes.append(prev_hash)
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE audit_auditlog AS t SET chain_seq = v.seq, chain_hash = v.hash "
                    "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[]) AS v(id, seq, hash) WHERE t.id = v.id",
                    [ids, seqs, hashes],
                )
        else:
            for row_id, row_seq, row_hash in zip(ids, seqs, hashes, strict=True):
                audit_log.objects.filter(pk=row_id).update(chain_seq=row_seq, chain_hash=row_hash)
        last_id = ids[-1]
    if postgres:
        schema_editor.execute(f"ALTER TABLE audit_auditlog ENABLE TRIGGER {TRIGGER}")


def purge_function_create(apps, schema_editor):
    connection = schema_editor.connection
    policy = apps.get_model("audit", "AuditPurgePolicy")
    days = (getattr(settings, "RETENTION_POLICY", {}) or {}).get("all", {}).get("audit_records", {})
    policy.objects.update_or_create(pk=1, defaults={"delete_after_days": days.get("delete_after_days")})
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
    schema_editor.execute(PURGE_FUNCTION.replace("{schema}", connection.ops.quote_name(schema)))


def purge_function_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_PURGE_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="chain_seq",
            field=models.BigIntegerField(editable=False, null=True, verbose_name="chain position"),
        ),
        migrations.AddField(
            model_name="auditlog",
            name="chain_hash",
            field=models.CharField(default="", editable=False, max_length=64, verbose_name="chain hash"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="when"),
        ),
        migrations.RunPython(chain_existing_records, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="auditlog",
            name="chain_seq",
            field=models.BigIntegerField(editable=False, unique=True, verbose_name="chain position"),
        ),
        migrations.CreateModel(
            name="AuditPurgePolicy",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("delete_after_days", models.PositiveIntegerField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="audit_purge_policy_one_row")
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("verified_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="verified at")),
                ("trigger", models.CharField(default="command", max_length=32, verbose_name="started by")),
                ("ok", models.BooleanField(verbose_name="chain intact")),
                ("rows", models.BigIntegerField(default=0, verbose_name="records checked")),
                ("first_seq", models.BigIntegerField(blank=True, null=True, verbose_name="first position")),
                ("head_seq", models.BigIntegerField(blank=True, null=True, verbose_name="last position")),
                ("head_hash", models.CharField(blank=True, default="", max_length=64, verbose_name="last hash")),
                (
                    "problem",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("edited", "A record does not match its hash"),
                            ("gap", "Records missing inside the chain"),
                            ("start", "The chain does not start where the last purge left it"),
                            ("tail", "Records missing at the end of the chain"),
                        ],
                        default="",
                        max_length=16,
                        verbose_name="problem",
                    ),
                ),
                ("broken_seq", models.BigIntegerField(blank=True, null=True, verbose_name="broken at position")),
                ("broken_id", models.BigIntegerField(blank=True, null=True, verbose_name="broken at record id")),
                ("detail", models.TextField(blank=True, default="", verbose_name="detail")),
                ("duration_ms", models.PositiveIntegerField(default=0, verbose_name="duration (ms)")),
            ],
            options={
                "verbose_name": "audit chain verification",
                "verbose_name_plural": "audit chain verifications",
                "ordering": ["-verified_at", "-id"],
                "indexes": [models.Index(fields=["-verified_at", "-id"], name="audit_verification_at_idx")],
            },
        ),
        migrations.RunPython(purge_function_create, purge_function_drop, elidable=False),
    ]
