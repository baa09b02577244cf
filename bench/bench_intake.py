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


def load(port, path, body_fn, seconds, concurrency):
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
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    lat.sort()
    return len(lat) / elapsed, statistics.median(lat) * 1000, lat[int(len(lat) * 0.95) - 1] * 1000


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
        for _ in range(args.repeats):  # interleaved: bare, intake, bare, intake, ...
            runs["bare"].append(load(bare_port, "/insert", bare, args.seconds, args.concurrency))
            runs["intake"].append(
                load(
                    app_port, "/api/appeals/public/appeals", appeal, args.seconds, args.concurrency
                )
            )
        print(
            f"{'endpoint':<28} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}   (median of {args.repeats})"
        )
        for name, label in (("bare", "bare view, one INSERT"), ("intake", "intake API")):
            rps, p50, p95 = (statistics.median(x[i] for x in runs[name]) for i in range(3))
            print(f"{label:<28} {rps:7.1f} {p50:7.1f} {p95:7.1f}")
        ratios = [i[0] / b[0] for b, i in zip(runs["bare"], runs["intake"], strict=True)]
        p95s = [i[2] / b[2] for b, i in zip(runs["bare"], runs["intake"], strict=True)]
        print(
            f"intake / bare, per round: req/s {', '.join(f'{r * 100:.0f} %' for r in ratios)}"
            f" (median {statistics.median(ratios) * 100:.0f} %); p95 "
            f"{', '.join(f'{r:.2f}x' for r in p95s)} (median {statistics.median(p95s):.2f}x)"
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
