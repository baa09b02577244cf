"""Reads of the visits app: a household's visits, the due list (五必访), coverage of an area
for a period, and a cadre's visit log (民情日志). Each is a fixed number of queries."""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, IntegerField, Max, Min, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from minqing.accounts.models import User
from minqing.areas.models import Area, Level
from minqing.core.compiled import rows as compiled_rows
from minqing.core.roles import Role
from minqing.registry.models import Household, TagPeriod

from .models import LastVisit, Visit, VisitFinding, VisitRule

DUE_HORIZON_DAYS = 7


def day_start(day: date) -> datetime:
    """The first instant of a local day (periods are cut in Asia/Shanghai)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def visit_rows(qs):
    return qs.select_related(
        "household", "household__head", "grid", "recorded_by"
    ).prefetch_related(
        "visitors",
        "met_members",
        Prefetch("findings", queryset=VisitFinding.objects.select_related("tag_period__resident")),
        "notes__author",
        "photos",
    )


# ---------------------------------------------------------------- rules engine


def due_date(*, since: date, last_visit: date | None, interval_days: int) -> date:
    """A household matching a rule since `since` must be visited within `interval_days` of
    the later of that day and its last visit."""
    start = max(since, last_visit) if last_visit else since
    return start + timedelta(days=interval_days)


@dataclass
class DueItem:
    household_id: int
    due: date
    reasons: list[str] = field(default_factory=list)
    last_visited_at: datetime | None = None
    household: Household | None = None

    def overdue_days(self, today: date) -> int:
        return max((today - self.due).days, 0)


def due_items(
    *,
    fetched_by,
    today: date | None = None,
    horizon_days: int = DUE_HORIZON_DAYS,
    households: list[int] | None = None,
    active: list[VisitRule] | None = None,
):
    """Households in the user's jurisdiction due (or overdue) for a visit by today + horizon,
    nearest first (the rules engine; `households` restricts it to those ids). Two queries:
    matching tag periods with their last visit, follow-ups (and one per appeal or pairing
    rule kind in force)."""
    today = today or timezone.localdate()
    limit = today + timedelta(days=horizon_days)
    if active is None:
        active = list(VisitRule.objects.filter(is_active=True))
    only = {} if households is None else {"household_id__in": households}
    # Every active rule of a tag counts (two rules may name one tag): the earliest due wins,
    # as in the kept next-due date.
    rules: dict[int, list[VisitRule]] = {}
    for r in active:
        if r.kind == VisitRule.Kind.TAG:
            rules.setdefault(r.tag_id, []).append(r)
    appeal_rules = [r for r in active if r.kind == VisitRule.Kind.OPEN_APPEAL]
    rank = {r.pk: (r.order, r.name) for r in active}
    offers = _Offers()
    offer = offers.offer

    if rules:
        rows = (
            TagPeriod.objects.visible_to(fetched_by)
            .filter(end_date__isnull=True, tag_id__in=list(rules), start_date__lte=today)
            .filter(**only)
            .values("household_id", "tag_id")
            .annotate(since=Min("start_date"), last=Max("household__last_visit__visited_at"))
            .order_by()
        )
        for row in rows:
            last = row["last"]
            for rule in rules[row["tag_id"]]:
                due = due_date(
                    since=row["since"],
                    last_visit=timezone.localdate(last) if last else None,
                    interval_days=rule.interval_days,
                )
                if due <= limit:
                    offer(row["household_id"], due, rule.name, last, rank[rule.pk])
    if appeal_rules:
        from minqing.appeals.models import OPEN_STATES, Appeal

        rows = (
            Appeal.objects.filter(
                state__in=OPEN_STATES, household__in=Household.objects.visible_to(fetched_by)
            )
            .filter(**only)
            .values("household_id")
            .annotate(since=Min("created_at"), last=Max("household__last_visit__visited_at"))
            .order_by()
        )
        for row in rows:
            last = row["last"]
            for rule in appeal_rules:
                due = due_date(
                    since=timezone.localdate(row["since"]),
                    last_visit=timezone.localdate(last) if last else None,
                    interval_days=rule.interval_days,
                )
                if due <= limit:
                    offer(row["household_id"], due, rule.name, last, rank[rule.pk])
    pairing_rules = [r for r in active if r.kind == VisitRule.Kind.PAIRING]
    if pairing_rules:
        _offer_pairings(fetched_by, today, limit, pairing_rules, offer, only, rank)
    follow_ups = (
        LastVisit.objects.filter(follow_up_date__isnull=False, follow_up_date__lte=limit)
        .filter(**only)
        .filter(household__in=Household.objects.visible_to(fetched_by))
        .values_list("household_id", "follow_up_date", "visited_at")
    )
    for hid, day, last in follow_ups:
        offer(hid, day, str(VisitFinding.Kind.FOLLOW_UP.label), last, (math.inf,))
    return offers.items()


class _Offers:
    """Due items from the sources offered one by one: a household's due is the earliest
    offered, its reasons are ordered by their due date, then by rule (the rules' order,
    follow-ups last), whatever order the rows came in; its last visit is the first
    offered's."""

    def __init__(self):
        self.by_household: dict[int, DueItem] = {}
        self.reasons: dict[int, list] = {}

    def offer(self, hid, due, reason, last, rank: tuple):
        item = self.by_household.get(hid)
        if item is None:
            self.by_household[hid] = DueItem(hid, due, [], last)
            self.reasons[hid] = [(due, rank, reason)]
        else:
            item.due = min(item.due, due)
            self.reasons[hid].append((due, rank, reason))

    def items(self) -> list[DueItem]:
        for hid, item in self.by_household.items():
            item.reasons = [r for _d, _k, r in sorted(self.reasons[hid])]
        return sorted(self.by_household.values(), key=lambda i: (i.due, i.household_id))


def _offer_pairings(fetched_by, today, limit, rules, offer, only, rank) -> None:
    """结对帮扶: a paired household is due `interval` days after the later of the pairing's
    start and its cadre's own last visit (another cadre's visit does not count). The
    pairings the user sees: their own, and those in their jurisdiction. Two queries."""
    from .models import Pairing

    pairs = list(
        Pairing.objects.visible_to(fetched_by)
        .filter(end_date__isnull=True, start_date__lte=today)
        .filter(**only)
        .values_list(
            "household_id",
            "cadre_id",
            "start_date",
            "cadre__username",
            "cadre__last_name",
            "cadre__first_name",
        )
    )
    if not pairs:
        return
    links = Visit.visitors.through.objects.filter(
        user_id__in={c for _h, c, *_ in pairs},
        visit__household_id__in={h for h, *_ in pairs},
    )
    last = {
        (r["visit__household_id"], r["user_id"]): r["last"]
        for r in links.values("visit__household_id", "user_id")
        .annotate(last=Max("visit__visited_at"))
        .order_by()
    }
    for hid, cid, since, username, last_name, first_name in pairs:
        seen = last.get((hid, cid))
        name = f"{last_name}{first_name}".strip() or username
        for rule in rules:
            due = due_date(
                since=since,
                last_visit=timezone.localdate(seen) if seen else None,
                interval_days=rule.interval_days,
            )
            if due <= limit:
                reason = f"{rule.name}({name})"
                offer(hid, due, reason, seen, (*rank[rule.pk], reason))


def due_list(
    *,
    fetched_by,
    today: date | None = None,
    limit: int | None = 50,
    horizon_days: int = DUE_HORIZON_DAYS,
):
    """The due list with its households (one more query), nearest first. Read from the
    kept next-due dates (HouseholdDue, see _kept_due): one statement gives the shown
    households, the total, and for the shown ones their tag rules and last visit, from
    which their reasons follow; then their households. The rules engine runs instead for
    the shown households when appeal or pairing rules are in force, and over the whole
    jurisdiction when a kept row does not hold for `today` (a tag or pairing that starts
    after it) or the user has pairings outside their jurisdiction (their own pairings are
    theirs wherever the household is)."""
    today = today or timezone.localdate()
    until = today + timedelta(days=horizon_days)
    kept = _kept_due(fetched_by, today, until, limit)
    if kept is None:
        items = due_items(fetched_by=fetched_by, today=today, horizon_days=horizon_days)
        total = len(items)
    else:
        items, total = kept
        if items is None:  # other rule kinds in force: the rules engine, shown ones only
            items = due_items(
                fetched_by=fetched_by,
                today=today,
                horizon_days=horizon_days,
                households=total[1],
            )
            total = total[0]
    shown = items[:limit] if limit else items
    ids = sorted({i.household_id for i in shown})
    # compiled once per connection and number of households (core.compiled)
    households = {
        h.pk: h
        for h in (
            compiled_rows(
                "due-households", {f"id{n}": pk for n, pk in enumerate(ids)}, _due_households
            )
            if ids
            else []
        )
    }
    for item in shown:
        item.household = households.get(item.household_id)
    return shown, total


def _due_households(values):
    return Household.objects.select_related("grid", "head").filter(pk__in=list(values.values()))


# (cadre, jurisdiction paths) -> the SQL and parameters of "their open pairings outside their
# jurisdiction": what the ORM compiles from those two alone, kept rather than compiled on
# every home page (it was a third of the due panel's time)
_FAR_SQL: dict[tuple, tuple[str, tuple]] = {}


def _far_pairings_sql(cadre, paths: tuple) -> tuple[str, tuple]:
    """Kept by the cadre and their jurisdiction paths: Household's visible_to is by area
    alone (no owner or unit), so these two decide the statement and its parameters."""
    key = (cadre.pk, paths)
    got = _FAR_SQL.get(key)
    if got is None:
        from .models import Pairing

        far = Pairing.objects.filter(cadre_id=cadre.pk, end_date__isnull=True).exclude(
            household__in=Household.objects.visible_to(cadre)
        )
        sql, params = far.values("pk").query.sql_with_params()
        got = (sql, tuple(params))
        if len(_FAR_SQL) > 10_000:
            _FAR_SQL.clear()
        _FAR_SQL[key] = got
    return got


def _kept_due(fetched_by, today: date, until: date, limit: int | None):
    """(items, total) from the kept rows due by `until` in the user's jurisdiction,
    nearest first (at most `limit`), their reasons from the same statement: per shown
    household its last visit (and follow-up) and, per active tag rule it falls under, the
    first start of that tag, exactly what due_items reads for it. (None, (total, ids))
    when appeal or pairing rules are in force; None when the rows do not answer for
    `today` (see due_list)."""
    from django.db import connection

    from minqing.core.scoping import jurisdiction_paths

    from .models import HouseholdDue

    if getattr(fetched_by, "is_superuser", False) and fetched_by.is_active:
        scope, params, outside, params_outside = "", [], "0", []
    else:
        paths = jurisdiction_paths(fetched_by)
        if not paths:
            return None
        scope = " AND (" + " OR ".join(["g.path LIKE %s"] * len(paths)) + ")"
        params = [p + "%" for p in paths]
        far_sql, far_params = _far_pairings_sql(fetched_by, tuple(paths))
        outside = f"CASE WHEN EXISTS ({far_sql}) THEN 1 ELSE 0 END"
        params_outside = list(far_params)
    ops = connection.ops
    yes = "true" if connection.vendor == "postgresql" else "1"
    cut = f" LIMIT {int(limit)}" if limit else ""
    others = (
        f"CASE WHEN EXISTS (SELECT 1 FROM visits_visitrule x WHERE x.is_active = {yes} "
        "AND x.kind <> 'tag') THEN 1 ELSE 0 END"
    )
    sql = (
        f"SELECT t.household_id, t.due, t.total, t.late, {outside}, {others}, "
        'lv.visited_at, lv.follow_up_date, r.id, r.name, r.interval_days, r."order", '
        "MIN(p.start_date) FROM (SELECT 1 AS one) o "
        "LEFT JOIN (SELECT d.household_id, d.due, COUNT(*) OVER () AS total, "
        f"MAX(d.since) OVER () AS late FROM {HouseholdDue._meta.db_table} d "
        "JOIN areas_area g ON g.id = d.grid_id "
        f"WHERE d.due <= %s{scope} ORDER BY d.due, d.household_id{cut}) t ON 1 = 1 "
        "LEFT JOIN visits_lastvisit lv ON lv.household_id = t.household_id "
        "LEFT JOIN registry_tagperiod p ON p.household_id = t.household_id "
        "AND p.end_date IS NULL AND p.start_date <= %s "
        "LEFT JOIN visits_visitrule r ON r.tag_id = p.tag_id "
        f"AND r.is_active = {yes} AND r.kind = 'tag' "
        "GROUP BY t.household_id, t.due, t.total, t.late, lv.visited_at, lv.follow_up_date, "
        'r.id, r.name, r.interval_days, r."order" '
        "ORDER BY t.due, t.household_id"
    )
    args = [*params_outside, ops.adapt_datefield_value(until), *params]
    args.append(ops.adapt_datefield_value(today))
    with connection.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    head = rows[0]
    if head[4]:
        return None
    if head[0] is None:
        return [], 0
    late = _as_date(head[3])
    if late is not None and late > today:
        return None
    total = int(head[2])
    if head[5]:
        return None, (total, list(dict.fromkeys(r[0] for r in rows)))
    offers = _Offers()
    follow_up = str(VisitFinding.Kind.FOLLOW_UP.label)
    seen = set()
    for hid, _due, _t, _l, _o, _x, last, day, rule_id, name, interval, order, since in rows:
        last = _as_datetime(last)
        if rule_id is not None:
            due = due_date(
                since=_as_date(since),
                last_visit=timezone.localdate(last) if last else None,
                interval_days=interval,
            )
            if due <= until:
                offers.offer(hid, due, name, last, (order, name))
        if hid not in seen:
            seen.add(hid)
            day = _as_date(day)
            if day is not None and day <= until:
                offers.offer(hid, day, follow_up, last, (math.inf,))
    return offers.items(), total


def _as_date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value


def _as_datetime(value):
    """A datetime as the ORM gives it (SQLite gives the stored UTC, naive or as text)."""
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


# ---------------------------------------------------------------- coverage


@dataclass
class Coverage:
    area: Area
    start: date
    end: date  # inclusive
    total: int
    visited: int
    by_grid: list[dict]
    by_village: list[dict]
    by_cadre: list[dict]
    by_rule: list[dict]

    @property
    def unvisited(self) -> int:
        return self.total - self.visited

    @property
    def rate(self) -> float:
        return round(100 * self.visited / self.total, 1) if self.total else 0.0


def _visited_in(start: date, end: date):
    return Exists(
        Visit.objects.filter(
            household=OuterRef("pk"),
            visited_at__gte=day_start(start),
            visited_at__lt=day_start(end + timedelta(days=1)),
        )
    )


def coverage_households(*, fetched_by, area: Area, start: date, end: date):
    """The (scoped) households of an area, each marked visited in [start, end] or not."""
    return (
        Household.objects.visible_to(fetched_by)
        .within(area)
        .annotate(visited=_visited_in(start, end))
    )


def coverage(
    *, fetched_by, area: Area, start: date, end: date, kept_months: bool = True
) -> Coverage:
    """全覆盖: visited / total by grid, village and responsible grid worker, and compliance
    per must-visit rule. One grouped query over the area's (scoped) households counts, per
    grid, the households, those visited in the period and, per rule, those it covers and
    those that had the visits it asks for (see coverage_sql); the rules and the grids with
    their grid workers come from the process's copies (one query each when not there).
    `kept_months=False` counts the visits themselves even for whole
    months (the tests compare both ways)."""
    rules = _active_rules()
    needs = {
        r.pk: required_visits(start=start, end=end, interval_days=r.interval_days) for r in rules
    }
    sql, params = coverage_sql(
        fetched_by=fetched_by,
        area=area,
        start=start,
        end=end,
        rules=rules,
        needs=needs,
        kept_months=kept_months,
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        columns = [c[0] for c in cur.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cur.fetchall()]
    by_pk, links, grids = _areas_and_grid_workers(area)
    missing = [r["grid_id"] for r in rows if r["grid_id"] not in grids]
    if missing:  # a household's grid is always inside the area; kept safe all the same
        grids = {**grids, **Area.objects.select_related("parent").in_bulk(missing)}
    by_grid = []
    for r in rows:
        total, visited = int(r["total"]), int(r["visited"] or 0)
        by_grid.append(
            {
                "grid_id": r["grid_id"],
                "grid": grids[r["grid_id"]],
                "total": total,
                "visited": visited,
                "unvisited": total - visited,
            }
        )
    by_grid.sort(key=lambda r: r["grid"].path)
    villages: dict[int, dict] = {}
    for r in by_grid:
        parent = r["grid"].parent
        v = villages.get(parent.id)
        if v is None:
            v = villages[parent.id] = {"area": parent, "total": 0, "visited": 0, "unvisited": 0}
        for k in ("total", "visited", "unvisited"):
            v[k] += r[k]
    by_rule = [
        {"rule": rule, "required": needs[rule.pk], "total": 0, "compliant": 0} for rule in rules
    ]
    keys = [(f"rt{rule.pk}", f"rc{rule.pk}", out) for rule, out in zip(rules, by_rule, strict=True)]
    for r in rows:
        for rt, rc, out in keys:
            out["total"] += int(r[rt] or 0)
            out["compliant"] += int(r[rc] or 0)
    return Coverage(
        area=area,
        start=start,
        end=end,
        total=sum(r["total"] for r in by_grid),
        visited=sum(r["visited"] for r in by_grid),
        by_grid=by_grid,
        by_village=sorted(villages.values(), key=lambda v: v["area"].path),
        by_cadre=_by_cadre(by_grid, links),
        by_rule=by_rule,
    )


def kept_month_span(start: date, end: date) -> tuple[date, date] | None:
    """The first days of the first and last month of [start, end] when it starts on a
    month's first day (the kept monthly counts answer it: whole months, or a month to a
    day, such as this month to today), else None."""
    if start.day != 1 or end < start:
        return None
    return start, end.replace(day=1)


def coverage_sql(
    *, fetched_by, area, start, end, rules, needs, kept_months: bool = True
) -> tuple[str, list]:
    """The grouped coverage query: one statement, one row per household, summed per grid,
    and joins rather than a subquery per household where it can:
    - the area's households (the scoping queryset's own SQL) hash-joined to their visits
      in the period: for a period from a month's first day (`kept_months`, the default)
      the kept monthly counts of the area's grids (HouseholdMonth, a range per grid,
      index-only on householdmonth_grid_idx, one row per household and month), a
      household whose latest visit of the last month is after the period's end counted
      by household (visit_household_time_idx; none for a month to today); otherwise the period's
      visits recorded in the area's grids, counted per household (a range scan per grid,
      index-only on visit_grid_time_idx), and a household none of whose visits were
      recorded there (visited before it moved in, or not at all) probed by household
      (visit_household_time_idx);
    - hash-joined to the kept tag summary of the area's grids (HouseholdTags, index-only
      on householdtags_grid_idx): the tags it carries on the last day are the kept ones
      when its tag periods last changed on or before that day, else they are asked of its
      periods (tagperiod_household_tag_idx);
    - an open appeal, and per pairing rule the fewest visits any of its cadres made.
    OFFSET 0 keeps PostgreSQL from pulling the inner select up, which would copy each
    subquery into every aggregate that reads it; plain CASE sums run on both databases."""
    from minqing.appeals.models import OPEN_STATES
    from minqing.core.scoping import covers

    # An area inside the jurisdiction needs no second path test: the same one twice made
    # PostgreSQL expect 1/25 of the households (a sort instead of a hash for the group).
    scoped = (
        Household.objects
        if covers(fetched_by, area.path)
        else Household.objects.visible_to(fetched_by)
    )
    inner, params = scoped.within(area).order_by().values("id", "grid_id").query.sql_with_params()
    from django.db import connection

    params = list(params)
    ops = connection.ops  # the backend's own adaptation (SQLite keeps UTC text)
    lo = ops.adapt_datetimefield_value(day_start(start))
    hi = ops.adapt_datetimefield_value(day_start(end + timedelta(days=1)))
    end_day = ops.adapt_datefield_value(end)
    months = kept_month_span(start, end) if kept_months else None
    head, head_params = "", []
    if months:
        # the kept monthly counts of the area's households (HouseholdMonth), read by grid
        first, last = (ops.adapt_datefield_value(m) for m in months)
        counted = (
            "SELECT m.household_id, m.visits AS n, m.last_at FROM visits_householdmonth m "
            "JOIN areas_area g ON g.id = m.grid_id WHERE g.path LIKE %s AND m.month = %s"
            if first == last
            else "SELECT m.household_id, SUM(m.visits) AS n, MAX(m.last_at) AS last_at "
            "FROM visits_householdmonth m JOIN areas_area g ON g.id = m.grid_id "
            "WHERE g.path LIKE %s AND m.month >= %s AND m.month <= %s GROUP BY m.household_id"
        )
        month_params = [area.path + "%", first] + ([] if first == last else [last])
        if connection.vendor == "postgresql":
            # materialized: hash-joined (see the tag summary below)
            head, head_params = f"WITH vc AS MATERIALIZED ({counted}) ", month_params
            joins, join_params = " LEFT JOIN vc ON vc.household_id = h.id", []
        else:
            joins = f" LEFT JOIN ({counted}) vc ON vc.household_id = h.id"
            join_params = month_params
        # a visit after the period's end in its last month: that household's own count
        columns = [
            "CASE WHEN vc.n IS NULL THEN 0 WHEN vc.last_at < %s THEN vc.n "
            "ELSE (SELECT COUNT(*) FROM visits_visit v WHERE v.household_id = h.id "
            "AND v.visited_at >= %s AND v.visited_at < %s) END AS n"
        ]
        col_params = [hi, lo, hi]
    else:
        joins = (
            " LEFT JOIN (SELECT v.household_id, COUNT(*) AS n FROM visits_visit v "
            "JOIN areas_area g ON g.id = v.grid_id WHERE g.path LIKE %s "
            "AND v.visited_at >= %s AND v.visited_at < %s GROUP BY v.household_id) vc "
            "ON vc.household_id = h.id"
        )
        join_params = [area.path + "%", lo, hi]
        columns = [
            "CASE WHEN vc.n IS NOT NULL THEN vc.n ELSE (SELECT COUNT(*) FROM visits_visit v "
            "WHERE v.household_id = h.id AND v.visited_at >= %s AND v.visited_at < %s) "
            "END AS n"
        ]
        col_params = [lo, hi]
    if any(r.kind == VisitRule.Kind.TAG for r in rules):
        kept = (
            "SELECT s.household_id, s.tags, s.since FROM visits_householdtags s "
            "JOIN areas_area g ON g.id = s.grid_id WHERE g.path LIKE %s"
        )
        if connection.vendor == "postgresql":
            # materialized: hash-joined, never probed once per household (the planner
            # underestimates the scoped households and would pick the probes)
            head = (
                f"{head}, s AS MATERIALIZED ({kept}) "
                if head
                else (f"WITH s AS MATERIALIZED ({kept}) ")
            )
            head_params = [*head_params, area.path + "%"]
            joins += " LEFT JOIN s ON s.household_id = h.id"
        else:
            joins += f" LEFT JOIN ({kept}) s ON s.household_id = h.id"
            join_params.append(area.path + "%")
        listed = (
            "string_agg(p.tag_id::text, ',')"
            if connection.vendor == "postgresql"
            else "group_concat(p.tag_id, ',')"
        )
        columns.append(
            "CASE WHEN s.household_id IS NULL THEN ',' WHEN s.since <= %s THEN s.tags "
            f"ELSE ',' || COALESCE((SELECT {listed} FROM registry_tagperiod p "
            "WHERE p.household_id = h.id AND p.start_date <= %s "
            "AND (p.end_date IS NULL OR p.end_date > %s)), '') || ',' END AS tags"
        )
        col_params += [end_day, end_day, end_day]
    sums = [
        "COUNT(*) AS total",
        "SUM(CASE WHEN z.n > 0 THEN 1 ELSE 0 END) AS visited",
    ]
    sum_params = []
    for rule in rules:
        if rule.kind == VisitRule.Kind.OPEN_APPEAL:
            marks = ", ".join(["%s"] * len(OPEN_STATES))
            columns.append(
                f"EXISTS (SELECT 1 FROM appeals_appeal a WHERE a.household_id = h.id "
                f"AND a.state IN ({marks}) AND a.created_at < %s) AS r{rule.pk}"
            )
            col_params += [*[str(s) for s in OPEN_STATES], hi]
            covered, covered_params = f"z.r{rule.pk}", []
            done = f"{covered} AND z.n >= %s"
        elif rule.kind == VisitRule.Kind.PAIRING:
            # per pairing in force on the last day: the visits its own cadre made
            columns.append(
                "(SELECT MIN((SELECT COUNT(*) FROM visits_visit v "
                "JOIN visits_visit_visitors vv ON vv.visit_id = v.id "
                "WHERE v.household_id = pr.household_id AND vv.user_id = pr.cadre_id "
                "AND v.visited_at >= %s AND v.visited_at < %s)) FROM visits_pairing pr "
                "WHERE pr.household_id = h.id AND pr.start_date <= %s "
                f"AND (pr.end_date IS NULL OR pr.end_date > %s)) AS p{rule.pk}"
            )
            col_params += [lo, hi, end_day, end_day]
            covered, covered_params = f"z.p{rule.pk} IS NOT NULL", []
            done = f"z.p{rule.pk} >= %s"
        else:
            covered, covered_params = "z.tags LIKE %s", [f"%,{int(rule.tag_id)},%"]
            done = f"{covered} AND z.n >= %s"
        sums.append(f"SUM(CASE WHEN {covered} THEN 1 ELSE 0 END) AS rt{rule.pk}")
        sums.append(f"SUM(CASE WHEN {done} THEN 1 ELSE 0 END) AS rc{rule.pk}")
        sum_params += [*covered_params, *covered_params, needs[rule.pk]]
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    sql = (
        f"{head}SELECT z.grid_id, {', '.join(sums)} FROM ("
        f"SELECT h.id, h.grid_id, {', '.join(columns)} FROM ({inner}) h{joins}{fence}"
        f") z GROUP BY z.grid_id"
    )
    return sql, head_params + sum_params + col_params + params + join_params


@dataclass(frozen=True)
class CadreRef:
    """A grid worker as the report names them (what str(user) gives), without loading the
    user rows."""

    pk: int
    username: str
    full_name: str

    def __str__(self):
        return self.full_name or self.username


def _active_rules() -> list[VisitRule]:
    """The active must-visit rules with their tags, from the process's copy
    (core.proc_cache, dropped when a rule or a tag changes; read again after a minute
    whatever): one query fewer per report."""
    from minqing.core.proc_cache import process_cached

    return process_cached(
        COVERAGE_RULES,
        lambda: list(VisitRule.objects.filter(is_active=True).select_related("tag")),
    )


COVERAGE_RULES = "visits-coverage-rules"


def _areas_and_grid_workers(area: Area):
    """The area's villages and grids (and the area's own parent, for a grid's report), each
    grid with its active grid workers, from the process's copy (core.proc_cache, dropped
    when an area, a user or a jurisdiction changes; read again after a minute whatever):
    the areas by id, the (grid, grid worker) links, and the grids by id, each with its
    parent set."""
    from minqing.core.proc_cache import process_cached

    kept = process_cached(COVERAGE_AREAS, dict)
    key = (area.pk, area.path, area.parent_id)
    hit = kept.get(key)
    if hit is None:
        hit = _read_areas_and_grid_workers(area)
        if len(kept) > 1000:
            kept.clear()
        kept[key] = hit
    return hit


COVERAGE_AREAS = "visits-coverage-areas"


def _read_areas_and_grid_workers(area: Area):
    """One read by path prefix, not lists of ids."""
    from django.db import connection

    sql = (
        "SELECT a.id, a.name, a.path, a.parent_id, a.level, a.code, "
        "u.id, u.username, u.last_name, u.first_name FROM areas_area a "
        "LEFT JOIN accounts_jurisdiction j ON j.area_id = a.id AND a.level = %s "
        "LEFT JOIN accounts_user u ON u.id = j.user_id AND u.role = %s AND u.is_active "
        "WHERE (a.path LIKE %s AND a.level IN (%s, %s)) OR a.id = %s"
    )
    params = [
        int(Level.GRID),
        str(Role.GRID_WORKER),
        area.path + "%",
        int(Level.VILLAGE),
        int(Level.GRID),
        area.parent_id or 0,
    ]
    by_pk: dict[int, Area] = {}
    links = []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for aid, name, path, parent_id, level, code, uid, username, last, first in cur:
            if aid not in by_pk:
                by_pk[aid] = Area(
                    id=aid, name=name, path=path, parent_id=parent_id, level=level, code=code
                )
            if uid is not None:
                links.append((aid, uid, username, last, first))
    links.sort(key=lambda x: x[2])
    grids = {pk: a for pk, a in by_pk.items() if a.level == Level.GRID}
    for g in grids.values():
        if g.parent_id in by_pk:
            g.parent = by_pk[g.parent_id]
    return by_pk, links, grids


def _by_cadre(by_grid: list[dict], links: list) -> list[dict]:
    """Unvisited households per responsible grid worker (the 网格员 holding the grid)."""
    grid_rows = {r["grid_id"]: r for r in by_grid}
    cadres: dict[int, dict] = {}
    covered = set()
    for area_id, user_id, username, last, first in links:
        row = grid_rows.get(area_id)
        if row is None:  # a grid without households in this report
            continue
        c = cadres.get(user_id)
        if c is None:
            c = cadres[user_id] = {
                "user": CadreRef(user_id, username, f"{last}{first}".strip()),
                "total": 0,
                "visited": 0,
                "unvisited": 0,
            }
        for k in ("total", "visited", "unvisited"):
            c[k] += row[k]
        covered.add(area_id)
    result = list(cadres.values())
    orphan = [r for pk, r in grid_rows.items() if pk not in covered]
    if orphan:
        result.append(
            {
                "user": None,
                "total": sum(r["total"] for r in orphan),
                "visited": sum(r["visited"] for r in orphan),
                "unvisited": sum(r["unvisited"] for r in orphan),
            }
        )
    return result


def required_visits(*, start: date, end: date, interval_days: int) -> int:
    """Visits a rule asks for in a period: one per started interval, at least one."""
    days = (end - start).days + 1
    return max(1, math.ceil(days / interval_days))


def rule_households(households, rule: VisitRule, day: date):
    """The households a rule covers on `day`: carrying its tag, or with an open appeal
    filed by then."""
    if rule.kind == VisitRule.Kind.OPEN_APPEAL:
        from minqing.appeals.models import OPEN_STATES, Appeal

        matters = Appeal.objects.filter(
            household=OuterRef("pk"),
            state__in=OPEN_STATES,
            created_at__lt=day_start(day + timedelta(days=1)),
        )
        return households.filter(Exists(matters))
    if rule.kind == VisitRule.Kind.PAIRING:
        from .models import Pairing

        return households.filter(Exists(Pairing.objects.on(day).filter(household=OuterRef("pk"))))
    carriers = TagPeriod.objects.on(day).filter(tag_id=rule.tag_id, household=OuterRef("pk"))
    return households.filter(Exists(carriers))


def _visit_count(start: date, end: date):
    visits = (
        Visit.objects.filter(
            household=OuterRef("pk"),
            visited_at__gte=day_start(start),
            visited_at__lt=day_start(end + timedelta(days=1)),
        )
        .order_by()
        .values("household")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(visits, output_field=IntegerField()), 0)


# ---------------------------------------------------------------- visit log


def visit_log(*, fetched_by, cadre: User, start: date, end: date):
    """民情日志: the visits a cadre made (as recorder or fellow visitor) in [start, end],
    dated, with their content, findings and later notes; only in the reader's jurisdiction."""
    return visit_rows(
        Visit.objects.visible_to(fetched_by)
        .filter(
            visitors=cadre,  # the recorder is always one of the visitors
            visited_at__gte=day_start(start),
            visited_at__lt=day_start(end + timedelta(days=1)),
        )
        .order_by("visited_at", "id")
    )


def visible_areas_for_reports(*, fetched_by):
    """Areas offered in the coverage filter: the jurisdiction down to villages."""
    return Area.objects.visible_to(fetched_by).filter(level__lte=Level.VILLAGE).order_by("path")


OFFLINE_HOUSEHOLDS = 3000


def offline_households(*, fetched_by, limit: int = OFFLINE_HOUSEHOLDS):
    """The jurisdiction's households for the phone, masked (no 身份证号, phone masked), with
    their living members: two queries."""
    from minqing.registry.models import Resident, ResidentStatus

    rows = list(
        Household.objects.visible_to(fetched_by)
        .select_related("grid")
        .order_by("grid__path", "number")[: limit + 1]
    )
    truncated = len(rows) > limit
    rows = rows[:limit]
    members: dict[int, list] = {}
    for r in Resident.objects.filter(
        household_id__in=[h.pk for h in rows], status=ResidentStatus.LIVING
    ).values_list("household_id", "id", "name", "relation"):
        members.setdefault(r[0], []).append({"id": r[1], "name": r[2], "relation": r[3]})
    return [
        {
            "id": h.pk,
            "number": h.number,
            "address": h.address,
            "grid_name": h.grid.name,
            "phone": h.phone_masked,
            "members": members.get(h.pk, []),
        }
        for h in rows
    ], truncated


# ---------------------------------------------------------------- questionnaires


def survey_responses(*, fetched_by, survey, area: Area, start: date, end: date):
    """The (scoped) answer sheets of a survey for an area and a period."""
    from .models import SurveyResponse

    return (
        SurveyResponse.objects.visible_to(fetched_by)
        .filter(survey=survey, grid__path__startswith=area.path)
        .filter(created_at__gte=day_start(start), created_at__lt=day_start(end + timedelta(days=1)))
    )


def survey_results(*, fetched_by, survey, area: Area, start: date, end: date) -> dict:
    """Per question: option counts, the average score, the latest texts. Three queries."""
    from django.db.models import Avg

    from .models import Answer

    responses = survey_responses(
        fetched_by=fetched_by, survey=survey, area=area, start=start, end=end
    )
    answers = Answer.objects.filter(response__in=responses)
    counts = {
        (r["question_id"], r["option"]): r["n"]
        for r in answers.filter(option__isnull=False)
        .values("question_id", "option")
        .annotate(n=Count("id"))
        .order_by()
    }
    scores = {
        r["question_id"]: r
        for r in answers.filter(score__isnull=False)
        .values("question_id")
        .annotate(avg=Avg("score"), n=Count("id"))
        .order_by()
    }
    texts: dict[int, list[str]] = {}
    for qid, text in (
        answers.exclude(text="").order_by("-id").values_list("question_id", "text")[:500]
    ):
        if len(texts.setdefault(qid, [])) < 20:
            texts[qid].append(text)
    questions = []
    for q in survey.questions.all():
        row = {"question": q}
        if q.kind in ("single", "multiple"):
            row["options"] = [
                {"index": i, "label": label, "count": counts.get((q.pk, i), 0)}
                for i, label in enumerate(q.options)
            ]
        elif q.kind == "scale":
            s = scores.get(q.pk)
            row["average"] = round(float(s["avg"]), 2) if s else None
            row["count"] = s["n"] if s else 0
        else:
            row["texts"] = texts.get(q.pk, [])
        questions.append(row)
    return {"responses": responses.count(), "questions": questions}


def satisfaction_index(*, fetched_by, area: Area, start: date, end: date) -> list[dict]:
    """满意度指数 per child area of `area` (and the area itself first): the mean of the 1-5
    satisfaction answers in the period, as 0-100 ((mean - 1) / 4 * 100). Grouped by grid in
    the database, rolled up to the children."""
    from django.db.models import Sum

    from .models import Answer, SurveyResponse

    rows = (
        Answer.objects.filter(
            question__satisfaction=True,
            score__isnull=False,
            response__in=SurveyResponse.objects.visible_to(fetched_by)
            .filter(grid__path__startswith=area.path)
            .filter(
                created_at__gte=day_start(start),
                created_at__lt=day_start(end + timedelta(days=1)),
            ),
        )
        .values("response__grid__path")
        .annotate(total=Sum("score"), n=Count("id"))
        .order_by()
    )
    children = list(Area.objects.filter(parent=area).order_by("path"))
    groups = [{"area": area, "total": 0, "n": 0}] + [
        {"area": c, "total": 0, "n": 0} for c in children
    ]
    for r in rows:
        for g in groups:
            if r["response__grid__path"].startswith(g["area"].path):
                g["total"] += r["total"]
                g["n"] += r["n"]
    for g in groups:
        g["index"] = round((g["total"] / g["n"] - 1) / 4 * 100, 1) if g["n"] else None
    return groups


def open_surveys_for(*, fetched_by, household, scoped: bool = False) -> list:
    """Open surveys covering the household that it has not answered yet (one query).
    `scoped=True` when the caller looked the household up through the viewer's scope (the
    household page): a survey covering it is of its grid or an area above, and each of
    those is within one of the viewer's areas (below the area the household is seen
    through) or above it, which is what Survey.visible_to lets through; so the check is
    left out (compiling its conditions was most of this query's time)."""
    from minqing.areas.models import PATH_SEP

    from .models import Survey, SurveyResponse

    path = household.grid.path
    above = [path[: i + 1] for i, ch in enumerate(path) if ch == PATH_SEP]
    if scoped:
        # compiled once per connection and depth of grid (core.compiled)
        values = {"h": household.pk, **{f"above{i}": p for i, p in enumerate(above)}}
        return compiled_rows("open-surveys", values, _open_surveys_query)
    answered = SurveyResponse.objects.filter(survey=OuterRef("pk"), household=household)
    return list(
        Survey.objects.visible_to(fetched_by)
        .filter(status=Survey.Status.OPEN, area__path__in=above)
        .exclude(Exists(answered))
        .order_by("-created_at")[:5]
    )


def _open_surveys_query(values):
    from .models import Survey, SurveyResponse

    above = [v for k, v in values.items() if k.startswith("above")]
    answered = SurveyResponse.objects.filter(survey=OuterRef("pk"), household_id=values["h"])
    return (
        Survey.objects.filter(status=Survey.Status.OPEN, area__path__in=above)
        .exclude(Exists(answered))
        .order_by("-created_at")[:5]
    )
