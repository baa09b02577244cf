#!/usr/bin/env python
"""Appeals at city scale: fill 1M appeals into a generated city, then time "my duties" and
the area list through the app (selector + output schema, as the API serves a page) against
raw SQL returning the same rows, measured in the same run.

    .venv/bin/python bench/generate.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench_appeals \\
        --seed 1 --households 2000 --residents 6000
    .venv/bin/python bench/bench_appeals.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench_appeals \\
        --appeals 1000000

A city from `bench/generate.py` already holds its appeals and their events (`--appeals`,
1M by default, by COPY): then nothing is filled here. Otherwise appeals are written with one
INSERT ... SELECT generate_series (states spread like a live
system: most archived, ~15 % open; open ones owned by the grid's village cadres or waiting at
their level; due dates around now, some overdue). No events are written for them (the lists
do not read events); check_workflows would report them, which is why this stays a bench DB.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fill(cur, n: int) -> None:
    cur.execute("SELECT count(*) FROM appeals_appeal")
    if cur.fetchone()[0] >= n:
        print(f"already {n} appeals")
        return
    cur.execute("TRUNCATE appeals_appeal CASCADE")
    cur.execute("SELECT id FROM appeals_category ORDER BY id")
    cats = [r[0] for r in cur.fetchall()]
    t0 = time.perf_counter()
    cur.execute(
        """
        CREATE TEMP TABLE g AS
        SELECT a.id AS grid_id, a.parent_id AS village_id, row_number() OVER () - 1 AS i
        FROM areas_area a WHERE a.level = 5;
        CREATE TEMP TABLE vc AS  -- one village cadre per village, when there is one
        SELECT DISTINCT ON (j.area_id) j.area_id AS village_id, u.id AS user_id
        FROM accounts_jurisdiction j JOIN accounts_user u ON u.id = j.user_id
        WHERE u.role = 'village_cadre' ORDER BY j.area_id, u.id;
        """
    )
    cur.execute("SELECT count(*) FROM g")
    grids = cur.fetchone()[0]
    cur.execute(
        f"""
        INSERT INTO appeals_appeal (
            state, created_at, state_changed_at, kind, channel, category_id, area_id,
            handling_area_id, title, content, location, answers, contact_name, contact_phone,
            escalations, supervisions, result, rating, parties, mediation_record,
            mediation_outcome, due_at, owner_id)
        SELECT
            CASE WHEN s.n % 100 < 85 THEN 'archived'
                 WHEN s.n % 100 < 89 THEN 'accepted'
                 WHEN s.n % 100 < 94 THEN 'claimed'
                 WHEN s.n % 100 < 97 THEN 'in_progress' ELSE 'resolved' END,
            now() - (s.n % 730) * interval '1 day', now() - (s.n % 30) * interval '1 day',
            'appeal', 'visit', (ARRAY{cats})[1 + s.n % {len(cats)}], g.grid_id, g.village_id,
            '事项 ' || s.n, '村民反映的事项内容 ' || s.n, '', '{{}}', '', '',
            0, 0, '', '', '', '', '',
            now() + ((s.n % 21) - 5) * interval '1 day',
            CASE WHEN s.n % 100 BETWEEN 89 AND 96 THEN vc.user_id END
        FROM generate_series(1, {n}) AS s(n)
        JOIN g ON g.i = s.n % {grids}
        LEFT JOIN vc ON vc.village_id = g.village_id
        """
    )
    cur.execute("ANALYZE appeals_appeal")
    print(f"filled {n} appeals in {time.perf_counter() - t0:.1f} s")


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return statistics.median(xs), xs[int(len(xs) * 0.95) - 1]


def _p(xs, q):
    xs = sorted(xs)
    return xs[max(0, int(len(xs) * q + 0.5) - 1)]


def interleaved(app, sql, runs: int, rounds: int = 3):
    """app and SQL one after the other, `runs` times each, in `rounds` rounds: medians and
    p95 over all runs, and the p95 ratio of each round (its spread)."""
    app(), sql()  # warm
    a_all, s_all, ratios = [], [], []
    for _ in range(rounds):
        a, s = [], []
        for _ in range(max(1, runs // rounds)):
            for fn, xs in ((app, a), (sql, s)):
                t0 = time.perf_counter()
                fn()
                xs.append((time.perf_counter() - t0) * 1000)
        ratios.append(_p(a, 0.95) / _p(s, 0.95))
        a_all += a
        s_all += s
    return (
        statistics.median(a_all),
        _p(a_all, 0.95),
        statistics.median(s_all),
        _p(s_all, 0.95),
        ratios,
    )


def same(sql, app) -> bool:
    """The app and the SQL give the same rows (ids, in order) and the same counts."""
    if isinstance(app, tuple):
        return len(app) == len(sql) and all(same(x, y) for x, y in zip(sql, app, strict=True))
    if isinstance(app, list):
        ids = [a["id"] if isinstance(a, dict) else a for a in app]
        return [r[0] if isinstance(r, tuple) else r for r in sql] == ids
    return sql == app


def explain(cadre, township):
    """EXPLAIN ANALYZE of every query the app runs for its duties page, home panel and
    overdue page (captured, then explained one by one)."""
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from minqing.appeals.nav import _duties
    from minqing.appeals.selectors import appeal_duties, appeal_list

    request = RequestFactory().get("/")
    request.user = cadre
    runs = {
        "duties page": lambda: (
            list(appeal_duties(fetched_by=cadre)[:20]),
            appeal_duties(fetched_by=cadre).count(),
        ),
        "home panel": lambda: _duties(request),
        "overdue page": lambda: (
            list(appeal_list(fetched_by=township, overdue=True)[:20]),
            appeal_list(fetched_by=township, overdue=True).count(),
        ),
    }
    for name, fn in runs.items():
        fn()
        with CaptureQueriesContext(connection) as ctx:
            fn()
        for q in ctx.captured_queries:
            print(f"\n-- {name}: {q['sql'][:300]}")
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                print("\n".join(r[0] for r in cur.fetchall()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--appeals", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=60)
    p.add_argument("--only", action="append", help="run the cases whose name has this")
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the app's queries")
    args = p.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    with transaction.atomic(), connection.cursor() as cur:
        fill(cur, args.appeals)

    from minqing.accounts.models import User
    from minqing.appeals.schemas import appeal_out
    from minqing.appeals.selectors import appeal_duties, appeal_list

    cadre = (
        User.objects.filter(role="village_cadre", owned_appeals__isnull=False)
        .order_by("id")
        .first()
    )
    township = User.objects.filter(role="township_staff").order_by("id").first()
    print(f"cadre {cadre.username}, township {township.username}")

    def page(qs):
        return [appeal_out(a) for a in qs[:20]]

    cases = []
    # my duties, village cadre: app vs raw SQL for the same 20 rows
    village_path = cadre.jurisdictions.select_related("area").first().area.path
    unit_id = cadre.unit_id or 0  # no unit: that part of the OR finds nothing

    def duties_app():
        return page(appeal_duties(fetched_by=cadre))

    def duties_sql():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT a.*, c.name, ar.name, h.name, h.level, u.username
                FROM appeals_appeal a JOIN areas_area ar ON ar.id = a.area_id
                JOIN appeals_category c ON c.id = a.category_id
                JOIN areas_area h ON h.id = a.handling_area_id
                LEFT JOIN accounts_user u ON u.id = a.owner_id
                WHERE (a.owner_id = %s AND a.state IN ('claimed','assigned','in_progress'))
                   OR (a.unit_id = %s AND a.owner_id IS NULL AND a.state = 'assigned')
                   OR (ar.path LIKE %s AND a.state = 'accepted' AND h.level = 4)
                ORDER BY (a.due_at >= now()), a.due_at, a.id LIMIT 20
                """,
                [cadre.pk, unit_id, village_path + "%"],
            )
            return cur.fetchall()

    def duties_union():
        """The same rows as two indexed halves (owned; waiting at the village), the way a
        person would write it by hand for speed."""
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT a.*, c.name, ar.name, h.name, h.level, u.username
                FROM (
                  (SELECT a.id FROM appeals_appeal a
                   WHERE a.owner_id = %s AND a.state IN ('claimed','assigned','in_progress')
                   ORDER BY (a.due_at >= now()), a.due_at, a.id LIMIT 20)
                  UNION
                  (SELECT a.id FROM appeals_appeal a
                   WHERE a.unit_id = %s AND a.owner_id IS NULL AND a.state = 'assigned'
                   ORDER BY (a.due_at >= now()), a.due_at, a.id LIMIT 20)
                  UNION
                  (SELECT a.id FROM appeals_appeal a
                   JOIN areas_area ar ON ar.id = a.area_id
                   JOIN areas_area h ON h.id = a.handling_area_id
                   WHERE ar.path LIKE %s AND a.state = 'accepted' AND h.level = 4
                   ORDER BY (a.due_at >= now()), a.due_at, a.id LIMIT 20)
                ) ids JOIN appeals_appeal a ON a.id = ids.id
                JOIN areas_area ar ON ar.id = a.area_id
                JOIN appeals_category c ON c.id = a.category_id
                JOIN areas_area h ON h.id = a.handling_area_id
                LEFT JOIN accounts_user u ON u.id = a.owner_id
                ORDER BY (a.due_at >= now()), a.due_at, a.id LIMIT 20
                """,
                [cadre.pk, unit_id, village_path + "%"],
            )
            return cur.fetchall()

    cases.append(("my duties (village cadre)", duties_app, duties_sql))
    cases.append(("my duties vs a UNION in SQL", duties_app, duties_union))
    village_id = cadre.jurisdictions.first().area_id
    duties_where = """
        (a.owner_id = %s AND a.state IN ('claimed','assigned','in_progress'))
        OR (a.unit_id = %s AND a.owner_id IS NULL AND a.state = 'assigned')
        OR (a.handling_area_id = %s AND a.state = 'accepted')"""

    def duties_bitmap():
        """The same rows on the appeal's own columns (the cadre's village is the handling
        area of what waits there), one bitmap OR over the owner and level indexes."""
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT a.*, c.name, ar.name, h.name, h.level, u.username
                FROM appeals_appeal a JOIN areas_area ar ON ar.id = a.area_id
                JOIN appeals_category c ON c.id = a.category_id
                JOIN areas_area h ON h.id = a.handling_area_id
                LEFT JOIN accounts_user u ON u.id = a.owner_id
                WHERE {duties_where}
                ORDER BY a.due_at, a.id LIMIT 20
                """,
                [cadre.pk, unit_id, village_id],
            )
            return cur.fetchall()

    def duties_count_sql():
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT count(*) FROM appeals_appeal a WHERE {duties_where}",
                [cadre.pk, unit_id, village_id],
            )
            return cur.fetchone()[0]

    cases.append(("my duties vs bitmap OR in SQL", duties_app, duties_bitmap))

    def duties_page_app():
        """As the API serves a page: 20 rows and the total."""
        qs = appeal_duties(fetched_by=cadre)
        return page(qs), qs.count()

    cases.append(
        ("my duties page + count", duties_page_app, lambda: (duties_bitmap(), duties_count_sql()))
    )
    from django.test import RequestFactory

    from minqing.appeals.nav import _duties

    panel_request = RequestFactory().get("/")
    panel_request.user = cadre

    def panel_app():
        panel = _duties(panel_request)
        return [a.pk for a in panel["duties"]], panel["duties_count"], panel["duties_overdue"]

    def panel_sql():
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT a.id, a.title, a.state, a.due_at, count(*) OVER (),
                       count(*) FILTER (WHERE a.due_at < now()) OVER ()
                FROM appeals_appeal a WHERE {duties_where}
                ORDER BY a.due_at, a.id LIMIT 5
                """,
                [cadre.pk, unit_id, village_id],
            )
            rows = cur.fetchall()
        return [r[0] for r in rows], rows[0][4] if rows else 0, rows[0][5] if rows else 0

    cases.append(("home panel (5 rows + 2 counts)", panel_app, panel_sql))
    town_path = township.jurisdictions.select_related("area").first().area.path

    def area_app():
        return page(appeal_list(fetched_by=township))

    def area_sql():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT a.*, c.name, ar.name, h.name, h.level
                FROM appeals_appeal a JOIN areas_area ar ON ar.id = a.area_id
                JOIN appeals_category c ON c.id = a.category_id
                JOIN areas_area h ON h.id = a.handling_area_id
                WHERE ar.path LIKE %s ORDER BY a.created_at DESC, a.id DESC LIMIT 20
                """,
                [town_path + "%"],
            )
            return cur.fetchall()

    cases.append(("area list, township, newest first", area_app, area_sql))

    def overdue_app():
        return page(appeal_list(fetched_by=township, overdue=True))

    def overdue_sql():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT a.*, c.name, ar.name, h.name
                FROM appeals_appeal a JOIN areas_area ar ON ar.id = a.area_id
                JOIN appeals_category c ON c.id = a.category_id
                JOIN areas_area h ON h.id = a.handling_area_id
                WHERE ar.path LIKE %s AND a.due_at < now()
                  AND a.state IN ('accepted','claimed','assigned','in_progress')
                ORDER BY a.due_at, a.id LIMIT 20
                """,
                [town_path + "%"],
            )
            return cur.fetchall()

    cases.append(("overdue list, township", overdue_app, overdue_sql))

    def overdue_page_app():
        qs = appeal_list(fetched_by=township, overdue=True)
        return page(qs), qs.count()

    def overdue_count_sql():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT count(*) FROM appeals_appeal a JOIN areas_area ar ON ar.id = a.area_id
                WHERE ar.path LIKE %s AND a.due_at < now()
                  AND a.state IN ('accepted','claimed','assigned','in_progress')
                """,
                [town_path + "%"],
            )
            return cur.fetchone()[0]

    cases.append(
        (
            "overdue page + count, township",
            overdue_page_app,
            lambda: (overdue_sql(), overdue_count_sql()),
        )
    )
    print(
        f"\n{'query':<36} {'app p50':>8} {'app p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95 ratio':>9}"
        "  (per round)"
    )
    for name, app, sql in cases:
        if args.only and not any(o in name for o in args.only):
            continue
        assert same(sql(), app()), f"{name}: not the same rows"
        a50, a95, s50, s95, ratios = interleaved(app, sql, args.runs)
        spread = "/".join(f"{r:.2f}" for r in ratios)
        print(
            f"{name:<36} {a50:8.1f} {a95:8.1f} {s50:8.1f} {s95:8.1f} {a95 / s95:9.2f}  ({spread})"
        )
    if args.explain:
        explain(cadre, township)
    if args.only:
        return
    suggestions(args, cadre, village_path)


def suggestions(args, cadre, village_path):
    """What smart routing adds to an intake, measured apart (it is its own call,
    /api/appeals/suggest): one category proposal, and the duplicate lookup among the open
    matters of one village and category at 1M appeals, against the candidate query alone
    in SQL."""
    from django.db import connection

    from minqing.appeals import routing
    from minqing.appeals.models import Category
    from minqing.areas.models import Area

    village = Area.objects.get(path=village_path)
    text = "村里那条路烂得冇法走了,下雨天全是泥巴坑"
    road = Category.objects.get(code="road").pk
    routing.forget()
    t0 = time.perf_counter()
    routing.route_suggest(text)
    built = (time.perf_counter() - t0) * 1000

    def dup():
        cadre._jurisdiction_paths = None
        return routing.duplicate_suggest(
            fetched_by=cadre, text=text, area=village, category_id=road
        )

    def candidates_sql():
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT a.id, a.title, a.state, a.content FROM appeals_appeal a
                JOIN areas_area ar ON ar.id = a.area_id
                WHERE ar.path LIKE %s AND a.category_id = %s
                  AND a.state IN ('accepted','claimed','assigned','in_progress')
                ORDER BY a.created_at DESC LIMIT 300
                """,
                [village_path + "%", road],
            )
            return cur.fetchall()

    n = len(candidates_sql())
    r50, r95 = timed(lambda: routing.route_suggest(text), args.runs)
    d50, d95 = timed(dup, args.runs)
    s50, s95 = timed(candidates_sql, args.runs)
    print(f"\nrouting and duplicates (router built once per process: {built:.0f} ms)")
    print(f"{'call':<36} {'p50':>8} {'p95':>8}")
    print(f"{'category proposal':<36} {r50:8.1f} {r95:8.1f}")
    print(f"{f'duplicate lookup ({n} open candidates)':<36} {d50:8.1f} {d95:8.1f}")
    print(f"{'  its candidate query in SQL':<36} {s50:8.1f} {s95:8.1f}")


if __name__ == "__main__":
    main()
