# ruff: noqa: S608  (every identifier below is a constant of this module; values go in as parameters)
"""The SQL of the metrics roll-up (PostgreSQL only): the trigger functions that append deltas, the full build and the
fold. Used by the migrations and by metrics.services; nothing here runs on another database.

What is counted, one `kind` each (columns d1, d2, d3 and value of `metrics_metricscount` / `metrics_metricsdelta`):

- interaction: d1 channel, d2 status, by the day of `created_at`.
- call: value = the call detail's `duration_seconds` (not null), of a call interaction, by the interaction's day.
  One row per distinct duration and day: a histogram of exact values (count, sum and percentiles come from it).
- message: outbound messages: d1 channel, d2 status, d3 the error code for failed/undelivered (else '').
- delivery: outbound messages delivered or read with `delivered_at`: d1 channel, value = microseconds from
  `coalesce(queued_at, created_at)` to `delivered_at` (a timestamptz difference has microsecond resolution: exact).
- otp: d1 status, d2 '0' when no code was ever entered (attempts = 0) else '1'.
- webhook: d1 provider, d2 status, by the day of `received_at`.

Days are calendar days in the zone `metrics_rollup_zone()` returns (settings.TIME_ZONE when the roll-up was built);
the selectors use the roll-up only when it is the zone they count in. Inserts and deletes are counted by
statement-level triggers (transition tables, one grouped insert per statement, so COPY and bulk deletes stay cheap);
updates by row-level triggers whose WHEN clause lets through only changes of a counted column (an update of
`updated_at`, a body or a counter nobody counts does not call the function). Triggers only ever INSERT into the delta
table: no row is updated on the write path, so concurrent writers never wait on each other here. `metrics_rollup_fold`
moves deltas into the counts (one folder at a time, an advisory lock); readers add both, in one statement.
"""

DELTA = "metrics_metricsdelta"
COUNT = "metrics_metricscount"
COLUMNS = "kind, day, d1, d2, d3, value, n"
FOLD_LOCK_KEY = 7_316_001  # pg_advisory_xact_lock key of the fold (any constant no other code uses)

SOURCE_TABLES = (
    "interactions_interaction",
    "interactions_calldetail",
    "interactions_message",
    "otp_otpchallenge",
    "webhooks_interactionevent",
)


def _day(column: str, tz: str) -> str:
    return f"({column} AT TIME ZONE {tz})::date"


def projections(table: str, rows: str, sign: str, tz: str) -> list[str]:
    """SELECTs of (kind, day, d1, d2, d3, value, n) for the rows `rows` (a relation aliased r) of `table`."""
    if table == "interactions_interaction":
        return [
            f"SELECT 'interaction', {_day('r.created_at', tz)}, r.channel, r.status, '', 0::bigint, {sign} "
            f"FROM {rows} r",
            # The call's histogram row moves with its interaction's day and channel (and goes when the interaction
            # goes before its call detail: the detail's own trigger then finds no interaction).
            f"SELECT 'call', {_day('r.created_at', tz)}, '', '', '', cd.duration_seconds::bigint, {sign} "
            f"FROM {rows} r JOIN interactions_calldetail cd ON cd.interaction_id = r.id "
            "WHERE r.channel = 'call' AND cd.duration_seconds IS NOT NULL",
        ]
    if table == "interactions_calldetail":
        return [
            f"SELECT 'call', {_day('i.created_at', tz)}, '', '', '', r.duration_seconds::bigint, {sign} "
            f"FROM {rows} r JOIN interactions_interaction i ON i.id = r.interaction_id "
            "WHERE i.channel = 'call' AND r.duration_seconds IS NOT NULL"
        ]
    if table == "interactions_message":
        return [
            f"SELECT 'message', {_day('r.created_at', tz)}, r.channel, r.status, "
            "CASE WHEN r.status IN ('failed', 'undelivered') THEN r.error_code ELSE '' END, 0::bigint, "
            f"{sign} FROM {rows} r WHERE r.direction = 'outbound'",
            f"SELECT 'delivery', {_day('r.created_at', tz)}, r.channel, '', '', "
            "(extract(epoch FROM r.delivered_at - coalesce(r.queued_at, r.created_at)) * 1000000)::bigint, "
            f"{sign} FROM {rows} r WHERE r.direction = 'outbound' AND r.status IN ('delivered', 'read') "
            "AND r.delivered_at IS NOT NULL",
        ]
    if table == "otp_otpchallenge":
        return [
            f"SELECT 'otp', {_day('r.created_at', tz)}, r.status, CASE WHEN r.attempts = 0 THEN '0' ELSE '1' END, "
            f"'', 0::bigint, {sign} FROM {rows} r"
        ]
    if table == "webhooks_interactionevent":
        return [
            f"SELECT 'webhook', {_day('r.received_at', tz)}, r.provider, r.status, '', 0::bigint, {sign} FROM {rows} r"
        ]
    raise ValueError(table)


# An update calls the function only when one of these changes (the WHEN clause of the row trigger).
UPDATE_WHEN = {
    "interactions_interaction": "OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.channel IS DISTINCT FROM "
    "NEW.channel OR OLD.status IS DISTINCT FROM NEW.status OR OLD.id IS DISTINCT FROM NEW.id",
    "interactions_calldetail": "OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds OR OLD.interaction_id IS "
    "DISTINCT FROM NEW.interaction_id",
    "interactions_message": "OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.channel IS DISTINCT FROM "
    "NEW.channel OR OLD.direction IS DISTINCT FROM NEW.direction OR OLD.status IS DISTINCT FROM NEW.status OR "
    "OLD.error_code IS DISTINCT FROM NEW.error_code OR OLD.queued_at IS DISTINCT FROM NEW.queued_at OR "
    "OLD.delivered_at IS DISTINCT FROM NEW.delivered_at",
    "otp_otpchallenge": "OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.status IS DISTINCT FROM NEW.status OR "
    "(OLD.attempts = 0) IS DISTINCT FROM (NEW.attempts = 0)",
    "webhooks_interactionevent": "OLD.received_at IS DISTINCT FROM NEW.received_at OR OLD.provider IS DISTINCT FROM "
    "NEW.provider OR OLD.status IS DISTINCT FROM NEW.status",
}


def _grouped_insert(selects: list[str]) -> str:
    union = " UNION ALL ".join(selects)
    return (
        f"INSERT INTO {DELTA} ({COLUMNS}) SELECT kind, day, d1, d2, d3, value, sum(n) "
        f"FROM ({union}) x(kind, day, d1, d2, d3, value, n) GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0"
    )


def _function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tz text := metrics_rollup_zone();
BEGIN
    IF tz IS NULL THEN RETURN NULL; END IF;
    {body};
    RETURN NULL;
END $$;"""


def zone_function_sql(zone: str | None) -> str:
    literal = "NULL" if zone is None else "'" + zone.replace("'", "''") + "'"
    return (
        "CREATE OR REPLACE FUNCTION metrics_rollup_zone() RETURNS text LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT {literal}::text $$;"
    )


def install_sql() -> list[str]:
    """The zone function (NULL: the roll-up is off until built) and, per source table, three trigger functions and
    their triggers."""
    statements = [zone_function_sql(None)]
    for table in SOURCE_TABLES:
        ins, dele, upd = f"metrics_{table}_ins", f"metrics_{table}_del", f"metrics_{table}_upd"
        statements += [
            _function(ins, _grouped_insert(projections(table, "new_rows", "1", "tz"))),
            _function(dele, _grouped_insert(projections(table, "old_rows", "-1", "tz"))),
            _function(
                upd,
                _grouped_insert(
                    projections(table, "(SELECT OLD.*)", "-1", "tz") + projections(table, "(SELECT NEW.*)", "1", "tz")
                ),
            ),
            f"CREATE TRIGGER {ins} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {ins}();",
            f"CREATE TRIGGER {dele} AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {dele}();",
            f"CREATE TRIGGER {upd} AFTER UPDATE ON {table} FOR EACH ROW WHEN ({UPDATE_WHEN[table]}) "
            f"EXECUTE FUNCTION {upd}();",
        ]
    return statements


def uninstall_sql() -> list[str]:
    statements = []
    for table in SOURCE_TABLES:
        for suffix in ("ins", "del", "upd"):
            name = f"metrics_{table}_{suffix}"
            statements += [f"DROP TRIGGER IF EXISTS {name} ON {table};", f"DROP FUNCTION IF EXISTS {name}();"]
    return [*statements, "DROP FUNCTION IF EXISTS metrics_rollup_zone();"]


def build_sql() -> list[str]:
    """Count everything again in the zone given as the parameter %(zone)s. The source tables are locked against writes
    (SHARE) for the duration, so that no change falls between the count and the switch of the zone function; the
    zone function itself is replaced by the caller in the same transaction."""
    # Calls once, from the interactions' side (the call details' projection is the same join).
    tables = [table for table in SOURCE_TABLES if table != "interactions_calldetail"]
    selects = [s for table in tables for s in projections(table, table, "1", "%(zone)s")]
    union = " UNION ALL ".join(selects)
    return [
        f"LOCK TABLE {', '.join(SOURCE_TABLES)} IN SHARE MODE",
        f"TRUNCATE {COUNT}, {DELTA}",
        f"INSERT INTO {COUNT} ({COLUMNS}) SELECT kind, day, d1, d2, d3, value, sum(n) "
        f"FROM ({union}) x(kind, day, d1, d2, d3, value, n) GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0",
    ]


def fold_sql() -> str:
    """Move up to %(batch)s deltas into the counts (the deleted deltas and the added counts commit together)."""
    return (
        f"WITH moved AS (DELETE FROM {DELTA} WHERE id IN (SELECT id FROM {DELTA} ORDER BY id LIMIT %(batch)s) "
        f"RETURNING {COLUMNS}), summed AS (SELECT kind, day, d1, d2, d3, value, sum(n) AS n, count(*) AS rows "
        "FROM moved GROUP BY 1, 2, 3, 4, 5, 6), upserted AS ("
        f"INSERT INTO {COUNT} ({COLUMNS}) SELECT kind, day, d1, d2, d3, value, n FROM summed WHERE n <> 0 "
        f"ON CONFLICT (kind, day, d1, d2, d3, value) DO UPDATE SET n = {COUNT}.n + EXCLUDED.n RETURNING 1) "
        "SELECT coalesce((SELECT sum(rows) FROM summed), 0)::bigint, (SELECT count(*) FROM upserted)"
    )


PRUNE_SQL = f"DELETE FROM {COUNT} WHERE n = 0"


def check_sql() -> str:
    """Keys whose kept count (counts + deltas) differs from a fresh count in the zone %(zone)s: (kind, day, d1, d2,
    d3, value, fresh, kept), at most %(limit)s of them. Reads every counted row: an operator's check, not a page."""
    tables = [table for table in SOURCE_TABLES if table != "interactions_calldetail"]
    fresh = " UNION ALL ".join(s for table in tables for s in projections(table, table, "1", "%(zone)s"))
    keys = "kind, day, d1, d2, d3, value"
    return (
        f"WITH fresh AS (SELECT {keys}, sum(n) AS n FROM ({fresh}) x({keys}, n) GROUP BY 1, 2, 3, 4, 5, 6), "
        f"kept AS (SELECT {keys}, sum(n) AS n FROM (SELECT {COLUMNS} FROM {COUNT} UNION ALL "
        f"SELECT {COLUMNS} FROM {DELTA}) y GROUP BY 1, 2, 3, 4, 5, 6) "
        f"SELECT {keys}, coalesce(f.n, 0), coalesce(k.n, 0) FROM fresh f FULL JOIN kept k USING ({keys}) "
        "WHERE coalesce(f.n, 0) <> coalesce(k.n, 0) ORDER BY 1, 2, 3, 4, 5, 6 LIMIT %(limit)s"
    )
