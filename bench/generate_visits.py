#!/usr/bin/env python
"""Add visits (走访) at scale to a city made by bench/generate.py.

    .venv/bin/python bench/generate_visits.py \
        --database-url postgres://postgres@127.0.0.1:5432/minqing_bench --visits 10000000

Writes, in one transaction and inside PostgreSQL (INSERT … SELECT over generate_series with a
fixed setseed, so the same seed gives the same visits):
- `--visits` visits over the two years before the generator's fixed day (2025-06-30), each
  to a random household, recorded by the grid worker of its grid (who is its visitor), at
  a random daytime; `--tagged-share` of them go to households that carry a must-visit tag
  (so those are visited more often, as the rules ask);
- the visitors table, and the latest visit per household (LastVisit, what the due list
  reads);
secondary indexes are dropped before and built after; then VACUUM ANALYZE.
`--truncate` empties the visit tables first (it refuses to add to existing visits otherwise).
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import Timer, build_indexes, drop_secondary_indexes, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minqing_bench"
VISIT_TABLES = ["visits_visit", "visits_visit_visitors", "visits_lastvisit"]
SITUATIONS = [
    "老人身体尚好,按时服药,家中整洁。",
    "户主外出务工,与留守老人交谈,生活基本正常。",
    "了解今年种植情况,长势良好,无困难反映。",
    "宣传医保缴费政策,已告知缴费时间和渠道。",
    "核实家庭人口变动情况,与台账一致。",
    "孩子在镇中心小学读书,由祖母照看。",
    "宣传防诈骗知识,发放宣传资料一份。",
    "房屋有轻微漏雨,已提醒雨季注意安全。",
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--visits", type=int, default=10_000_000)
    p.add_argument("--tagged-share", type=float, default=0.2)
    p.add_argument("--seed", type=float, default=0.42, help="setseed() value in [-1, 1]")
    p.add_argument("--truncate", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    timer = Timer()
    setup_django(args.database_url)
    timer.lap("database ready (migrated)")
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM registry_household")
        if not cur.fetchone()[0]:
            raise SystemExit("no households: run bench/generate.py first")
        cur.execute("SELECT EXISTS (SELECT 1 FROM visits_visit)")
        if cur.fetchone()[0] and not args.truncate:
            raise SystemExit("visits exist already: pass --truncate to regenerate them")
    with transaction.atomic(), connection.cursor() as cur:
        if args.truncate:
            cur.execute(
                "TRUNCATE visits_visit_visitors, visits_visitfinding, visits_visitnote, "
                "visits_lastvisit, visits_syncconflict, visits_answer, "
                "visits_surveyresponse, visits_visit RESTART IDENTITY CASCADE"
            )
            timer.lap("visit tables emptied")
        indexes = drop_secondary_indexes(VISIT_TABLES)
        # No per-row foreign-key trigger events for tens of millions of rows (checking them
        # one by one takes longer than writing them); the keys are checked below, one
        # anti-join per key, before the transaction commits. Needs a superuser.
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SELECT setseed(%s)", [args.seed])
        # households in a dense array, so a random index picks one uniformly
        cur.execute(
            "CREATE TEMP TABLE bench_hh ON COMMIT DROP AS "
            "SELECT row_number() OVER (ORDER BY h.id) AS n, h.id, h.grid_id, j.user_id "
            "FROM registry_household h "
            "JOIN accounts_jurisdiction j ON j.area_id = h.grid_id "
            "JOIN accounts_user u ON u.id = j.user_id AND u.role = 'grid_worker'"
        )
        cur.execute("CREATE UNIQUE INDEX ON bench_hh (n)")
        cur.execute(
            "CREATE TEMP TABLE bench_tagged ON COMMIT DROP AS "
            "SELECT row_number() OVER (ORDER BY b.id) AS n, b.id, b.grid_id, b.user_id "
            "FROM bench_hh b WHERE EXISTS (SELECT 1 FROM registry_tagperiod p "
            "JOIN visits_visitrule r ON r.tag_id = p.tag_id AND r.is_active "
            "WHERE p.household_id = b.id AND p.end_date IS NULL)"
        )
        cur.execute("CREATE UNIQUE INDEX ON bench_tagged (n)")
        cur.execute("SELECT (SELECT count(*) FROM bench_hh), (SELECT count(*) FROM bench_tagged)")
        n_hh, n_tagged = cur.fetchone()
        timer.lap(f"{n_hh:,} households, {n_tagged:,} with a must-visit tag")
        situations = "ARRAY[" + ", ".join(f"'{s}'" for s in SITUATIONS) + "]"
        tagged = int(args.visits * args.tagged_share) if n_tagged else 0
        for table, count, size in (
            ("bench_hh", args.visits - tagged, n_hh),
            ("bench_tagged", tagged, n_tagged),
        ):
            if not count:
                continue
            cur.execute(
                f"""
                INSERT INTO visits_visit (household_id, grid_id, visited_at, place, met_others,
                    situation, recorded_by_id, created_at, updated_at)
                SELECT b.id, b.grid_id, s.at, '家中', '', s.situation, b.user_id, s.at, s.at
                FROM (
                    SELECT 1 + floor(random() * %s)::int AS n,
                           timestamptz '2023-07-01 08:00+08' + floor(random() * 730) * interval '1 day'
                               + random() * interval '10 hours' AS at,
                           ({situations})[1 + floor(random() * {len(SITUATIONS)})::int] AS situation
                    FROM generate_series(1, %s)
                ) s JOIN {table} b ON b.n = s.n
                """,
                [size, count],
            )
            timer.lap(f"{count:,} visits written ({table})")
        cur.execute(
            "INSERT INTO visits_visit_visitors (visit_id, user_id) "
            "SELECT id, recorded_by_id FROM visits_visit"
        )
        timer.lap("visitors written")
        cur.execute(
            "INSERT INTO visits_lastvisit (household_id, visited_at) "
            "SELECT household_id, max(visited_at) FROM visits_visit GROUP BY household_id"
        )
        timer.lap("latest visit per household written")
        cur.execute("SET LOCAL session_replication_role = origin")
        # the replica role also kept the next-due triggers quiet: recount the kept dates
        cur.execute("SELECT to_regprocedure('visits_householddue_rebuild()') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT visits_householddue_rebuild()")
            timer.lap("kept next-due dates recounted")
        cur.execute("SELECT to_regprocedure('visits_householdmonth_rebuild()') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT visits_householdmonth_rebuild()")
            timer.lap("kept monthly visit counts recounted")
        for child, column, parent in (
            ("visits_visit", "household_id", "registry_household"),
            ("visits_visit", "grid_id", "areas_area"),
            ("visits_visit", "recorded_by_id", "accounts_user"),
            ("visits_visit_visitors", "visit_id", "visits_visit"),
            ("visits_visit_visitors", "user_id", "accounts_user"),
            ("visits_lastvisit", "household_id", "registry_household"),
        ):
            cur.execute(
                f"SELECT count(*) FROM {child} c WHERE NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
            )
            missing = cur.fetchone()[0]
            if missing:
                raise SystemExit(f"{missing} rows of {child}.{column} point nowhere")
        timer.lap("foreign keys checked (one anti-join per key)")
        build_indexes(indexes)
        timer.lap(f"{len(indexes)} secondary indexes built")
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) visits_visit")
        cur.execute("VACUUM (ANALYZE) visits_visit_visitors")
        cur.execute("VACUUM (ANALYZE) visits_lastvisit")
        cur.execute("SELECT count(*) FROM visits_visit")
        total = cur.fetchone()[0]
    timer.lap("vacuumed and analyzed")
    print(f"{total:,} visits in {timer.total():.1f} s")


if __name__ == "__main__":
    main()
