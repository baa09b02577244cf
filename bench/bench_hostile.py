#!/usr/bin/env python
"""Peak memory of the import worker on hostile files (issue 12 point 5) and on the 1M-row
file: each file runs through the registry importer exactly as a job does (dry run, then the
commit when the dry run passes, inside a transaction rolled back) in a fresh process, and
its peak RSS is read from the kernel (wait4 ru_maxrss).

    .venv/bin/python bench/bench_hostile.py \\
        --database-url postgres://postgres@127.0.0.1:5432/minqing_bench

Files (written into bench/out/hostile/, streaming, never held in memory):
- heads-180k.csv / heads-736k.csv: one household with a 户主 on every row;
- big-50m.csv: 50 MB of well-formed rows (refused by the row limit or imported);
- cell-300m.xlsx: one cell of 300 MB;
- empty-1m.xlsx: a header, one person and a million formatted empty rows;
- the 1M-resident csv of bench/generate.py (--import-csv).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "hostile"
HEADERS = ["网格代码", "户编号", "住址", "姓名", "身份证号", "与户主关系", "手机号"]


def _ids(n: int):
    from datetime import date, timedelta

    sys.path.insert(0, str(ROOT))
    from minqing.core.idcard import make_id_number

    day = date(1950, 1, 1)
    i = 0
    while i < n:
        for order in range(1, 1000):
            yield make_id_number("110101", day, order)
            i += 1
            if i >= n:
                return
        day += timedelta(days=1)


def write_heads_csv(path: Path, size: int, grid: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(HEADERS) + "\n")
        written = 0
        for i, idn in enumerate(_ids(10**7)):
            line = f"{grid},HOSTILE-1,某村某组 1 号,户主{i},{idn},户主,\n"
            out.write(line)
            written += len(line.encode())
            if written >= size:
                return


def write_big_csv(path: Path, size: int, grid: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(HEADERS) + "\n")
        written = 0
        for i, idn in enumerate(_ids(10**7)):
            rel = "户主" if i % 3 == 0 else "子女"
            line = f"{grid},BIG-{i // 3},某村某组 {i // 3} 号,居民{i},{idn},{rel},13800000000\n"
            out.write(line)
            written += len(line.encode())
            if written >= size:
                return


def _xlsx_with_sheet(path: Path, write_sheet) -> None:
    """A minimal xlsx whose worksheet XML is written by `write_sheet(fh)` streaming."""
    ct = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
        '"xl/workbook.xml"/></Relationships>'
    )
    wb = (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>"
    )
    wbrels = (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
        '"worksheets/sheet1.xml"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wbrels)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            write_sheet(fh)
            fh.write(b"</sheetData></worksheet>")


def _row(r: int, values) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{r}">{cells}</row>'.encode()


def write_cell_xlsx(path: Path, chars: int, grid: str) -> None:
    idn = next(_ids(1))

    def sheet(fh):
        fh.write(_row(1, HEADERS + ["备注"]))
        fh.write(_row(2, [grid, "CELL-1", "某村", "某人", idn, "户主", ""])[: -len("</row>")])
        fh.write(b'<c r="H2" t="inlineStr"><is><t>')
        chunk = b"A" * (1 << 20)
        for _i in range(chars // len(chunk)):
            fh.write(chunk)
        fh.write(b"</t></is></c></row>")

    _xlsx_with_sheet(path, sheet)


def write_empty_rows_xlsx(path: Path, rows: int, grid: str) -> None:
    idn = next(_ids(1))

    def sheet(fh):
        fh.write(_row(1, HEADERS))
        fh.write(_row(2, [grid, "EMPTY-1", "某村", "某人", idn, "户主", ""]))
        batch = []
        for r in range(3, rows + 3):
            batch.append(f'<row r="{r}"><c r="A{r}"/></row>')
            if len(batch) == 10000:
                fh.write("".join(batch).encode())
                batch.clear()
        fh.write("".join(batch).encode())

    _xlsx_with_sheet(path, sheet)


# ---------------------------------------------------------------- the worker


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(url: str, path: str, user: str, repeat_commit: bool) -> None:
    """Run one file as a job does (dry run, commit), rolled back; print a JSON line."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    os.environ.setdefault("MINQING_VAR_DIR", str(ROOT / "bench" / "out" / "var"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import transaction

    from minqing.accounts.models import User
    from minqing.core.imports import import_run
    from minqing.core.models import Job

    actor = User.objects.get(username=user)
    t = time.perf_counter()
    out = {}
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind="registry",
                created_by=actor,
                input_file=path,
                params={"filename": Path(path).name},
            )
            import_run(str(job.pk))
            job.refresh_from_db()
            out["dry_run_s"] = time.perf_counter() - t
            # what the process holds while the user reads the preview, and its peak so far
            out["held_after_dry_run_mb"] = _rss_mb()
            out["peak_dry_run_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if job.status == Job.Status.PREVIEW:
                Job.objects.filter(pk=job.pk).update(
                    status=Job.Status.PENDING, params={**job.params, "commit": "create_update"}
                )
                import_run(str(job.pk))
                job.refresh_from_db()
            out.update(status=job.status, message=job.message[:160])
            out["errors_kept"] = len(job.result.get("errors", []))
            out["error_total"] = job.result.get("error_total", 0)
            out["result_bytes"] = len(json.dumps(job.result, ensure_ascii=False))
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    out["seconds"] = time.perf_counter() - t
    print(json.dumps(out, ensure_ascii=False))


def measure(url: str, path: Path, user: str) -> dict:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(path), "--user", user, "--database-url", url],
        stdout=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    line = proc.stdout.read().decode().strip().splitlines()
    result = json.loads(line[-1]) if line else {"status": f"exit {status}"}
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["file_mb"] = path.stat().st_size / 2**20
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    p.add_argument("--worker")
    p.add_argument("--user", default="")
    p.add_argument("--grid", default="")
    p.add_argument("--import-csv", type=Path, default=ROOT / "bench/out/import-1m.csv")
    p.add_argument("--only", action="append")
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.database_url, args.worker, args.user, True)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from minqing.accounts.models import User
    from minqing.areas.models import Area, Level

    user = User.objects.filter(is_superuser=True).order_by("pk").first()
    grid = args.grid or Area.objects.filter(level=Level.GRID).order_by("path").first().code
    OUT.mkdir(parents=True, exist_ok=True)
    files = {
        "heads-180k.csv": lambda p: write_heads_csv(p, 180_000, grid),
        "heads-736k.csv": lambda p: write_heads_csv(p, 736_000, grid),
        "big-50m.csv": lambda p: write_big_csv(p, 50 * 2**20, grid),
        "cell-300m.xlsx": lambda p: write_cell_xlsx(p, 300 * 2**20, grid),
        "empty-1m.xlsx": lambda p: write_empty_rows_xlsx(p, 1_000_000, grid),
    }
    results = {}
    for name, write in files.items():
        if args.only and name not in args.only:
            continue
        path = OUT / name
        if not path.exists():
            write(path)
        results[name] = measure(args.database_url, path, user.username)
        print(name, json.dumps(results[name], ensure_ascii=False), flush=True)
    if (not args.only or "1m" in args.only) and args.import_csv.exists():
        results["import-1m.csv"] = measure(args.database_url, args.import_csv, user.username)
        print("import-1m.csv", json.dumps(results["import-1m.csv"], ensure_ascii=False))
    (OUT / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
