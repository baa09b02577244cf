"""The kept per-household tag summary (HouseholdTags) that coverage reads instead of
joining every household to its tag periods: the triggers that keep it (PostgreSQL:
statement-level, one recount per writing statement over the households it touched;
SQLite: per row), and the recount that `minqing household_tags` checks it against or
rebuilds it from."""

from collections import defaultdict

# ---------------------------------------------------------------- PostgreSQL

PG_FORWARD = [
    """CREATE FUNCTION visits_householdtags_recount(ids bigint[]) RETURNS void
    LANGUAGE sql AS $$
    DELETE FROM visits_householdtags s WHERE s.household_id = ANY(ids)
       AND NOT EXISTS (SELECT 1 FROM registry_tagperiod p WHERE p.household_id = s.household_id);
    INSERT INTO visits_householdtags (household_id, grid_id, tags, since)
    SELECT h.id, h.grid_id,
           coalesce(',' || string_agg(DISTINCT p.tag_id::text, ',' ORDER BY p.tag_id::text)
                    FILTER (WHERE p.end_date IS NULL) || ',', ','),
           max(greatest(p.start_date, p.end_date))
      FROM registry_household h JOIN registry_tagperiod p ON p.household_id = h.id
     WHERE h.id = ANY(ids)
     GROUP BY h.id, h.grid_id
    ON CONFLICT (household_id) DO UPDATE
       SET grid_id = excluded.grid_id, tags = excluded.tags, since = excluded.since;
    $$""",
    """CREATE FUNCTION visits_householdtags_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM visits_householdtags_recount(ARRAY(SELECT DISTINCT household_id FROM new_rows));
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION visits_householdtags_old() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM visits_householdtags_recount(ARRAY(SELECT DISTINCT household_id FROM old_rows));
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION visits_householdtags_both() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM visits_householdtags_recount(ARRAY(
        SELECT household_id FROM new_rows UNION SELECT household_id FROM old_rows));
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION visits_householdtags_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM visits_householdtags; RETURN NULL; END $$""",
    """CREATE FUNCTION visits_householdtags_grid() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE visits_householdtags s SET grid_id = n.grid_id FROM new_rows n
       WHERE s.household_id = n.id AND s.grid_id <> n.grid_id;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER visits_householdtags_ins AFTER INSERT ON registry_tagperiod "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION visits_householdtags_new()",
    "CREATE TRIGGER visits_householdtags_upd AFTER UPDATE ON registry_tagperiod "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION visits_householdtags_both()",
    "CREATE TRIGGER visits_householdtags_del AFTER DELETE ON registry_tagperiod "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION visits_householdtags_old()",
    "CREATE TRIGGER visits_householdtags_trunc AFTER TRUNCATE ON registry_tagperiod "
    "FOR EACH STATEMENT EXECUTE FUNCTION visits_householdtags_truncate()",
    "CREATE TRIGGER visits_householdtags_grid AFTER UPDATE ON registry_household "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION visits_householdtags_grid()",
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS visits_householdtags_ins ON registry_tagperiod",
    "DROP TRIGGER IF EXISTS visits_householdtags_upd ON registry_tagperiod",
    "DROP TRIGGER IF EXISTS visits_householdtags_del ON registry_tagperiod",
    "DROP TRIGGER IF EXISTS visits_householdtags_trunc ON registry_tagperiod",
    "DROP TRIGGER IF EXISTS visits_householdtags_grid ON registry_household",
    "DROP FUNCTION IF EXISTS visits_householdtags_new()",
    "DROP FUNCTION IF EXISTS visits_householdtags_old()",
    "DROP FUNCTION IF EXISTS visits_householdtags_both()",
    "DROP FUNCTION IF EXISTS visits_householdtags_truncate()",
    "DROP FUNCTION IF EXISTS visits_householdtags_grid()",
    "DROP FUNCTION IF EXISTS visits_householdtags_recount(bigint[])",
]

# ---------------------------------------------------------------- SQLite (row triggers)


def _sqlite_recount(ref: str) -> str:
    return f"""
    DELETE FROM visits_householdtags WHERE household_id = {ref}
       AND NOT EXISTS (SELECT 1 FROM registry_tagperiod WHERE household_id = {ref});
    INSERT INTO visits_householdtags (household_id, grid_id, tags, since)
    SELECT h.id, h.grid_id,
           coalesce(',' || (SELECT group_concat(t, ',') FROM (
               SELECT DISTINCT tag_id AS t FROM registry_tagperiod
                WHERE household_id = h.id AND end_date IS NULL ORDER BY tag_id)) || ',', ','),
           (SELECT max(max(start_date, coalesce(end_date, start_date)))
              FROM registry_tagperiod WHERE household_id = h.id)
      FROM registry_household h
     WHERE h.id = {ref} AND EXISTS (SELECT 1 FROM registry_tagperiod WHERE household_id = {ref})
    ON CONFLICT (household_id) DO UPDATE
       SET grid_id = excluded.grid_id, tags = excluded.tags, since = excluded.since;"""


SQLITE_FORWARD = [
    "CREATE TRIGGER visits_householdtags_ins AFTER INSERT ON registry_tagperiod BEGIN"
    f"{_sqlite_recount('NEW.household_id')} END",
    "CREATE TRIGGER visits_householdtags_upd AFTER UPDATE ON registry_tagperiod BEGIN"
    f"{_sqlite_recount('OLD.household_id')}{_sqlite_recount('NEW.household_id')} END",
    "CREATE TRIGGER visits_householdtags_del AFTER DELETE ON registry_tagperiod BEGIN"
    f"{_sqlite_recount('OLD.household_id')} END",
    "CREATE TRIGGER visits_householdtags_grid AFTER UPDATE OF grid_id ON registry_household "
    "BEGIN UPDATE visits_householdtags SET grid_id = NEW.grid_id "
    "WHERE household_id = NEW.id AND grid_id <> NEW.grid_id; END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS visits_householdtags_ins",
    "DROP TRIGGER IF EXISTS visits_householdtags_upd",
    "DROP TRIGGER IF EXISTS visits_householdtags_del",
    "DROP TRIGGER IF EXISTS visits_householdtags_grid",
]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, []):
        schema_editor.execute(sql)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(sql)


# ---------------------------------------------------------------- recount, check, rebuild


def recount() -> dict[int, tuple[int, frozenset, object]]:
    """{household id: (grid id, open-ended tag ids, latest start or end date)} from the
    tag periods themselves."""
    from minqing.registry.models import TagPeriod

    tags: dict[int, set] = defaultdict(set)
    since: dict[int, object] = {}
    grid: dict[int, int] = {}
    for hid, gid, tag_id, start, end in TagPeriod.objects.values_list(
        "household_id", "household__grid_id", "tag_id", "start_date", "end_date"
    ).iterator(chunk_size=20000):
        grid[hid] = gid
        if end is None:
            tags[hid].add(tag_id)
        last = max(start, end) if end else start
        if hid not in since or last > since[hid]:
            since[hid] = last
    return {hid: (grid[hid], frozenset(tags.get(hid, ())), since[hid]) for hid in grid}


def parse(text: str) -> frozenset:
    return frozenset(int(t) for t in text.strip(",").split(",") if t)


def render(tags) -> str:
    return "," + "".join(f"{t}," for t in sorted(tags)) if tags else ","


def check() -> list[str]:
    """The kept rows that differ from a recount, one line each."""
    from .models import HouseholdTags

    expected = recount()
    problems = []
    seen = set()
    for hid, gid, text, since in HouseholdTags.objects.values_list(
        "household_id", "grid_id", "tags", "since"
    ).iterator(chunk_size=20000):
        seen.add(hid)
        want = expected.get(hid)
        got = (gid, parse(text), since)
        if want != got:
            problems.append(f"household {hid}: kept {got}, recount {want}")
    for hid in expected.keys() - seen:
        problems.append(f"household {hid}: missing, recount {expected[hid]}")
    return problems


def rebuild() -> int:
    """Replace the kept rows by a recount (after a bulk load that ran without the triggers,
    or to repair); returns the number of rows."""
    from .models import HouseholdTags

    rows = recount()
    HouseholdTags.objects.all().delete()
    HouseholdTags.objects.bulk_create(
        [
            HouseholdTags(household_id=hid, grid_id=gid, tags=render(tags), since=since)
            for hid, (gid, tags, since) in rows.items()
        ],
        batch_size=5000,
    )
    return len(rows)


def rebuild_sql(schema_editor) -> None:
    """The migration's fill, in one statement per database (no rows through Python)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "SELECT visits_householdtags_recount(ARRAY(SELECT DISTINCT household_id "
            "FROM registry_tagperiod))"
        )
    else:  # each row's update trigger recounts its household
        schema_editor.execute("UPDATE registry_tagperiod SET household_id = household_id")
