#!/usr/bin/env python
"""The fixed cost of a request, this tree against another one, interleaved.

    .venv/bin/python bench/bench_fixed_cost.py --baseline /path/to/other/checkout \\
        --database-url postgres://postgres@127.0.0.1:5432/minqing_bench_x \\
        --redis-url redis://127.0.0.1:6379/N --port 8123 --baseline-port 8133

Starts the production server (bench_pages.start_server: gunicorn, 3 sync workers, DEBUG off,
MINQING_BENCH=1) of this tree and of the baseline tree side by side on the same database
and Redis, logs in the same user on each, and requests, alternating between the two
servers, a trivial @login_required view, the layout alone (/bench-shell/: base.html with
an empty block) and the floor of a grid-level page (its hand-written SQL in a bare view
behind the same middleware). Printed per URL: the median ms of each server, their ratio
and the 10-90 % spread of the per-round ratios. The baseline tree needs the /bench-shell/
route (added by the same commit as this script) to measure the layout.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pages  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="root of the other checkout")
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--redis-url", default="")
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--baseline-port", type=int, default=8133)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--level", default="grid")
    args = ap.parse_args()

    conn = psycopg.connect(args.database_url, autocommit=True)
    cur = conn.cursor()
    info = bench_pages.users_by_level(cur)[args.level]
    pages, params = bench_pages.pages_for(args.level, info, cur)
    floors = {f"floor ({name})": statements for name, _url, statements in pages[1:3]}
    floor_file = f"/tmp/bench_fixed_{args.port}.json"
    with open(floor_file, "w") as fh:
        json.dump(
            {f"f{i}": {"statements": st, "params": params} for i, st in enumerate(floors.values())},
            fh,
        )
    urls = {"trivial view": "/bench-trivial/", "layout only": "/bench-shell/"}
    urls.update({name: f"/bench-floor/f{i}/" for i, name in enumerate(floors)})

    servers, sessions = [], {}
    this_root = bench_pages.ROOT
    try:
        for label, root, port in (
            ("this", this_root, args.port),
            ("baseline", Path(args.baseline).resolve(), args.baseline_port),
        ):
            bench_pages.ROOT = root
            servers.append(
                bench_pages.start_server(
                    args.database_url, port, 3, args.redis_url or None, floor_file
                )
            )
            sessions[label] = bench_pages.Session(port).login(info["user"])
        bench_pages.ROOT = this_root
        times = {(label, name): [] for label in sessions for name in urls}
        for url in urls.values():
            for label, s in sessions.items():
                for _ in range(5):
                    status, _b, _h = s.request("GET", url)
                    assert status == 200, (label, url, status)
        for _ in range(args.rounds):
            for name, url in urls.items():
                for label, s in sessions.items():
                    t = time.perf_counter()
                    s.request("GET", url)
                    times[label, name].append(time.perf_counter() - t)
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {args.rounds} rounds")
        print("| request | this ms | baseline ms | this/baseline | spread |")
        print("| --- | --- | --- | --- | --- |")
        for name in urls:
            a, b = times["this", name], times["baseline", name]
            ratios = [x / y for x, y in zip(a, b, strict=True)]
            print(
                f"| {name} | {statistics.median(a) * 1000:.2f} | {statistics.median(b) * 1000:.2f} "
                f"| {statistics.median(a) / statistics.median(b):.2f} "
                f"| {bench_pages.q(ratios, 0.1):.2f}–{bench_pages.q(ratios, 0.9):.2f} |"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
