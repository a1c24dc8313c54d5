"""Items 15 and 16 of the security review: an audit trail that even the database owner cannot quietly change.

15. The application connects as a role that may only insert and read audit records; the schema's owner runs the
    migrations (`migrate` with DATABASE_OWNER_URL) and grants it what it may do (`setup_database_roles`). Deleting old
    records goes through `audit_purge`, a function owned by the owner that deletes nothing younger than the policy
    allows and only from the start of the chain.
16. Each record carries an HMAC (a key the database does not hold) chained to the one before it: `audit_verify` names
    the first broken link (a row edited, a gap left by a deleted row, the oldest rows deleted beyond the last purge
    anchor, a tail cut off), a daily task runs it, logs the outcome and /api/health reports it.

The attacker of item 16 is the superuser `postgres` the tests connect as: it edits and deletes rows with the trigger
disabled, and is caught anyway."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
import requests
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from freezegun import freeze_time
from psycopg import sql

from audit.models import AuditLog
from audit.services import audit_log_record
from contactcenter.common.actors import Actor
from retention.services import retention_apply
from tests.api.helpers import key_client
from tests.factories import InteractionFactory, UserFactory

from .conftest import make_api_key

pytestmark = [pytest.mark.postgres]

BASE_DIR = Path(__file__).resolve().parents[2]
PHONES = ("+5215512345601", "+5215512345602", "+14155550123")


def _db_url(user: str = "postgres", name: str | None = None) -> str:
    db = connection.settings_dict
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name or db['NAME']}"


def _drop_role(name: str, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [name])
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def app_role(settings, transactional_db):
    """A fresh application role granted by `setup_database_roles` (run as the owner, the test database's `postgres`),
    dropped at the end. Trust authentication on loopback: it connects without a password."""
    name = f"cc_app_{uuid.uuid4().hex[:10]}"
    settings.DATABASE_OWNER_URL = _db_url("postgres")
    out = StringIO()
    call_command("setup_database_roles", "--app-role", name, stdout=out)
    yield SimpleNamespace(name=name, url=_db_url(name), output=out.getvalue())
    _drop_role(name, _db_url("postgres"))


def _verify(*args: str) -> tuple[int, str]:
    """`manage.py audit_verify` -> (exit code, output)."""
    out = StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def _activity() -> list[AuditLog]:
    """Audit records written as the product writes them: OTP requests over the API (each replacing the pending one
    of its phone), an assignment by a supervisor over the API, a verification that fails."""
    integration, _ = key_client("integration", name="ivr")
    for phone in (*PHONES, PHONES[0]):
        response = integration.post("/api/otp", {"phone": phone, "purpose": "login"}, format="json")
        assert response.status_code == 201, response.content
    challenge_id = response.json()["id"]
    assert integration.post("/api/otp/verify", {"id": challenge_id, "code": "000000"}, format="json").status_code in (
        200,
        400,
    )
    supervisor, _ = key_client("supervisor", name="console")
    agent = UserFactory(roles=["agent"])
    interaction = InteractionFactory()
    response = supervisor.patch(f"/api/interactions/{interaction.pk}", {"assigned_agent": agent.pk}, format="json")
    assert response.status_code == 200, response.content
    records = list(AuditLog.objects.order_by("chain_seq"))
    assert len(records) >= 8
    return records


def _as_superuser(*statements: tuple[str, list]) -> None:
    """What a superuser does to hide a change: switch the append-only trigger off, edit, switch it back on."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditlog DISABLE TRIGGER USER")
        for statement, params in statements:
            cursor.execute(statement, params)
        cursor.execute("ALTER TABLE audit_auditlog ENABLE TRIGGER USER")


# --- 15. Two roles ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_application_role_reads_and_appends_audit_records_and_can_change_none(app_role):
    assert f"application role {app_role.name} created" in app_role.output
    audit_log_record(actor=Actor.system("test"), action="test.kept", data={"n": 1})
    attacks = {
        "purge switch, then DELETE": [
            "SELECT set_config('contactcenter.audit_purge', 'on', false)",
            "DELETE FROM audit_auditlog",
        ],
        "UPDATE": ["UPDATE audit_auditlog SET action = 'tampered'"],
        "DISABLE TRIGGER": ["ALTER TABLE audit_auditlog DISABLE TRIGGER audit_auditlog_append_only"],
        "DISABLE TRIGGER ALL": ["ALTER TABLE audit_auditlog DISABLE TRIGGER ALL"],
        "TRUNCATE": ["TRUNCATE audit_auditlog"],
        "DROP TABLE": ["DROP TABLE audit_auditlog CASCADE"],
        "a shorter purge policy": ["UPDATE audit_auditpurgepolicy SET delete_after_days = 1"],
        "a purge function of its own": [
            "CREATE OR REPLACE FUNCTION audit_purge(cutoff timestamptz, max_rows integer) RETURNS integer "
            "LANGUAGE sql AS 'SELECT 0'"
        ],
        "the verifications' outcome": ["DELETE FROM audit_auditverification"],
    }
    with psycopg.connect(app_role.url, autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == app_role.name
        assert conn.execute("SELECT action FROM audit_auditlog").fetchall() == [("test.kept",)]
        conn.execute(
            "INSERT INTO audit_auditlog (created_at, actor_type, actor_id, actor_label, action, target_type, "
            "target_id, data, request_id, chain_seq, chain_hash) "
            "VALUES (now(), 'system', '', 'test', 'test.appended', '', '', '{}', '', 1000, repeat('0', 64))"
        )
        refused = {}
        for name, statements in attacks.items():
            try:
                with conn.transaction(force_rollback=True):
                    for statement in statements:
                        conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                refused[name] = str(exc)
        assert set(refused) == set(attacks), f"not refused: {set(attacks) - set(refused)}"
    assert sorted(AuditLog.objects.values_list("action", flat=True)) == ["test.appended", "test.kept"]


@pytest.mark.slow
def test_audit_purge_deletes_only_records_older_than_the_policy_and_only_from_the_start_of_the_chain(app_role):
    now = timezone.now()
    ages = [4000, 3990, 3700, 10, 3900, 0]  # days; the fifth is old but comes after a young one in the chain
    records = []
    for days in ages:
        with freeze_time(now - timedelta(days=days)):
            records.append(audit_log_record(actor=Actor.system("test"), action=f"test.{days}"))
    with psycopg.connect(app_role.url, autocommit=True) as conn:
        # Whatever the cutoff asked for, the policy's 3650 days hold; at most max_rows rows per call.
        first = conn.execute("SELECT * FROM audit_purge(now() + interval '100 years', 2)").fetchone()
        second = conn.execute("SELECT * FROM audit_purge(now() + interval '100 years', 1000)").fetchone()
        third = conn.execute("SELECT * FROM audit_purge(now() + interval '100 years', 1000)").fetchone()
    deleted, last_seq, last_hash = first[:3]
    assert (deleted, last_seq, last_hash) == (2, records[1].chain_seq, records[1].chain_hash)
    assert second[:3] == (1, records[2].chain_seq, records[2].chain_hash)
    assert third[0] == 0
    kept = set(AuditLog.objects.values_list("pk", flat=True))
    assert kept == {record.pk for record in records[3:]}


@pytest.mark.slow
def test_release_migrates_as_the_owner_chains_the_records_already_there_and_grants_the_application_role():
    """On a database of its own: `migrate` with DATABASE_OWNER_URL connects as the owner (the application role does
    not even exist yet), the audit records written before the chain existed are chained by the migration, and
    `setup_database_roles` creates the role with exactly its privileges; both are idempotent."""
    database = f"cc_audit_release_{uuid.uuid4().hex[:8]}"
    role = f"cc_app_{uuid.uuid4().hex[:10]}"
    admin_url = _db_url("postgres", "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings",
        "DATABASE_URL": f"postgres://{role}:app-secret@127.0.0.1:5432/{database}",
        "DATABASE_OWNER_URL": _db_url("postgres", database),
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    try:
        manage("migrate", "--noinput")  # as the owner: the application role does not exist yet
        manage("migrate", "audit", "0002", "--noinput")  # back to before the chain, to write records without it
        with psycopg.connect(_db_url("postgres", database), autocommit=True) as conn:
            for index in range(5):
                conn.execute(
                    "INSERT INTO audit_auditlog (created_at, actor_type, actor_id, actor_label, action, target_type, "
                    "target_id, data, ip_address, request_id) VALUES "
                    "(now() - %s * interval '1 hour', 'user', '7', 'ana', 'legacy.action', 'interaction', %s, %s, "
                    "'10.0.0.1', 'req-1')",
                    [5 - index, str(index), json.dumps({"n": index, "ratio": 1.0, "name": "José"})],
                )
        out = manage("migrate", "--noinput")
        assert f"role {role} does not exist yet" in out
        dry = manage("setup_database_roles", "--dry-run")
        assert "CREATE ROLE" in dry and "app-secret" not in dry
        out = manage("setup_database_roles")
        assert f"application role {role} created" in out
        again = manage("setup_database_roles")
        assert f"application role {role} exists" in again
        out = manage("migrate", "--noinput")
        assert f"granted to {role}" in out
        with psycopg.connect(_db_url("postgres", database), autocommit=True) as conn:
            owners = dict(conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'"))
            assert set(owners.values()) == {"postgres"}

            def can(table: str, privilege: str) -> bool:
                return conn.execute("SELECT has_table_privilege(%s, %s, %s)", [role, table, privilege]).fetchone()[0]

            assert [can("audit_auditlog", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")] == [
                True,
                True,
                False,
                False,
                False,
            ]
            assert all(can("interactions_interaction", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE"))
            assert not can("interactions_interaction", "TRUNCATE")
            attributes = conn.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = %s", [role]
            ).fetchone()
            assert attributes == (False, False, False, True)
            seqs = [row[0] for row in conn.execute("SELECT chain_seq FROM audit_auditlog ORDER BY id")]
            assert seqs == [1, 2, 3, 4, 5]
        env["DATABASE_URL"] = f"postgres://{role}:app-secret@127.0.0.1:5432/{database}"
        out = manage("audit_verify")
        assert "audit chain ok" in out and "5 records" in out
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        _drop_role(role, admin_url)


@pytest.mark.slow
@pytest.mark.redis
def test_the_product_runs_as_the_application_role(app_role, prod_server):
    """Served by gunicorn connected as the application role: OTPs and assignments are audited, the retention run
    (redactions, deletions and the audit purge through `audit_purge`) and `audit_verify` work without the owner."""
    now = timezone.now()
    with freeze_time(now - timedelta(days=4000)):
        audit_log_record(actor=Actor.system("test"), action="test.ancient")
        audit_log_record(actor=Actor.system("test"), action="test.ancient")
    server = prod_server({"DATABASE_URL": app_role.url})
    key = make_api_key("integration")
    for phone in PHONES:
        response = requests.post(
            f"{server.url}/api/otp",
            json={"phone": phone, "purpose": "login"},
            headers={"Authorization": f"Api-Key {key}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
    assert AuditLog.objects.filter(action="otp.created").count() == 3
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "contactcenter.test_settings", "DATABASE_URL": app_role.url}
    env.pop("DATABASE_OWNER_URL", None)
    for command in (["apply_retention"], ["audit_verify"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert not AuditLog.objects.filter(action="test.ancient").exists()
    (purge,) = AuditLog.objects.filter(action="retention.delete", target_type="audit_records")
    assert purge.data["counts"] == {"audit_records": 2} and purge.data["anchor"]["seq"] == 2
    assert "audit chain ok" in result.stdout
    server.stop()


def test_deploy_check_warns_while_the_application_connects_as_the_owner_of_the_audit_table(settings):
    settings.DATABASE_OWNER_URL = ""
    warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "audit.W001"]
    assert len(warnings) == 1 and "DATABASE_OWNER_URL" in warnings[0].msg
    settings.DATABASE_OWNER_URL = _db_url("contactcenter_owner")
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id.startswith("audit.")]
    settings.DATABASE_OWNER_URL = _db_url(connection.settings_dict["USER"])
    assert [m.id for m in run_checks(include_deployment_checks=True) if m.id.startswith("audit.")] == ["audit.W002"]


def test_with_one_role_the_role_commands_have_nothing_to_grant(settings, db):
    settings.DATABASE_OWNER_URL = ""
    out = StringIO()
    call_command("setup_database_roles", stdout=out)
    assert "one role: nothing to grant" in out.getvalue()


# --- 16. The hash chain -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_records_verify_as_the_database_gives_them_back():
    """The hash is computed on what PostgreSQL gives back, whatever the caller handed over: whole floats (jsonb may
    give them back as integers), tuples, integer keys, accents, IPv6 and IPv4-mapped addresses."""
    cases = [
        (
            {
                "ratio": 1.0,
                "big": 1e16,
                "small": 1.5e-7,
                "pair": (1, 2),
                7: "an integer key",
                "name": "José Pérez",
                "nested": {"b": [0.1, 2.0, True], "a": None},
            },
            "2001:DB8::1",
        ),
        ({"empty": {}, "list": []}, "::ffff:192.0.2.1"),
        ({}, "192.0.2.9"),
    ]
    for data, address in cases:
        audit_log_record(actor=Actor.system("José"), action="test.values", data=data, ip_address=address)
    code, out = _verify()
    assert code == 0, out


@pytest.mark.django_db
def test_audit_verify_passes_an_untouched_chain_and_reports_in_json():
    records = _activity()
    code, out = _verify("--json")
    report = json.loads(out)
    assert code == 0, out
    assert report["ok"] is True and report["rows"] == len(records)
    assert report["head_seq"] == records[-1].chain_seq
    assert [r.chain_seq for r in records] == list(range(records[0].chain_seq, records[0].chain_seq + len(records)))


@pytest.mark.django_db
def test_a_row_a_superuser_edits_is_named_by_audit_verify():
    records = _activity()
    victim = records[len(records) // 2]
    # Even with the chain's hash recomputed the obvious way: the key is not in the database.
    _as_superuser(
        (
            'UPDATE audit_auditlog SET data = data || \'{"purpose": "transaction"}\', '
            "chain_hash = encode(sha256(chain_hash::bytea), 'hex') WHERE id = %s",
            [victim.pk],
        )
    )
    code, out = _verify()
    assert code != 0
    assert f"seq {victim.chain_seq}" in out and f"id {victim.pk}" in out and "edited" in out


@pytest.mark.django_db
def test_a_row_a_superuser_deletes_leaves_a_gap_audit_verify_names():
    records = _activity()
    victim = records[3]
    _as_superuser(("DELETE FROM audit_auditlog WHERE id = %s", [victim.pk]))
    code, out = _verify()
    assert code != 0
    assert "gap" in out and f"seq {victim.chain_seq}" in out


@pytest.mark.django_db
def test_the_oldest_rows_deleted_beyond_the_last_purge_anchor_are_detected():
    now = timezone.now()
    for days in (4000, 3999, 3998, 3997):
        with freeze_time(now - timedelta(days=days)):
            audit_log_record(actor=Actor.system("test"), action="test.ancient")
    with freeze_time(now - timedelta(days=10)):
        first_kept = audit_log_record(actor=Actor.system("test"), action="test.recent")
    _activity()
    retention_apply()
    assert AuditLog.objects.order_by("chain_seq").first().pk == first_kept.pk
    assert _verify()[0] == 0  # the purge left an anchor: the chain starts where it says

    _as_superuser(("DELETE FROM audit_auditlog WHERE id = %s", [first_kept.pk]))
    code, out = _verify()
    assert code != 0
    assert "purge anchor" in out and f"seq {first_kept.chain_seq + 1}" in out


@pytest.mark.django_db
def test_the_first_rows_deleted_without_any_purge_are_detected():
    records = _activity()
    _as_superuser(("DELETE FROM audit_auditlog WHERE id = ANY(%s)", [[r.pk for r in records[:2]]]))
    code, out = _verify()
    assert code != 0 and "purge anchor" in out


@pytest.mark.django_db
def test_a_tail_cut_off_is_detected_against_the_last_verified_head():
    records = _activity()
    assert _verify()[0] == 0
    _as_superuser(("DELETE FROM audit_auditlog WHERE id = ANY(%s)", [[r.pk for r in records[-2:]]]))
    code, out = _verify()
    assert code != 0 and "tail" in out and f"seq {records[-1].chain_seq}" in out
    # New records past the old head do not hide it: the row now at the last verified head's seq is not that row.
    for _ in range(3):
        audit_log_record(actor=Actor.system("test"), action="test.later")
    code, out = _verify()
    assert code != 0 and "tail" in out


@pytest.mark.django_db
def test_seeded_demo_audit_records_are_chained():
    audit_log_record(actor=Actor.system("test"), action="test.before_seed")
    call_command("seed_demo", "--interactions", "60", "--seed", "5", "--batch", "25", stdout=StringIO())
    assert AuditLog.objects.filter(action="interaction.assigned").count() > 5
    audit_log_record(actor=Actor.system("test"), action="test.after_seed")
    code, out = _verify()
    assert code == 0, out


@pytest.mark.slow
def test_concurrent_appends_form_one_gapless_chain(transactional_db):
    threads, per_thread = 8, 12
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                with transaction.atomic():
                    audit_log_record(actor=Actor.system(f"writer-{index}"), action="test.concurrent", data={"n": n})
                    time.sleep(0.002)  # hold the transaction open: the next writer is waiting on the chain
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    seqs = list(AuditLog.objects.order_by("chain_seq").values_list("chain_seq", flat=True))
    assert len(seqs) == threads * per_thread
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    times = list(AuditLog.objects.order_by("chain_seq").values_list("created_at", flat=True))
    assert times == sorted(times)  # the chain's order is the order of time
    code, out = _verify()
    assert code == 0, out


@pytest.mark.django_db
def test_the_daily_verification_is_logged_and_reported_by_health_without_failing_it(caplog, client):
    from audit.tasks import audit_verify_task

    schedule = [entry for entry in django_settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "audit.verify"]
    assert len(schedule) == 1

    never = client.get("/api/health").json()["checks"]["audit_chain"]
    assert never["ok"] is None and never["verified_at"] is None

    records = _activity()
    caplog.set_level("INFO", logger="contactcenter.audit")
    audit_verify_task.apply()
    verified = [r for r in caplog.records if r.getMessage() == "audit_chain_verified"]
    assert verified and verified[0].head_seq == records[-1].chain_seq
    response = client.get("/api/health")
    assert response.status_code == 200
    chain = response.json()["checks"]["audit_chain"]
    assert chain["ok"] is True and chain["head_seq"] == records[-1].chain_seq and chain["verified_at"]

    victim = records[2]
    _as_superuser(("UPDATE audit_auditlog SET actor_label = 'someone else' WHERE id = %s", [victim.pk]))
    caplog.clear()
    audit_verify_task.apply()
    (broken,) = [r for r in caplog.records if r.getMessage() == "audit_chain_broken"]
    assert broken.levelname == "ERROR" and broken.broken_seq == victim.chain_seq and broken.broken_id == victim.pk
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["checks"]["audit_chain"]["ok"] is False
