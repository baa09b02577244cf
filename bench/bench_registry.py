#!/usr/bin/env python
"""Registry benchmarks on the generated city (bench/generate.py), each a ratio against
hand-written SQL measured in the same run (the machine is shared and noisy).

    .venv/bin/python bench/bench_registry.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench

(a) search: GET /api/registry/households?tag=... (first page) as a township user, through
    Django's test Client, p95 over N requests, against the p95 of one raw SQL query that
    returns the same page (and the same total count);
(b) import: the 1M-resident CSV through the registry importer (reading, validation, COPY,
    foreign-key checks) against a raw COPY of exactly the rows it wrote into the same tables;
    both run in a transaction that is rolled back, so the city stays as generated;
(c) xlsx: the import rate of an xlsx file of --xlsx-rows rows (and of the same rows as csv),
    as openpyxl writes it and (--xlsx-layout) as Excel saves it: shared strings, empty
    cells left out, phones as numbers (minqing/core/tests/excel_layout.py).

Appends the figures to bench/RESULTS.md unless --no-write.
"""

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/minqing_bench"


class Rollback(Exception):
    pass


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--tag", default="dibao")
    p.add_argument(
        "--townships",
        type=lambda v: v.split(","),
        default=["first", "middle", "last"],
        help="which township users to search as: first,middle,last",
    )
    p.add_argument("--import-csv", type=Path, default=ROOT / "bench/out/import-1m.csv")
    p.add_argument("--import-residents", type=int, default=1_000_000)
    p.add_argument("--xlsx-rows", type=int, default=50_000)
    p.add_argument(
        "--xlsx-layout",
        choices=["openpyxl", "excel", "both"],
        default="both",
        help="the xlsx as openpyxl's writer lays it out, as Excel saves it, or both",
    )
    p.add_argument("--only", choices=["search", "import", "xlsx"], action="append")
    p.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of both")
    p.add_argument("--profile", type=Path, help="cProfile the importer into this file")
    p.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    p.add_argument("--repeat", type=int, default=3, help="interleaved import/COPY runs")
    return p.parse_args(argv)


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    os.environ.setdefault("MINQING_VAR_DIR", str(ROOT / "bench" / "out" / "var"))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    import django

    django.setup()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ------------------------------------------------------------------------- (a) search

# The same page as the API (households of the subtree carrying the tag now, by number,
# first 20, with grid, head, tags) and the same total. Written the way one would by hand:
# the subtree's matches first (a few thousand rows at most), then sort and cut; the
# MATERIALIZED keeps PostgreSQL from walking the whole number index instead.
RAW_SEARCH = """
WITH hits AS MATERIALIZED (
    SELECT h.id, h.number, h.address, h.grid_id, g.name AS grid_name, h.head_id, h.phone,
           g.path AS grid_path
      FROM areas_area g
      JOIN registry_household h ON h.grid_id = g.id
     WHERE g.path LIKE %(prefix)s
       AND EXISTS (SELECT 1 FROM registry_tagperiod tp
                    WHERE tp.household_id = h.id AND tp.tag_id = %(tag)s
                      AND tp.end_date IS NULL)
)
SELECT hits.id, hits.number, hits.address, hits.grid_id, hits.grid_name, hits.head_id,
       r.name, hits.phone,
       (SELECT array_agg(t.code ORDER BY t."order")
          FROM (SELECT DISTINCT tp.tag_id FROM registry_tagperiod tp
                 WHERE tp.household_id = hits.id AND tp.end_date IS NULL) cur
          JOIN registry_tag t ON t.id = cur.tag_id) AS tags,
       (SELECT count(*) FROM hits) AS total
  FROM hits
  LEFT JOIN registry_resident r ON r.id = hits.head_id
 ORDER BY {order}
 LIMIT 20
"""


def township_users(which: list[str]):
    """Township staff of the first, middle and last township (by code): the households of
    a township are contiguous in 户编号 order, so where it falls matters to the planner."""
    from minqing.accounts.models import User

    staff = list(
        User.objects.filter(role="township_staff", is_active=True)
        .prefetch_related("jurisdictions__area")
        .order_by("username")
    )
    by_area = {}
    for user in staff:
        area = user.jurisdictions.all()[0].area
        by_area.setdefault(area.code, (user, area))
    if not by_area:
        raise SystemExit("no township user: run bench/generate.py first")
    codes = sorted(by_area)
    picks = {"first": codes[0], "middle": codes[len(codes) // 2], "last": codes[-1]}
    return [(name, *by_area[picks[name]]) for name in which]


def bench_search(args) -> list[dict]:
    from django.db import connection
    from django.test import Client

    from minqing.registry.models import Tag

    tag = Tag.objects.get(code=args.tag)
    url = f"/api/registry/households?tag={args.tag}"
    # the app lists households grid by grid, then by 户编号 (registry.selectors)
    raw_sql = RAW_SEARCH.format(order="hits.grid_path, hits.number")
    results = []
    for which, user, area in township_users(args.townships):
        client = Client()
        client.force_login(user)
        params = {"prefix": f"{area.path}%", "tag": tag.pk}

        def api(client=client):
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            return response.json()

        def raw(params=params):
            with connection.cursor() as cursor:
                cursor.execute(raw_sql, params)
                return cursor.fetchall()

        body, rows = api(), raw()
        assert [i["number"] for i in body["items"]] == [r[1] for r in rows], "different rows"
        assert body["count"] == (rows[0][-1] if rows else 0), "different totals"
        for _ in range(5):  # warm both up
            api(), raw()
        api_times, raw_times = [], []
        for _ in range(args.requests):  # interleaved, so drift hits both alike
            t = time.perf_counter()
            api()
            api_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            raw()
            raw_times.append(time.perf_counter() - t)
        result = {
            "which": which,
            "user": user.username,
            "area": area.name,
            "tag": args.tag,
            "total": body["count"],
            "api_p95": p95(api_times),
            "raw_p95": p95(raw_times),
            "api_median": statistics.median(api_times),
            "raw_median": statistics.median(raw_times),
            "queries": _queries_of(client, url),
        }
        result["ratio"] = result["api_p95"] / result["raw_p95"]
        results.append(result)
        print(
            f"search  {url} as {user.username} ({which} township, {area.name}): "
            f"{result['total']} households\n"
            f"        API p95 {ms(result['api_p95'])} (median {ms(result['api_median'])}, "
            f"{result['queries']} queries) vs raw SQL p95 {ms(result['raw_p95'])} "
            f"(median {ms(result['raw_median'])}): ratio {result['ratio']:.1f}x"
        )
        if args.explain:
            explain_search(user, args.tag, params, raw_sql)
    return results


def _queries_of(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return len(ctx.captured_queries)


def explain_search(user, tag_code, params, raw_sql) -> None:
    from django.db import connection

    from minqing.registry.selectors import household_search

    qs = household_search(fetched_by=user, tag=tag_code)[:20]
    print("---- EXPLAIN ANALYZE: the selector's page query")
    print(qs.explain(analyze=True))
    print("---- EXPLAIN ANALYZE: the count query")
    print(household_search(fetched_by=user, tag=tag_code).order_by().explain(analyze=True))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + raw_sql, params)
        print("---- EXPLAIN ANALYZE: raw SQL")
        print("\n".join(r[0] for r in cursor.fetchall()))


# ------------------------------------------------------------------------- (b) import


def _admin():
    from minqing.accounts.models import User

    return User.objects.filter(is_superuser=True).order_by("pk").first()


def _job(path: Path):
    from minqing.core.models import Job

    return Job.objects.create(
        kind="registry", created_by=_admin(), input_file=str(path), params={"filename": path.name}
    )


def _dry_run_and_commit(path: Path, profile: Path | None = None) -> tuple[float, float, dict]:
    """A job as the user drives it: the dry run (preview), then the commit (validated
    again, written). Returns (dry run seconds, total seconds, result)."""
    from django.db import connection

    from minqing.core.imports import import_run
    from minqing.core.models import Job

    job = _job(path)
    t = time.perf_counter()
    import_run(str(job.pk))
    dry = time.perf_counter() - t
    job.refresh_from_db()
    if job.status != Job.Status.PREVIEW:
        errors = job.result.get("errors", [])[:5]
        raise SystemExit(f"dry run failed: {job.message} {errors}")
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.PENDING, params={**job.params, "commit": "create_update"}
    )
    if profile is not None:
        import cProfile

        cProfile.runctx("import_run(str(job.pk))", globals(), locals(), str(profile))
    else:
        import_run(str(job.pk))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    total = time.perf_counter() - t
    job.refresh_from_db()
    result = {"status": job.status, **job.result, "message": job.message}
    if job.status != "done":
        raise SystemExit(f"import failed: {job.message} {job.result.get('errors', [])[:5]}")
    return dry, total, result


def _written() -> tuple:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM registry_household), (SELECT count(*) FROM "
            "registry_resident), (SELECT count(*) FROM registry_tagperiod), (SELECT count(*) "
            "FROM core_auditevent), (SELECT count(*) FROM registry_move)"
        )
        return cursor.fetchone()


def run_importer(
    path: Path, *, profile: Path | None = None, again: bool = False
) -> tuple[float, dict]:
    """Run the registry importer on a file (dry run + commit) inside a transaction that is
    rolled back. With `again`, the same file is imported a second time in the same
    transaction (everything registered: nothing to write) and timed too."""
    from django.db import transaction

    seconds, result = 0.0, {}
    try:
        with transaction.atomic():
            dry, seconds, result = _dry_run_and_commit(path, profile)
            result["dry_run_s"] = dry
            if again:
                before = _written()
                dry2, again_s, result2 = _dry_run_and_commit(path)
                result["again_s"], result["again_dry_s"] = again_s, dry2
                result["again_message"] = result2["message"]
                # the job rows themselves aside, nothing was written
                result["again_wrote"] = tuple(
                    a - b for a, b in zip(_written(), before, strict=True)
                )
            raise Rollback
    except Rollback:
        pass
    return seconds, result


class Recorder:
    """Keeps the text the importer sends to COPY, to replay it as the raw baseline."""

    def __init__(self, directory: Path):
        from minqing.registry import imports

        self.imports = imports
        self.directory = directory
        self.files: list[tuple[str, str, Path]] = []
        self.original = imports._copy

    def __enter__(self):
        def recording(model, fields, lines, *, extra=()):
            from django.db import connection

            meta = model._meta
            columns = ", ".join(
                connection.ops.quote_name(meta.get_field(f).column) for f in (*fields, *extra)
            )
            path = self.directory / f"{meta.db_table}.copy"
            with path.open("w", encoding="utf-8") as out:

                def kept():
                    for line in lines:
                        out.write(line)
                        yield line

                self.original(model, fields, kept(), extra=extra)
            self.files.append((meta.db_table, columns, path))

        self.imports._copy = recording
        return self

    def __exit__(self, *exc):
        self.imports._copy = self.original


def raw_copy(files, *, bare: bool = False) -> float:
    """COPY the recorded text into the same tables (or, bare, into unindexed copies of
    them), check foreign keys, roll back."""
    from django.db import connection, transaction

    seconds = 0.0
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                targets = []
                for table, columns, path in files:
                    target = table
                    if bare:
                        target = f"bare_{table}"
                        cursor.execute(
                            f"CREATE TEMP TABLE {target} (LIKE {table} INCLUDING IDENTITY INCLUDING DEFAULTS)"
                        )
                    targets.append((target, columns, path.read_text(encoding="utf-8")))
                t = time.perf_counter()
                for target, columns, text in targets:
                    with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                        copy.write(text)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                seconds = time.perf_counter() - t
            raise Rollback
    except Rollback:
        pass
    return seconds


# What an import writes to (the rolled-back runs leave their rows there, dead): the
# registry, the kept summaries and the visits tables the tag-period triggers keep.
WRITTEN_TABLES = (
    *("registry_household", "registry_resident", "registry_tagperiod"),
    *("registry_gridsummary", "registry_gridtagsummary"),
    *("visits_householdtags", "visits_householddue"),
)


def vacuum() -> None:
    """VACUUM ANALYZE what a rolled-back run wrote to: the next run starts from the same
    tables (a run after one that was rolled back otherwise meets its dead rows: the same
    IDs and 户编号 in the unique indexes, the summary rows it updated)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute("SELECT to_regclass(%s)", [table])
            if cursor.fetchone()[0] is not None:
                cursor.execute(f"VACUUM ANALYZE {table}")


def bench_import(args) -> dict:
    path = args.import_csv
    if not path.exists():
        print(f"writing {path} ({args.import_residents:,} rows)...", flush=True)
        from generate import write_import_csv

        write_import_csv(path, rows=args.import_residents, seed=1)
    rows = sum(1 for _ in path.open(encoding="utf-8-sig")) - 1
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        print(f"import  {path.name}: {rows:,} rows; recording what the importer writes...")
        with Recorder(Path(tmp)) as recorder:
            run_importer(path)
        vacuum()
        for i in range(args.repeat):
            # interleaved: importer first on even runs, the raw COPY first on odd ones
            order = ("importer", "copy") if i % 2 == 0 else ("copy", "importer")
            run = {}
            for what in order:
                if what == "importer":
                    run["importer"], result = run_importer(
                        path, profile=args.profile if i == 0 else None, again=True
                    )
                    run["dry_run"] = result["dry_run_s"]
                    run["again"] = result["again_s"]
                    run["again_wrote"] = result["again_wrote"]
                    run["again_message"] = result["again_message"]
                else:
                    run["raw_copy"] = raw_copy(recorder.files)
                vacuum()
            run["ratio"] = run["importer"] / run["raw_copy"]
            run["dry_ratio"] = run["dry_run"] / run["raw_copy"]
            run["again_ratio"] = run["again"] / run["importer"]
            print(
                f"        run {i + 1}: import (dry run + commit) {run['importer']:.1f} s, "
                f"dry run {run['dry_run']:.1f} s, raw COPY {run['raw_copy']:.1f} s -> "
                f"{run['ratio']:.2f}x / {run['dry_ratio']:.2f}x; re-import {run['again']:.1f} s "
                f"({run['again_ratio']:.2f}x of the first; wrote {run['again_wrote']}: "
                f"{run['again_message']})",
                flush=True,
            )
            runs.append(run)
        bare_s = raw_copy(recorder.files, bare=True)
        sizes = {table: p.stat().st_size for table, _c, p in recorder.files}

    def spread(key):
        values = sorted(r[key] for r in runs)
        return statistics.median(values), values[0], values[-1]

    out = {
        "rows": rows,
        "runs": runs,
        "importer": spread("importer")[0],
        "raw_copy": spread("raw_copy")[0],
        "dry_run": spread("dry_run")[0],
        "again": spread("again")[0],
        "bare_copy": bare_s,
        "ratio": spread("ratio"),
        "dry_ratio": spread("dry_ratio"),
        "again_ratio": spread("again_ratio"),
        "bare_ratio": spread("importer")[0] / bare_s,
        "households": result.get("households_created"),
        "tag_periods": result.get("tag_periods"),
        "copy_mb": sum(sizes.values()) / 1e6,
    }
    print(
        f"        median of {len(runs)}: import {out['ratio'][0]:.2f}x "
        f"({out['ratio'][1]:.2f}-{out['ratio'][2]:.2f}), dry run {out['dry_ratio'][0]:.2f}x "
        f"({out['dry_ratio'][1]:.2f}-{out['dry_ratio'][2]:.2f}), re-import "
        f"{out['again_ratio'][0]:.2f}x of the import "
        f"({out['again_ratio'][1]:.2f}-{out['again_ratio'][2]:.2f})"
    )
    return out


# ------------------------------------------------------------------------- (c) xlsx


def bench_xlsx(args) -> dict:
    from openpyxl import Workbook

    source = args.import_csv
    if not source.exists():
        raise SystemExit(f"{source} is missing: run the import benchmark or generate.py first")
    with tempfile.TemporaryDirectory() as tmp:
        xlsx_path = Path(tmp) / f"import-{args.xlsx_rows // 1000}k.xlsx"
        csv_path = Path(tmp) / f"import-{args.xlsx_rows // 1000}k.csv"
        excel_path = Path(tmp) / f"import-{args.xlsx_rows // 1000}k-excel.xlsx"
        layouts = {"openpyxl", "excel"} if args.xlsx_layout == "both" else {args.xlsx_layout}
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("台账")
        excel_rows = []
        with source.open(encoding="utf-8-sig") as fh, csv_path.open("w", encoding="utf-8") as out:
            writer = csv.writer(out)
            for i, row in enumerate(csv.reader(fh)):
                if i > args.xlsx_rows:
                    break
                ws.append(row)
                writer.writerow(row)
                if "excel" in layouts:
                    # as a cadre's Excel keeps it: empty cells left out, mobile phones typed
                    # as numbers, every other text a shared string
                    excel_rows.append(
                        [
                            None if not v else int(v) if i and v.isdigit() and len(v) == 11 else v
                            for v in row
                        ]
                    )
        wb.save(xlsx_path)
        if "excel" in layouts:
            from minqing.core.tests.excel_layout import excel_xlsx

            excel_path.write_bytes(excel_xlsx(excel_rows, title="台账"))
            del excel_rows
        runs = []
        vacuum()
        for _i in range(args.repeat):  # interleaved
            run = {}
            # each run rolled back, then vacuumed: every one starts from the same tables
            if "openpyxl" in layouts:
                run["xlsx"], _ = run_importer(xlsx_path)
                vacuum()
            if "excel" in layouts:
                run["excel"], _ = run_importer(excel_path)  # a refused file raises
                vacuum()
            run["csv"], _ = run_importer(csv_path)
            vacuum()
            if "openpyxl" in layouts:
                run["read"] = _read_only(xlsx_path)
                run["openpyxl"] = _openpyxl_only(xlsx_path)
            if "excel" in layouts:
                run["excel_read"] = _read_only(excel_path)
            runs.append(run)
            print(
                "        "
                + (
                    f"xlsx import {run['xlsx']:.1f} s, "
                    f"reader alone {run['read']:.2f} s, openpyxl alone {run['openpyxl']:.2f} s, "
                    if "openpyxl" in layouts
                    else ""
                )
                + (
                    f"Excel-layout xlsx import {run['excel']:.1f} s, reader alone "
                    f"{run['excel_read']:.2f} s, "
                    if "excel" in layouts
                    else ""
                )
                + f"csv import {run['csv']:.1f} s",
                flush=True,
            )

    def med(key):
        values = sorted(r[key] for r in runs)
        return statistics.median(values), values[0], values[-1]

    out = {
        "rows": args.xlsx_rows,
        "csv": med("csv")[0],
        "csv_rate": args.xlsx_rows / med("csv")[0],
    }
    line = f"xlsx    {args.xlsx_rows:,} rows:"
    if "openpyxl" in layouts:
        rates = sorted(args.xlsx_rows / r["xlsx"] for r in runs)
        speedups = sorted(r["openpyxl"] / r["read"] for r in runs)
        out |= {
            "xlsx": med("xlsx")[0],
            "xlsx_rate": statistics.median(rates),
            "xlsx_rate_range": (rates[0], rates[-1]),
            "xlsx_read": med("read")[0],
            "openpyxl_read": med("openpyxl")[0],
            "read_speedup": (statistics.median(speedups), speedups[0], speedups[-1]),
        }
        line += (
            f" xlsx {out['xlsx']:.1f} s ({out['xlsx_rate']:,.0f} "
            f"rows/s, {rates[0]:,.0f}-{rates[-1]:,.0f}; reader alone {out['xlsx_read']:.2f} s, "
            f"openpyxl alone {out['openpyxl_read']:.2f} s: {out['read_speedup'][0]:.2f}x "
            f"({speedups[0]:.2f}-{speedups[-1]:.2f})),"
        )
    if "excel" in layouts:
        rates = sorted(args.xlsx_rows / r["excel"] for r in runs)
        out |= {
            "excel": med("excel")[0],
            "excel_rate": statistics.median(rates),
            "excel_rate_range": (rates[0], rates[-1]),
            "excel_read": med("excel_read")[0],
        }
        line += (
            f" Excel layout {out['excel']:.1f} s ({out['excel_rate']:,.0f} rows/s, "
            f"{rates[0]:,.0f}-{rates[-1]:,.0f}; reader alone {out['excel_read']:.2f} s),"
        )
    print(line + f" csv {out['csv']:.1f} s ({out['csv_rate']:,.0f} rows/s)")
    return out


def _openpyxl_only(path: Path) -> float:
    """openpyxl's read-only mode reading every cell value of the same file, nothing else."""
    from openpyxl import load_workbook

    t = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    for ws in wb.worksheets:
        for _row in ws.iter_rows(values_only=True):
            pass
    wb.close()
    return time.perf_counter() - t


def _read_only(path: Path) -> float:
    from minqing.core.tabular import read_table

    t = time.perf_counter()
    with path.open("rb") as fh:
        for _ in read_table(fh, path.name).rows:
            pass
    return time.perf_counter() - t


# ------------------------------------------------------------------------- report


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return (
        f"{os.cpu_count()} CPU ({cpu}), {mem} RAM, Python {platform.python_version()}, "
        f"PostgreSQL {pg} (stock settings), shared machine"
    )


def city_size() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM registry_household), "
            "(SELECT count(*) FROM registry_resident), (SELECT count(*) FROM registry_tagperiod)"
        )
        h, r, t = cursor.fetchone()
    return f"{h:,} households, {r:,} residents, {t:,} tag periods"


def label(search: dict) -> str:
    return "search"


def write_results(results: dict) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"\n## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (commit {commit})\n",
        f"- machine: {machine()}",
        f"- city: {city_size()}",
    ]
    for s in results.get("search", []):
        lines.append(
            f"- {label(s)}, `GET /api/registry/households?tag={s['tag']}` first page as "
            f"`{s['user']}` ({s['which']} township by code, {s['area']}; {s['total']} "
            f"matching households; {s['queries']} queries per request): API p95 "
            f"{ms(s['api_p95'])} vs raw SQL p95 {ms(s['raw_p95'])} → **{s['ratio']:.1f}×** "
            f"(target ≤ 5×)"
        )
    if i := results.get("import"):
        r, d, a = i["ratio"], i["dry_ratio"], i["again_ratio"]
        lines.append(
            f"- import of a {i['rows']:,}-resident csv ({i['households']:,} households, "
            f"{i['tag_periods']:,} tag periods), dry run (validation, preview) then commit "
            f"(validated again, written), median of {len(i['runs'])} interleaved runs: "
            f"{i['importer']:.1f} s vs raw COPY of the same rows into the same tables "
            f"{i['raw_copy']:.1f} s → **{r[0]:.2f}×** (range {r[1]:.2f}–{r[2]:.2f}; target ≤ 2×); "
            f"the dry run alone {i['dry_run']:.1f} s → **{d[0]:.2f}×** of the COPY (range "
            f"{d[1]:.2f}–{d[2]:.2f}; target ≤ 1.5×); vs COPY into unindexed copies "
            f"{i['bare_copy']:.1f} s → {i['bare_ratio']:.1f}×"
        )
        lines.append(
            f"- re-import of the same file (all registered, nothing changes): "
            f"{i['again']:.1f} s → **{a[0]:.2f}×** of the first import (range "
            f"{a[1]:.2f}–{a[2]:.2f}; target ≤ 1×); rows written (households, residents, tag "
            f"periods, audit events, moves): {i['runs'][0]['again_wrote']}"
        )
    if (x := results.get("xlsx")) and "xlsx" in x:
        lines.append(
            f"- xlsx import, {x['rows']:,} rows: {x['xlsx']:.1f} s → **{x['xlsx_rate']:,.0f} "
            f"rows/s** (the reader alone {x['xlsx_read']:.1f} s, openpyxl read-only alone "
            f"{x['openpyxl_read']:.1f} s); the same rows as csv {x['csv']:.1f} s → "
            f"{x['csv_rate']:,.0f} rows/s"
        )
    if x and "excel" in x:
        lines.append(
            f"- xlsx as Excel saves it (shared strings, empty cells left out, phones as "
            f"numbers), {x['rows']:,} rows: {x['excel']:.1f} s → **{x['excel_rate']:,.0f} "
            f"rows/s** (the reader alone {x['excel_read']:.1f} s)"
        )
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `bench/bench_registry.py`.\n")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"appended to {path}")


def main(argv=None) -> None:
    args = parse_args(argv)
    setup(args.database_url)
    only = set(args.only or ["search", "import", "xlsx"])
    results = {}
    if "search" in only:
        results["search"] = bench_search(args)
    if "import" in only:
        results["import"] = bench_import(args)
    if "xlsx" in only:
        results["xlsx"] = bench_xlsx(args)
    if not args.no_write:
        write_results(results)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
