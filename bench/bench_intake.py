#!/usr/bin/env python
"""Intake through the API under gunicorn against a bare Django view doing one INSERT,
served the same way, load from this separate process over loopback, measured in one run.

    .venv/bin/pip install gunicorn   # bench only
    .venv/bin/python bench/bench_intake.py --database-url postgres://postgres@127.0.0.1:5432/minqing_bench_appeals

The intake is the residents' public endpoint (POST /api/appeals/public/appeals: validation,
deadline from the holiday calendar, tracking code, the appeal row, its CREATE event, the
audit row, the notification queued on commit), with the throttle raised for the run.
Routing and duplicate suggestions are a separate call (/api/appeals/suggest) and are timed
in bench_routing.py.

Besides requests/s and latency, each run reports the server's CPU per request: the
gunicorn workers' and the PostgreSQL backends' CPU time (/proc, Linux) over the requests
served. On this shared 2-core machine the other sessions' load squeezes both endpoints and
compresses the req/s ratio; the CPU each request costs the server is what decides the ratio
on a quiet machine, and it moves far less with the load.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(port, settings, env):
    e = dict(os.environ, **env, DJANGO_SETTINGS_MODULE=settings, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "minqing.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=e,
    )


def _cpu_seconds(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime
    return out


def _spent(before: dict, after: dict) -> float:
    """CPU seconds between two snapshots, per process (one started meanwhile counts whole)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _children(ppid) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def server_cpu(proc, db):
    """CPU seconds so far of a gunicorn's workers and of the database's backends, per pid."""
    backends = [
        r[0]
        for r in db.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    ]
    return _cpu_seconds(_children(proc.pid)), _cpu_seconds(backends)


def load(port, path, body_fn, seconds, concurrency, cpu=None):
    lat, stop = [], time.perf_counter() + seconds
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            conn.request("POST", path, json.dumps(body_fn()), {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                raise SystemExit(f"{path}: HTTP {r.status}")
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    before = cpu() if cpu else ({}, {})
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    after = cpu() if cpu else ({}, {})
    lat.sort()
    n = len(lat)
    return (
        n / elapsed,
        statistics.median(lat) * 1000,
        lat[int(n * 0.95) - 1] * 1000,
        _spent(before[0], after[0]) / n * 1000,  # ms of worker CPU per request
        _spent(before[1], after[1]) / n * 1000,  # ms of database backend CPU per request
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--ports", default="8116,8117")
    args = p.parse_args()
    app_port, bare_port = (int(x) for x in args.ports.split(","))
    import psycopg

    url = args.database_url.replace("postgres://", "postgresql://")
    monitor = psycopg.connect(url, autocommit=True)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, body text)")
        area_id = c.execute(
            "SELECT id FROM areas_area WHERE level = 4 ORDER BY id LIMIT 1"
        ).fetchone()[0]
        category_id = c.execute("SELECT id FROM appeals_category WHERE code='road'").fetchone()[0]
    env = {
        "DATABASE_URL": args.database_url,
        "THROTTLE_PUBLIC_FILE": "100000000/m",
        "SECRET_KEY": "bench-only-secret",
        "DEBUG": "0",
        # one connection per worker for the whole run (the default 60 s would replace it
        # mid-run, and the backends' CPU could not be followed)
        "DB_CONN_MAX_AGE": "3600",
    }
    env.pop("REDIS_URL", None)
    procs = [
        serve(app_port, "minqing.settings", env),
        serve(bare_port, "bench.intake.bare_settings", env),
    ]
    try:
        time.sleep(6)
        n = iter(range(10**9))

        def appeal():
            return {
                "category_id": category_id,
                "area_id": area_id,
                "content": f"村里的路烂了,下雨走不得 {next(n)}",
            }

        def bare():
            return {"content": f"村里的路烂了,下雨走不得 {next(n)}"}

        load(app_port, "/api/appeals/public/appeals", appeal, 3, 2)  # warm
        load(bare_port, "/insert", bare, 3, 2)
        runs = {"bare": [], "intake": []}

        def app_cpu():
            return server_cpu(procs[0], monitor)

        def bare_cpu():
            return server_cpu(procs[1], monitor)

        for _ in range(args.repeats):  # interleaved: bare, intake, bare, intake, ...
            runs["bare"].append(
                load(bare_port, "/insert", bare, args.seconds, args.concurrency, bare_cpu)
            )
            runs["intake"].append(
                load(
                    app_port,
                    "/api/appeals/public/appeals",
                    appeal,
                    args.seconds,
                    args.concurrency,
                    app_cpu,
                )
            )
        print(
            f"{'endpoint':<28} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'app CPU':>8} "
            f"{'db CPU':>7}   (median of {args.repeats}; CPU: ms per request)"
        )
        for name, label in (("bare", "bare view, one INSERT"), ("intake", "intake API")):
            rps, p50, p95, app, db = (statistics.median(x[i] for x in runs[name]) for i in range(5))
            print(f"{label:<28} {rps:7.1f} {p50:7.1f} {p95:7.1f} {app:8.2f} {db:7.2f}")
        pairs = list(zip(runs["bare"], runs["intake"], strict=True))
        ratios = [i[0] / b[0] for b, i in pairs]
        p95s = [i[2] / b[2] for b, i in pairs]
        cpus = [(i[3] + i[4]) / (b[3] + b[4]) for b, i in pairs]
        print(
            f"intake / bare, per round: req/s {', '.join(f'{r * 100:.0f} %' for r in ratios)}"
            f" (median {statistics.median(ratios) * 100:.0f} %); p95 "
            f"{', '.join(f'{r:.2f}x' for r in p95s)} (median {statistics.median(p95s):.2f}x); "
            f"server CPU per request {', '.join(f'{r:.2f}x' for r in cpus)} "
            f"(median {statistics.median(cpus):.2f}x)"
        )
    finally:
        monitor.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
