"""The kept per-household monthly visit count (HouseholdMonth) that coverage of a period
starting on a month's first day reads instead of counting the period's visits per
household: the triggers that keep it and the recount that `minqing household_months`
checks it against or rebuilds it from.

A row (household, month, grid, visits, last_at) holds the number of visits to the
household whose local time (settings.TIME_ZONE) falls in that calendar month and the
latest of their times; `month` is the month's first day, `grid_id` the household's grid
now. A household-month without visits has no row.

Kept by database triggers on visits_visit (insert, update of the household or the time,
delete, truncate) and registry_household (the grid), in the writing statement's
transaction. The visit triggers add and subtract counts instead of recounting, so two
transactions writing visits of one household both land (each upsert or update waits for
the other's row and adds to what it committed); each first takes the households' rows
`FOR NO KEY UPDATE` in id order (as the next-due triggers do), so a household moved to
another grid meanwhile gives its new rows the grid it was moved to, and a latest time
taken back by a delete is read again after any other writer of the household committed
(its visits' index, one descent per household-month). PostgreSQL:
statement-level, one upsert per writing statement; SQLite: per row."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings


def month_sql(vendor: str, ts: str) -> str:
    """The first day of the local calendar month of the timestamp `ts`, as SQL."""
    tz = settings.TIME_ZONE
    if vendor == "postgresql":
        return f"date_trunc('month', ({ts}) AT TIME ZONE '{tz}')::date"
    # SQLite keeps UTC text; a fixed offset, as household_due does (no summer time here)
    hours = int(ZoneInfo(tz).utcoffset(datetime(2025, 1, 1)).total_seconds() // 3600)
    return f"date({ts}, '{hours:+d} hours', 'start of month')"


COLUMNS = "INSERT INTO visits_householdmonth (household_id, month, grid_id, visits, last_at)"


def recount_sql(vendor: str) -> str:
    """Every household-month with visits, counted from the visits themselves."""
    month = month_sql(vendor, "v.visited_at")
    return (
        f"SELECT v.household_id, {month} AS month, h.grid_id, count(*) AS visits, "
        "max(v.visited_at) AS last_at "
        "FROM visits_visit v JOIN registry_household h ON h.id = v.household_id "
        f"GROUP BY v.household_id, {month}, h.grid_id"
    )


# ---------------------------------------------------------------- PostgreSQL


def pg_forward() -> list[str]:
    tz = settings.TIME_ZONE

    def month(alias):
        return month_sql("postgresql", f"{alias}.visited_at")

    def add(rows: str) -> str:
        """Add the visits of `rows` (household_id, month, visited_at) to the kept counts."""
        return (
            f"{COLUMNS} SELECT c.household_id, c.month, h.grid_id, c.n, c.last_at FROM ("
            "SELECT household_id, month, count(*) AS n, max(visited_at) AS last_at "
            f"FROM ({rows}) r GROUP BY household_id, month) c "
            "JOIN registry_household h ON h.id = c.household_id "
            "ON CONFLICT (household_id, month) DO UPDATE "
            "SET visits = visits_householdmonth.visits + excluded.visits, "
            "last_at = greatest(visits_householdmonth.last_at, excluded.last_at), "
            "grid_id = excluded.grid_id"
        )

    def subtract(rows: str) -> str:
        """Take the visits of `rows` (household_id, month, ...) off the kept counts; a month
        left without visits loses its row (two statements: one may not change a row
        twice), the others read their latest time again."""
        counted = (
            f"WITH c AS (SELECT household_id, month, count(*) AS n FROM ({rows}) r "
            "GROUP BY household_id, month) "
        )
        match = "m.household_id = c.household_id AND m.month = c.month"
        return (
            f"{counted}DELETE FROM visits_householdmonth m USING c "
            f"WHERE {match} AND m.visits <= c.n; "
            f"{counted}UPDATE visits_householdmonth m SET visits = m.visits - c.n, "
            "last_at = (SELECT max(v.visited_at) FROM visits_visit v "
            "WHERE v.household_id = m.household_id "
            f"AND v.visited_at >= m.month::timestamp AT TIME ZONE '{tz}' "
            f"AND v.visited_at < (m.month + interval '1 month') AT TIME ZONE '{tz}') "
            f"FROM c WHERE {match}"
        )

    def lock(rows: str) -> str:
        return (
            "PERFORM 1 FROM registry_household WHERE id IN "
            f"(SELECT household_id FROM ({rows}) r) ORDER BY id FOR NO KEY UPDATE"
        )

    new = f"SELECT household_id, {month('n')} AS month, visited_at FROM new_rows n"
    old = f"SELECT household_id, {month('o')} AS month, visited_at FROM old_rows o"
    # an update counts only when it changes a visit's household or time (a time within
    # the month may change the month's latest)
    changed = (
        "FROM old_rows o JOIN new_rows n ON n.id = o.id "
        "WHERE o.household_id <> n.household_id OR o.visited_at <> n.visited_at"
    )
    moved_old = f"SELECT o.household_id, {month('o')} AS month, o.visited_at {changed}"
    moved_new = f"SELECT n.household_id, {month('n')} AS month, n.visited_at {changed}"
    return [
        f"""CREATE FUNCTION visits_householdmonth_new() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          {lock(new)};
          {add(new)};
          RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION visits_householdmonth_old() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          {lock(old)};
          {subtract(old)};
          RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION visits_householdmonth_both() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT EXISTS (SELECT 1 {changed}) THEN RETURN NULL; END IF;
          {lock(f"{moved_old} UNION {moved_new}")};
          {subtract(moved_old)};
          {add(moved_new)};
          RETURN NULL;
        END $$""",
        """CREATE FUNCTION visits_householdmonth_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN DELETE FROM visits_householdmonth; RETURN NULL; END $$""",
        """CREATE FUNCTION visits_householdmonth_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE visits_householdmonth m SET grid_id = n.grid_id FROM new_rows n
           WHERE m.household_id = n.id AND m.grid_id <> n.grid_id;
          RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION visits_householdmonth_rebuild() RETURNS void LANGUAGE sql AS $$
        TRUNCATE visits_householdmonth;
        {COLUMNS} {recount_sql("postgresql")};
        $$""",
        "CREATE TRIGGER visits_householdmonth_ins AFTER INSERT ON visits_visit "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householdmonth_new()",
        "CREATE TRIGGER visits_householdmonth_upd AFTER UPDATE ON visits_visit "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householdmonth_both()",
        "CREATE TRIGGER visits_householdmonth_del AFTER DELETE ON visits_visit "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householdmonth_old()",
        "CREATE TRIGGER visits_householdmonth_trunc AFTER TRUNCATE ON visits_visit "
        "FOR EACH STATEMENT EXECUTE FUNCTION visits_householdmonth_truncate()",
        "CREATE TRIGGER visits_householdmonth_grid AFTER UPDATE ON registry_household "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householdmonth_grid()",
    ]


PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS visits_householdmonth_ins ON visits_visit",
    "DROP TRIGGER IF EXISTS visits_householdmonth_upd ON visits_visit",
    "DROP TRIGGER IF EXISTS visits_householdmonth_del ON visits_visit",
    "DROP TRIGGER IF EXISTS visits_householdmonth_trunc ON visits_visit",
    "DROP TRIGGER IF EXISTS visits_householdmonth_grid ON registry_household",
    "DROP FUNCTION IF EXISTS visits_householdmonth_new()",
    "DROP FUNCTION IF EXISTS visits_householdmonth_old()",
    "DROP FUNCTION IF EXISTS visits_householdmonth_both()",
    "DROP FUNCTION IF EXISTS visits_householdmonth_truncate()",
    "DROP FUNCTION IF EXISTS visits_householdmonth_grid()",
    "DROP FUNCTION IF EXISTS visits_householdmonth_rebuild()",
]

# ---------------------------------------------------------------- SQLite (row triggers)


def _sqlite_add(ref: str) -> str:
    month = month_sql("sqlite", f"{ref}.visited_at")
    return (
        f"{COLUMNS} SELECT {ref}.household_id, {month}, h.grid_id, 1, {ref}.visited_at "
        f"FROM registry_household h WHERE h.id = {ref}.household_id "
        "ON CONFLICT (household_id, month) DO UPDATE "
        "SET visits = visits + 1, last_at = max(last_at, excluded.last_at), "
        "grid_id = excluded.grid_id;"
    )


def _sqlite_subtract(ref: str) -> str:
    where = (
        f"WHERE household_id = {ref}.household_id "
        f"AND month = {month_sql('sqlite', f'{ref}.visited_at')}"
    )
    latest = (
        "(SELECT max(v.visited_at) FROM visits_visit v "
        "WHERE v.household_id = visits_householdmonth.household_id "
        f"AND {month_sql('sqlite', 'v.visited_at')} = visits_householdmonth.month)"
    )
    return (
        f"DELETE FROM visits_householdmonth {where} AND visits <= 1; "
        f"UPDATE visits_householdmonth SET visits = visits - 1, last_at = {latest} {where};"
    )


SQLITE_FORWARD = [
    f"CREATE TRIGGER visits_householdmonth_ins AFTER INSERT ON visits_visit BEGIN "
    f"{_sqlite_add('NEW')} END",
    "CREATE TRIGGER visits_householdmonth_upd AFTER UPDATE OF household_id, visited_at "
    f"ON visits_visit BEGIN {_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER visits_householdmonth_del AFTER DELETE ON visits_visit BEGIN "
    f"{_sqlite_subtract('OLD')} END",
    "CREATE TRIGGER visits_householdmonth_grid AFTER UPDATE OF grid_id ON registry_household "
    "BEGIN UPDATE visits_householdmonth SET grid_id = NEW.grid_id "
    "WHERE household_id = NEW.id AND grid_id <> NEW.grid_id; END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS visits_householdmonth_ins",
    "DROP TRIGGER IF EXISTS visits_householdmonth_upd",
    "DROP TRIGGER IF EXISTS visits_householdmonth_del",
    "DROP TRIGGER IF EXISTS visits_householdmonth_grid",
]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": pg_forward, "sqlite": lambda: SQLITE_FORWARD}.get(vendor, list)():
        schema_editor.execute(sql)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(sql)


# ---------------------------------------------------------------- recount, check, rebuild


def check() -> list[str]:
    """The kept rows that differ from a recount from the visits, one line each (in the
    database: a recount of millions of visits does not go through Python)."""
    from django.db import connection

    kept = "SELECT household_id, month, grid_id, visits, last_at FROM visits_householdmonth"
    recount = recount_sql(connection.vendor)
    sql = (
        f"SELECT 'kept', * FROM ({kept} EXCEPT {recount}) a "
        f"UNION ALL SELECT 'recount', * FROM ({recount} EXCEPT {kept}) b "
        "ORDER BY 2, 3, 1"
    )
    with connection.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    return [
        f"household {h} month {m}: {side} grid {g}, {n} visits, the latest {last}"
        for side, h, m, g, n, last in rows
    ]


def rebuild() -> int:
    """Replace the kept rows by a recount (after a bulk load that ran without the triggers,
    or to repair); returns the number of rows."""
    from django.db import connection

    from .models import HouseholdMonth

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT visits_householdmonth_rebuild()")
        else:
            cur.execute("DELETE FROM visits_householdmonth")
            cur.execute(f"{COLUMNS} {recount_sql('sqlite')}")
    return HouseholdMonth.objects.count()


def rebuild_sql(schema_editor) -> None:
    """The migration's fill, one statement in the database."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("SELECT visits_householdmonth_rebuild()")
    elif vendor == "sqlite":
        schema_editor.execute(f"{COLUMNS} {recount_sql('sqlite')}")
