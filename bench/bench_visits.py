#!/usr/bin/env python
"""Visit benchmarks on the generated city with visits (bench/generate.py, then
bench/generate_visits.py), each a ratio against hand-written SQL (or a direct insert)
measured in the same run, interleaved (the machine is shared and noisy).

    .venv/bin/python bench/bench_visits.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench

(a) coverage: the coverage report (selectors.coverage: by grid, village, grid worker and
    per must-visit rule) of one township for one month, and its by-grid counts alone,
    against the raw anti-join query that gives the by-grid counts;
(b) due list: a grid worker's, a village cadre's and a township user's due list
    (selectors.due_list, 50 rows with their households) and home panel (8 rows), p95,
    against the raw SQL evaluating the rules for the same rows, and against a raw read of
    the kept next-due dates (visits_householddue);
(c) offline sync: 200 queued visits in one POST /api/visits/sync (test Client, session
    login, the session warmed by one committed request) against inserting the same 200 visits directly (multi-row INSERTs of the visits,
    their visitors and the latest-visit upsert); both rolled back.
"""

# The timed closures below run within the loop iteration that defines them.
# ruff: noqa: B023

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minqing_bench"
TODAY = date(2025, 6, 30)  # the generator's fixed day
MONTH = (date(2025, 6, 1), date(2025, 6, 30))


class Rollback(Exception):
    pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--requests", type=int, default=30)
    p.add_argument("--only", choices=["coverage", "due", "sync"], action="append")
    p.add_argument("--explain", action="store_true")
    p.add_argument("--no-write", action="store_true", help="do not append to RESULTS_visits.md")
    return p.parse_args(argv)


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    os.environ.setdefault("MINQING_VAR_DIR", str(ROOT / "bench" / "out" / "var"))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    import django

    django.setup()


def spread(ratios):
    """10th-90th percentile of per-repeat ratios."""
    q = statistics.quantiles(ratios, n=10, method="inclusive")
    return (q[0], q[-1])


def p95(samples):
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def ms(s):
    return f"{s * 1000:.1f} ms"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def user_of(role: str, pick: str = "middle"):
    from minqing.accounts.models import User

    users = list(
        User.objects.filter(role=role, is_active=True)
        .prefetch_related("jurisdictions__area")
        .order_by("username")
    )
    if not users:
        raise SystemExit(f"no {role}: run bench/generate.py first")
    u = {"first": users[0], "middle": users[len(users) // 2], "last": users[-1]}[pick]
    return u, u.jurisdictions.all()[0].area


def user_with_due(role: str):
    """From the middle of the list on, the first user of the role with something due (an
    empty due list measures nothing); the middle one if none has."""
    from minqing.accounts.models import User
    from minqing.visits import selectors

    users = list(
        User.objects.filter(role=role, is_active=True)
        .prefetch_related("jurisdictions__area")
        .order_by("username")
    )
    start = len(users) // 2
    for u in users[start : start + 40]:
        if selectors.due_items(fetched_by=u, today=TODAY):
            return u, u.jurisdictions.all()[0].area
    return user_of(role)


# ------------------------------------------------------------------------- (a) coverage

RAW_COVERAGE = """
SELECT h.grid_id, count(*) AS total,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM visits_visit v
            WHERE v.household_id = h.id AND v.visited_at >= %(start)s AND v.visited_at < %(end)s
       )) AS visited
  FROM areas_area g
  JOIN registry_household h ON h.grid_id = g.id
 WHERE g.path LIKE %(prefix)s
 GROUP BY h.grid_id
"""


def bench_coverage(args) -> list[dict]:
    from django.db import connection

    from minqing.visits import selectors

    rows = []
    for pick in ("first", "middle", "last"):
        user, area = user_of("township_staff", pick)
        start, end = MONTH
        params = {
            "start": selectors.day_start(start),
            "end": selectors.day_start(end + timedelta(days=1)),
            "prefix": area.path + "%",
        }

        def raw():
            with connection.cursor() as cur:
                cur.execute(RAW_COVERAGE, params)
                return cur.fetchall()

        def counts():
            hh = selectors.coverage_households(fetched_by=user, area=area, start=start, end=end)
            from django.db.models import Count, Q

            return list(
                hh.values("grid_id")
                .annotate(total=Count("id"), visited=Count("id", filter=Q(visited=True)))
                .order_by()
            )

        def report():
            return selectors.coverage(fetched_by=user, area=area, start=start, end=end)

        raw(), counts(), report()  # warm
        t_raw, t_counts, t_report = [], [], []
        for _ in range(max(5, args.requests // 3)):
            t_raw.append(timed(raw)[0])
            t_counts.append(timed(counts)[0])
            t_report.append(timed(report)[0])
        r = report()
        check = {g: (t, v) for g, t, v in raw()}
        assert {x["grid"].pk: (x["total"], x["visited"]) for x in r.by_grid} == check
        if args.explain:
            from minqing.visits.models import VisitRule

            rules = list(VisitRule.objects.filter(is_active=True).select_related("tag"))
            needs = {
                x.pk: selectors.required_visits(start=start, end=end, interval_days=x.interval_days)
                for x in rules
            }
            app_sql, app_params = selectors.coverage_sql(
                fetched_by=user, area=area, start=start, end=end, rules=rules, needs=needs
            )
            with connection.cursor() as cur:
                print("-- raw anti-join")
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + RAW_COVERAGE, params)
                print("\n".join(x[0] for x in cur.fetchall()))
                print("-- the report's query")
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + app_sql, app_params)
                print("\n".join(x[0] for x in cur.fetchall()))
        row = {
            "township": area.name,
            "households": r.total,
            "visited": r.visited,
            "raw": statistics.median(t_raw),
            "counts": statistics.median(t_counts),
            "report": statistics.median(t_report),
            "spread": spread([r / w for r, w in zip(t_report, t_raw, strict=True)]),
            "spread_counts": spread([r / w for r, w in zip(t_counts, t_raw, strict=True)]),
        }
        print(
            f"coverage {pick:6} {area.name}: {r.visited:,}/{r.total:,} visited; raw "
            f"{ms(row['raw'])}, app counts {ms(row['counts'])} "
            f"({row['counts'] / row['raw']:.2f}x), full report {ms(row['report'])} "
            f"({row['report'] / row['raw']:.2f}x, spread {row['spread'][0]:.2f}-"
            f"{row['spread'][1]:.2f}x)",
            flush=True,
        )
        rows.append(row)
    return rows


# ------------------------------------------------------------------------- (b) due list

RAW_DUE = """
WITH periods AS (
    SELECT p.household_id, r.name, r.interval_days, min(p.start_date) AS since,
           max(lv.visited_at) AS last
      FROM areas_area g
      JOIN registry_household h ON h.grid_id = g.id
      JOIN registry_tagperiod p ON p.household_id = h.id
      JOIN visits_visitrule r ON r.tag_id = p.tag_id AND r.is_active
      LEFT JOIN visits_lastvisit lv ON lv.household_id = p.household_id
     WHERE g.path LIKE %(prefix)s AND p.end_date IS NULL AND p.start_date <= %(today)s
     GROUP BY p.household_id, p.tag_id, r.name, r.interval_days
), due AS (
    SELECT household_id, min(greatest(since, coalesce((last AT TIME ZONE 'Asia/Shanghai')::date,
                                                      since)) + interval_days) AS due
      FROM periods GROUP BY household_id
    UNION ALL
    SELECT lv.household_id, lv.follow_up_date
      FROM areas_area g JOIN registry_household h ON h.grid_id = g.id
      JOIN visits_lastvisit lv ON lv.household_id = h.id
     WHERE g.path LIKE %(prefix)s AND lv.follow_up_date <= %(limit)s
), firsts AS (
    SELECT household_id, min(due) AS due FROM due GROUP BY household_id
    HAVING min(due) <= %(limit)s ORDER BY min(due), household_id LIMIT %(n)s
)
SELECT f.household_id, f.due, h.number, h.address, g.name, r.name
  FROM firsts f JOIN registry_household h ON h.id = f.household_id
  JOIN areas_area g ON g.id = h.grid_id
  LEFT JOIN registry_resident r ON r.id = h.head_id
 ORDER BY f.due, f.household_id
"""


# The same rows read from the kept next-due dates (visits_householddue) by hand: the
# stricter baseline once the due list reads them.
RAW_KEPT = """
WITH firsts AS (
    SELECT d.household_id, d.due, count(*) OVER () AS total
      FROM areas_area g JOIN visits_householddue d ON d.grid_id = g.id
     WHERE g.path LIKE %(prefix)s AND d.due <= %(limit)s
     ORDER BY d.due, d.household_id LIMIT %(n)s
)
SELECT f.household_id, f.due, h.number, h.address, g.name, r.name, f.total
  FROM firsts f JOIN registry_household h ON h.id = f.household_id
  JOIN areas_area g ON g.id = h.grid_id
  LEFT JOIN registry_resident r ON r.id = h.head_id
 ORDER BY f.due, f.household_id
"""


def bench_due(args) -> list[dict]:
    from django.db import connection

    from minqing.visits import selectors

    rows = []
    for role in ("grid_worker", "village_cadre", "township_staff"):
        user, area = user_with_due(role)
        for what, n in (("due list", 50), ("home panel", 8)):
            params = {
                "prefix": area.path + "%",
                "today": TODAY,
                "limit": TODAY + timedelta(days=7),
                "n": n,
            }

            def raw():
                with connection.cursor() as cur:
                    cur.execute(RAW_DUE, params)
                    return cur.fetchall()

            def kept():
                with connection.cursor() as cur:
                    cur.execute(RAW_KEPT, params)
                    return cur.fetchall()

            def app():
                user._jurisdiction_paths = None
                return selectors.due_list(fetched_by=user, today=TODAY, limit=n)

            raw(), kept(), app()
            t_raw, t_kept, t_app = [], [], []
            for _ in range(args.requests):
                t_raw.append(timed(raw)[0])
                t_kept.append(timed(kept)[0])
                t_app.append(timed(app)[0])
            items, total = app()
            expected = [(h, d) for h, d, *_ in raw()]
            got = [(i.household_id, i.due) for i in items]
            assert [d for _h, d in got] == [d for _h, d in expected], (got[:5], expected[:5])
            assert got == [(h, d) for h, d, *_ in kept()]
            row = {
                "what": what,
                "role": role,
                "area": area.name,
                "due": total,
                "raw": p95(t_raw),
                "kept": p95(t_kept),
                "app": p95(t_app),
                "spread": spread([a / r for a, r in zip(t_app, t_raw, strict=True)]),
            }
            print(
                f"{what} {role:15} {area.name}: {total:,} due; p95 raw {ms(row['raw'])}, "
                f"raw kept {ms(row['kept'])}, app {ms(row['app'])} "
                f"({row['app'] / row['raw']:.2f}x raw, {row['app'] / row['kept']:.2f}x raw kept)",
                flush=True,
            )
            rows.append(row)
    return rows


# ------------------------------------------------------------------------- (c) sync


def bench_sync(args) -> dict:
    import json

    from django.db import connection, transaction
    from django.test import Client

    from minqing.registry.models import Household

    user, grid = user_of("grid_worker")
    households = list(Household.objects.filter(grid=grid).values_list("id", flat=True))
    when = datetime(2025, 6, 29, 10, 0).isoformat() + "+08:00"

    def payload():
        return [
            {
                "client_id": str(uuid.uuid4()),
                "household_id": households[i % len(households)],
                "situation": "离线走访:身体尚好,无困难反映。",
                "visited_at": when,
                "place": "家中",
            }
            for i in range(200)
        ]

    client = Client()
    client.force_login(user)
    # One committed request first: the session then holds the user's jurisdiction paths
    # (as it does after the first request in production). The timed requests are rolled
    # back, so without this each would rewrite the session and re-read the paths.
    assert client.get("/api/visits/visits?limit=1").status_code == 200

    def app():
        body = json.dumps({"visits": payload()})
        try:
            with transaction.atomic():
                t = time.perf_counter()
                r = client.post("/api/visits/sync", body, content_type="application/json")
                elapsed = time.perf_counter() - t
                assert r.status_code == 200, r.content[:300]
                assert all(x["status"] == "created" for x in r.json())
                raise Rollback(elapsed)
        except Rollback as done:
            return done.args[0]

    def direct():
        items = payload()
        try:
            with transaction.atomic(), connection.cursor() as cur:
                t = time.perf_counter()
                values = ", ".join(["(%s, %s, %s, '家中', '', %s, %s, %s, now(), now())"] * 200)
                params = []
                for v in items:
                    params += [v["household_id"], grid.pk, v["visited_at"], v["situation"]]
                    params += [user.pk, v["client_id"]]
                cur.execute(
                    "INSERT INTO visits_visit (household_id, grid_id, visited_at, place, "
                    "met_others, situation, recorded_by_id, client_id, created_at, updated_at) "
                    f"VALUES {values} RETURNING id",
                    params,
                )
                ids = [r[0] for r in cur.fetchall()]
                cur.execute(
                    "INSERT INTO visits_visit_visitors (visit_id, user_id) "
                    "SELECT unnest(%s::bigint[]), %s",
                    [ids, user.pk],
                )
                cur.execute(
                    "INSERT INTO visits_lastvisit (household_id, visited_at) "
                    "SELECT household_id, max(visited_at) FROM visits_visit WHERE id = ANY(%s) "
                    "GROUP BY household_id ON CONFLICT (household_id) DO UPDATE "
                    "SET visited_at = greatest(visits_lastvisit.visited_at, excluded.visited_at)",
                    [ids],
                )
                elapsed = time.perf_counter() - t
                raise Rollback(elapsed)
        except Rollback as done:
            return done.args[0]

    app(), direct()
    t_app, t_direct = [], []
    for _ in range(max(5, args.requests // 2)):
        t_app.append(app())
        t_direct.append(direct())
    row = {
        "app": statistics.median(t_app),
        "direct": statistics.median(t_direct),
        "spread": spread([a / d for a, d in zip(t_app, t_direct, strict=True)]),
    }
    print(
        f"sync of 200 visits: one request {ms(row['app'])}, direct insert {ms(row['direct'])} "
        f"({row['app'] / row['direct']:.2f}x, spread {row['spread'][0]:.2f}-"
        f"{row['spread'][1]:.2f}x)",
        flush=True,
    )
    return row


def main(argv=None):
    args = parse_args(argv)
    setup(args.database_url)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM visits_visit")
        n = cur.fetchone()[0]
    print(f"{n:,} visits in the database")
    only = set(args.only or ["coverage", "due", "sync"])
    out = {}
    if "coverage" in only:
        out["coverage"] = bench_coverage(args)
    if "due" in only:
        out["due"] = bench_due(args)
    if "sync" in only:
        out["sync"] = bench_sync(args)
    if not args.no_write:
        write_results(out, n)


def write_results(out, n):
    import subprocess

    def sh(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"

    branch = sh("git", "rev-parse", "--abbrev-ref", "HEAD")
    commit = sh("git", "rev-parse", "--short", "HEAD")
    lines = [
        f"\n## Visits, branch `{branch}`, commit {commit} "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {n:,} visits)\n",
        f"Load: `{sh('uptime')}`\n",
    ]
    for r in out.get("coverage", []):
        lines.append(
            f"- coverage {r['township']} 2025-06 ({r['visited']:,}/{r['households']:,}): raw "
            f"anti-join {ms(r['raw'])}; app by-grid counts {ms(r['counts'])} "
            f"({r['counts'] / r['raw']:.2f}x); full report with rules and cadres "
            f"{ms(r['report'])} ({r['report'] / r['raw']:.2f}x, spread "
            f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}x)"
        )
    for r in out.get("due", []):
        lines.append(
            f"- {r['what']} {r['role']} {r['area']} ({r['due']:,} due): p95 raw rules SQL "
            f"{ms(r['raw'])}, raw read of the kept dates {ms(r['kept'])}, app {ms(r['app'])} "
            f"({r['app'] / r['raw']:.2f}x the rules SQL, per-repeat spread "
            f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}x; {r['app'] / r['kept']:.2f}x the kept read)"
        )
    if "sync" in out:
        r = out["sync"]
        lines.append(
            f"- offline sync of 200 visits in one request {ms(r['app'])} vs direct insert "
            f"{ms(r['direct'])} ({r['app'] / r['direct']:.2f}x, spread "
            f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}x)"
        )
    with open(ROOT / "bench" / "RESULTS_visits.md", "a") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
