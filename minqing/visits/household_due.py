"""The kept per-household next-due date (HouseholdDue) that the due list and the home
panel read instead of evaluating the must-visit rules over the whole jurisdiction.

A household's kept `due` is the earliest of (selectors.due_items, with no horizon):
- per active tag rule whose tag it carries open-ended: the later of the first start of
  that tag and its last visit's local day, plus the rule's interval;
- per active open-appeal rule, when it has an open appeal: the later of the first such
  appeal's local day and its last visit's, plus the interval;
- per active pairing rule and open pairing: the later of the pairing's start and the local
  day of the pairing cadre's own last visit there, plus the interval;
- the follow-up date of its latest visit.
`since` is the latest start date (tag or pairing) that went into it: the due list trusts
the row on any day >= since (before it, a source not yet started would count) and asks the
rules otherwise. A household with nothing due has no row.

Kept by database triggers, in the writing statement's transaction, whatever writes:
registry_tagperiod, visits_lastvisit (every visit and follow-up), appeals_appeal,
visits_pairing, visits_visit_visitors and visits_visit (a paired household's cadre
visits), registry_household (the grid) and visits_visitrule (a rule edit recounts every
household in the same transaction). PostgreSQL: statement-level, one recount per writing
statement over the households it touched; SQLite: per row. `minqing household_due
--check` compares the rows with the rules engine (selectors.due_items) run over every
household, `--rebuild` recounts them."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings


def _literals() -> tuple[str, str]:
    from minqing.appeals.models import OPEN_STATES

    states = ", ".join(f"'{s}'" for s in OPEN_STATES)
    return settings.TIME_ZONE, states


def select_sql(vendor: str, where: str) -> str:
    """The recount of the households for which `where` (an SQL condition on the column
    `household_id` of each source, written as `{hid}`) holds: household id, grid id, due,
    since. One SELECT without CTEs (SQLite refuses them in triggers)."""
    tz, states = _literals()
    if vendor == "postgresql":

        def day(ts):
            return f"(({ts}) AT TIME ZONE '{tz}')::date"

        def later(a, b):
            return f"greatest({a}, {b})"

        def plus(d, n):
            return f"({d}) + {n}"

        true, null_date = "true", "NULL::date"
    else:
        hours = int(ZoneInfo(tz).utcoffset(datetime(2025, 1, 1)).total_seconds() // 3600)

        def day(ts):
            return f"date({ts}, '{hours:+d} hours')"

        def later(a, b):
            return f"max({a}, coalesce({b}, {a}))"

        def plus(d, n):
            return f"date({d}, '+' || {n} || ' days')"

        true, null_date = "1", "NULL"

    def w(col):
        return where.format(hid=col)

    last_day = day("max(lv.visited_at)")
    cadre_last = (
        f"(SELECT {day('max(v.visited_at)')} FROM visits_visit v "
        "JOIN visits_visit_visitors vv ON vv.visit_id = v.id "
        "WHERE v.household_id = pr.household_id AND vv.user_id = pr.cadre_id)"
    )
    return f"""
SELECT c.household_id, h.grid_id, min(c.due) AS due, max(c.since) AS since FROM (
  SELECT p.household_id,
         {plus(later("min(p.start_date)", last_day), "r.interval_days")} AS due,
         min(p.start_date) AS since
    FROM registry_tagperiod p
    JOIN visits_visitrule r ON r.tag_id = p.tag_id AND r.is_active = {true} AND r.kind = 'tag'
    LEFT JOIN visits_lastvisit lv ON lv.household_id = p.household_id
   WHERE p.end_date IS NULL AND {w("p.household_id")}
   GROUP BY p.household_id, r.id, r.interval_days
  UNION ALL
  SELECT a.household_id,
         {plus(later(day("min(a.created_at)"), last_day), "r.interval_days")},
         {null_date}
    FROM appeals_appeal a
    JOIN visits_visitrule r ON r.is_active = {true} AND r.kind = 'open_appeal'
    LEFT JOIN visits_lastvisit lv ON lv.household_id = a.household_id
   WHERE a.state IN ({states}) AND {w("a.household_id")}
   GROUP BY a.household_id, r.id, r.interval_days
  UNION ALL
  SELECT pr.household_id, {plus(later("pr.start_date", cadre_last), "r.interval_days")},
         pr.start_date
    FROM visits_pairing pr
    JOIN visits_visitrule r ON r.is_active = {true} AND r.kind = 'pairing'
   WHERE pr.end_date IS NULL AND {w("pr.household_id")}
  UNION ALL
  SELECT lv.household_id, lv.follow_up_date, {null_date}
    FROM visits_lastvisit lv
   WHERE lv.follow_up_date IS NOT NULL AND {w("lv.household_id")}
) c JOIN registry_household h ON h.id = c.household_id
GROUP BY c.household_id, h.grid_id"""


COLUMNS = "INSERT INTO visits_householddue (household_id, grid_id, due, since)"

# ---------------------------------------------------------------- PostgreSQL


def pg_forward() -> list[str]:
    recount = select_sql("postgresql", "{hid} = ANY(ids)")
    everything = select_sql("postgresql", "true")
    fns = [
        # Two transactions recounting one household (writers that do not lock it: an
        # appeal and a visit) take turns on its row, in id order, and the second counts
        # from a snapshot taken after the first committed (a volatile SQL function's
        # statements each take their own); an upsert all the same.
        f"""CREATE FUNCTION visits_householddue_recount(ids bigint[]) RETURNS void
        LANGUAGE sql AS $$
        SELECT 1 FROM registry_household WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
        WITH c AS ({recount}), kept AS (
          {COLUMNS} SELECT * FROM c
          ON CONFLICT (household_id) DO UPDATE
             SET grid_id = excluded.grid_id, due = excluded.due, since = excluded.since
          RETURNING household_id)
        DELETE FROM visits_householddue d WHERE d.household_id = ANY(ids)
           AND d.household_id NOT IN (SELECT household_id FROM c);
        $$""",
        f"""CREATE FUNCTION visits_householddue_rebuild() RETURNS void LANGUAGE sql AS $$
        DELETE FROM visits_householddue;
        {COLUMNS} {everything};
        $$""",
    ]

    # Rows without a household (every appeal a resident files on the web form, most
    # appeals) change no kept date: the recount is not called for them (planning its
    # statements was ~1.3 ms of each public intake's 1.5 ms in the database).
    def trigger_fn(name, ids):
        return (
            f"CREATE FUNCTION visits_householddue_{name}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ DECLARE ids bigint[]; BEGIN "
            f"ids := ARRAY(SELECT h FROM ({ids}) s(h) WHERE h IS NOT NULL); "
            "IF cardinality(ids) > 0 THEN PERFORM visits_householddue_recount(ids); END IF; "
            "RETURN NULL; END $$"
        )

    paired = (
        "SELECT DISTINCT v.household_id FROM visits_visit v WHERE v.id IN ({visits}) "
        "AND EXISTS (SELECT 1 FROM visits_pairing pr WHERE pr.household_id = v.household_id)"
    )
    fns += [
        trigger_fn("new", "SELECT DISTINCT household_id FROM new_rows"),
        trigger_fn("old", "SELECT DISTINCT household_id FROM old_rows"),
        trigger_fn(
            "both", "SELECT household_id FROM new_rows UNION SELECT household_id FROM old_rows"
        ),
        # appeals: only the rows whose state, household or filing time changed
        trigger_fn(
            "appeal",
            "SELECT n.household_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE n.state IS DISTINCT FROM o.state "
            "OR n.household_id IS DISTINCT FROM o.household_id "
            "OR n.created_at IS DISTINCT FROM o.created_at "
            "UNION SELECT o.household_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE o.household_id IS DISTINCT FROM n.household_id",
        ),
        # a visit's visitors or time: only for households with a pairing
        trigger_fn("visitors_new", paired.format(visits="SELECT visit_id FROM new_rows")),
        trigger_fn("visitors_old", paired.format(visits="SELECT visit_id FROM old_rows")),
        trigger_fn(
            "visit",
            "SELECT DISTINCT n.household_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE (n.visited_at <> o.visited_at OR n.household_id <> o.household_id) "
            "AND EXISTS (SELECT 1 FROM visits_pairing pr "
            "WHERE pr.household_id IN (n.household_id, o.household_id)) "
            "UNION SELECT o.household_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
            "WHERE n.household_id <> o.household_id",
        ),
        """CREATE FUNCTION visits_householddue_rules() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM visits_householddue_rebuild(); RETURN NULL; END $$""",
        """CREATE FUNCTION visits_householddue_grid() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE visits_householddue d SET grid_id = n.grid_id FROM new_rows n
           WHERE d.household_id = n.id AND d.grid_id <> n.grid_id;
          RETURN NULL;
        END $$""",
    ]
    triggers = []
    for table, short in (
        ("registry_tagperiod", "tp"),
        ("visits_lastvisit", "lv"),
        ("visits_pairing", "pr"),
    ):
        triggers += [
            f"CREATE TRIGGER visits_householddue_{short}_ins AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION visits_householddue_new()",
            f"CREATE TRIGGER visits_householddue_{short}_upd AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION visits_householddue_both()",
            f"CREATE TRIGGER visits_householddue_{short}_del AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION visits_householddue_old()",
        ]
    triggers += [
        "CREATE TRIGGER visits_householddue_ap_ins AFTER INSERT ON appeals_appeal "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_new()",
        "CREATE TRIGGER visits_householddue_ap_upd AFTER UPDATE ON appeals_appeal "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_appeal()",
        "CREATE TRIGGER visits_householddue_ap_del AFTER DELETE ON appeals_appeal "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_old()",
        "CREATE TRIGGER visits_householddue_vv_ins AFTER INSERT ON visits_visit_visitors "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_visitors_new()",
        "CREATE TRIGGER visits_householddue_vv_del AFTER DELETE ON visits_visit_visitors "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_visitors_old()",
        "CREATE TRIGGER visits_householddue_visit AFTER UPDATE ON visits_visit "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_visit()",
        "CREATE TRIGGER visits_householddue_rules AFTER INSERT OR UPDATE OR DELETE "
        "ON visits_visitrule FOR EACH STATEMENT EXECUTE FUNCTION visits_householddue_rules()",
        "CREATE TRIGGER visits_householddue_grid AFTER UPDATE ON registry_household "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION visits_householddue_grid()",
    ]
    return fns + triggers


PG_TRIGGERS = {
    "registry_tagperiod": ["tp_ins", "tp_upd", "tp_del"],
    "visits_lastvisit": ["lv_ins", "lv_upd", "lv_del"],
    "visits_pairing": ["pr_ins", "pr_upd", "pr_del"],
    "appeals_appeal": ["ap_ins", "ap_upd", "ap_del"],
    "visits_visit_visitors": ["vv_ins", "vv_del"],
    "visits_visit": ["visit"],
    "visits_visitrule": ["rules"],
    "registry_household": ["grid"],
}
PG_FUNCTIONS = [
    "new()",
    "old()",
    "both()",
    "appeal()",
    "visitors_new()",
    "visitors_old()",
    "visit()",
    "rules()",
    "grid()",
    "rebuild()",
    "recount(bigint[])",
]


def pg_backward() -> list[str]:
    out = [
        f"DROP TRIGGER IF EXISTS visits_householddue_{name} ON {table}"
        for table, names in PG_TRIGGERS.items()
        for name in names
    ]
    return out + [f"DROP FUNCTION IF EXISTS visits_householddue_{f}" for f in PG_FUNCTIONS]


# ---------------------------------------------------------------- SQLite (row triggers)


def _sqlite_recount(ref: str) -> str:
    return (
        f"DELETE FROM visits_householddue WHERE household_id = {ref}; "
        f"{COLUMNS} {select_sql('sqlite', '{hid} = ' + ref)};"
    )


def _sqlite_paired(visit: str) -> str:
    """The recount of a visit's household, when it has a pairing."""
    ref = f"(SELECT household_id FROM visits_visit WHERE id = {visit})"
    return _sqlite_recount(ref)


def sqlite_forward() -> list[str]:
    out = []
    for table, short in (
        ("registry_tagperiod", "tp"),
        ("visits_lastvisit", "lv"),
        ("visits_pairing", "pr"),
        ("appeals_appeal", "ap"),
    ):
        # as on PostgreSQL, a row without a household (most appeals) recounts nothing
        out += [
            f"CREATE TRIGGER visits_householddue_{short}_ins AFTER INSERT ON {table} "
            f"WHEN NEW.household_id IS NOT NULL BEGIN {_sqlite_recount('NEW.household_id')} END",
            f"CREATE TRIGGER visits_householddue_{short}_upd AFTER UPDATE ON {table} "
            "WHEN OLD.household_id IS NOT NULL OR NEW.household_id IS NOT NULL BEGIN "
            f"{_sqlite_recount('OLD.household_id')}{_sqlite_recount('NEW.household_id')} END",
            f"CREATE TRIGGER visits_householddue_{short}_del AFTER DELETE ON {table} "
            f"WHEN OLD.household_id IS NOT NULL BEGIN {_sqlite_recount('OLD.household_id')} END",
        ]
    has_pairing = (
        "EXISTS (SELECT 1 FROM visits_pairing pr JOIN visits_visit v "
        "ON v.household_id = pr.household_id WHERE v.id = {visit})"
    )
    out += [
        "CREATE TRIGGER visits_householddue_vv_ins AFTER INSERT ON visits_visit_visitors "
        f"WHEN {has_pairing.format(visit='NEW.visit_id')} BEGIN "
        f"{_sqlite_paired('NEW.visit_id')} END",
        "CREATE TRIGGER visits_householddue_vv_del AFTER DELETE ON visits_visit_visitors "
        f"WHEN {has_pairing.format(visit='OLD.visit_id')} BEGIN "
        f"{_sqlite_paired('OLD.visit_id')} END",
        "CREATE TRIGGER visits_householddue_visit AFTER UPDATE OF visited_at, household_id "
        f"ON visits_visit BEGIN {_sqlite_recount('OLD.household_id')}"
        f"{_sqlite_recount('NEW.household_id')} END",
        "CREATE TRIGGER visits_householddue_grid AFTER UPDATE OF grid_id ON registry_household "
        "BEGIN UPDATE visits_householddue SET grid_id = NEW.grid_id "
        "WHERE household_id = NEW.id AND grid_id <> NEW.grid_id; END",
    ]
    rebuild = f"DELETE FROM visits_householddue; {COLUMNS} {select_sql('sqlite', '1')};"
    for op in ("INSERT", "UPDATE", "DELETE"):
        out.append(
            f"CREATE TRIGGER visits_householddue_rules_{op.lower()} AFTER {op} "
            f"ON visits_visitrule BEGIN {rebuild} END"
        )
    return out


SQLITE_NAMES = [f"{s}_{op}" for s in ("tp", "lv", "pr", "ap") for op in ("ins", "upd", "del")] + [
    "vv_ins",
    "vv_del",
    "visit",
    "grid",
    "rules_insert",
    "rules_update",
    "rules_delete",
]


def sqlite_backward() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS visits_householddue_{n}" for n in SQLITE_NAMES]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": pg_forward, "sqlite": sqlite_forward}.get(vendor, list)():
        schema_editor.execute(sql)


def uninstall(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": pg_backward, "sqlite": sqlite_backward}.get(vendor, list)():
        schema_editor.execute(sql)


# ---------------------------------------------------------------- recount, check, rebuild

EVERYONE = None  # the rules engine over every household: an unsaved active superuser
FAR = date(9000, 1, 1)


def recount() -> dict[int, tuple[int, date, date | None]]:
    """{household id: (grid id, due, since)} from the rules engine itself
    (selectors.due_items over every household, no horizon), independent of the SQL the
    triggers run."""
    from minqing.accounts.models import User
    from minqing.registry.models import Household, TagPeriod

    from . import selectors
    from .models import Pairing, VisitRule

    everyone = User(username="-", is_superuser=True, is_active=True)
    items = selectors.due_items(fetched_by=everyone, today=FAR, horizon_days=0)
    grids = dict(
        Household.objects.filter(pk__in=[i.household_id for i in items]).values_list(
            "id", "grid_id"
        )
    )
    since: dict[int, date] = {}
    active = VisitRule.objects.filter(is_active=True)
    tags = set(active.filter(kind=VisitRule.Kind.TAG).values_list("tag_id", flat=True))
    first: dict[tuple, date] = {}
    for hid, tag_id, start in TagPeriod.objects.filter(
        end_date__isnull=True, tag_id__in=tags
    ).values_list("household_id", "tag_id", "start_date"):
        key = (hid, tag_id)
        first[key] = min(first.get(key, start), start)
    starts = [(hid, d) for (hid, _t), d in first.items()]
    if active.filter(kind=VisitRule.Kind.PAIRING).exists():
        starts += list(
            Pairing.objects.filter(end_date__isnull=True).values_list("household_id", "start_date")
        )
    for hid, d in starts:
        since[hid] = max(since.get(hid, d), d)
    return {
        i.household_id: (grids[i.household_id], i.due, since.get(i.household_id)) for i in items
    }


def check() -> list[str]:
    """The kept rows that differ from the rules engine, one line each."""
    from .models import HouseholdDue

    expected = recount()
    problems = []
    seen = set()
    for hid, gid, due, since in HouseholdDue.objects.values_list(
        "household_id", "grid_id", "due", "since"
    ).iterator(chunk_size=20000):
        seen.add(hid)
        want = expected.get(hid)
        if want != (gid, due, since):
            problems.append(f"household {hid}: kept {(gid, due, since)}, rules {want}")
    for hid in expected.keys() - seen:
        problems.append(f"household {hid}: missing, rules {expected[hid]}")
    return problems


def rebuild() -> int:
    """Recount every row in the database (after a bulk load without the triggers, or to
    repair); returns the number of rows."""
    from django.db import connection

    from .models import HouseholdDue

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT visits_householddue_rebuild()")
        else:
            cur.execute("DELETE FROM visits_householddue")
            cur.execute(f"{COLUMNS} {select_sql('sqlite', '1')}")
    return HouseholdDue.objects.count()


def rebuild_sql(schema_editor) -> None:
    """The migration's fill."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SELECT visits_householddue_rebuild()")
    else:
        schema_editor.execute(f"{COLUMNS} {select_sql('sqlite', '1')}")
