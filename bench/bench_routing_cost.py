"""CPU cost of one suggestion (/api/appeals/suggest) without the database: the category
proposal (`Router.scores`), the duplicate routes (`duplicate_routes`, a second scoring as in
`duplicate_suggest`) and the duplicate scores of 300 open matters whose vectors are cached,
with the router built from the built-in examples and 3,000 past matters (what
`routing._router()` loads). Compares this tree's routing.py with another version of it
(e.g. main's), interleaved, in the same process.

    git show main:minqing/appeals/routing.py > /tmp/routing_main.py
    .venv/bin/python bench/bench_routing_cost.py --baseline /tmp/routing_main.py [--rounds 7]
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")

from bench_routing import VILLAGES, load  # noqa: E402

from minqing.appeals import routing as current  # noqa: E402
from minqing.appeals.categories import DEFAULT_CATEGORIES  # noqa: E402


def load_module(path):
    spec = importlib.util.spec_from_file_location("routing_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.SEEDS_FILE = current.SEEDS_FILE  # the same built-in examples
    return mod


def setup(mod, rows):
    mod.add_places(VILLAGES)
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    past = [(r["text"], r["cat"]) for r in rows] * (3000 // len(rows) + 1)
    router = mod.Router(cats, past[:3000], seeds=mod.seed_examples())
    cands = [(r["text"], r["cat"]) for r in (rows * 2)[:300]]
    if hasattr(mod, "dup_marks"):  # this tree: (vector, groups and problems) per open matter
        cached = [(router.dup_vector(t), mod.dup_marks(t), c) for t, c in cands]
    elif hasattr(mod.Router, "dup_vector"):  # (vector, group marks) per open matter
        cached = [(router.dup_vector(t), mod.group_marks(t), c) for t, c in cands]
    elif hasattr(mod, "group_marks"):
        cached = [(router.dup_vec.vector(mod.tokens(t)), mod.group_marks(t), c) for t, c in cands]
    else:
        cached = [(router.dup_vec.vector(mod.tokens(t)), None, c) for t, c in cands]
    return router, cached


def suggest_current(mod, router, cached, text):
    router.scores(text)[:3]  # route_suggest
    routes = router.duplicate_routes(text)
    qv = (
        router.dup_vector(text)
        if hasattr(router, "dup_vector")
        else router.dup_vec.vector(mod.tokens(text))
    )
    marks = mod.dup_marks(text) if hasattr(mod, "dup_marks") else mod.group_marks(text)
    sims = [mod.duplicate_score(qv, marks, v, m) for v, m, c in cached if c in routes]
    return sorted(sims, reverse=True)[:5]


def suggest_baseline(mod, router, cached, text):
    router.scores(text)[:3]  # route_suggest
    best = router.scores(text)[0][0]
    qv = router.dup_vec.vector(mod.tokens(text))
    sims = [mod.cosine(qv, v) for v, _m, c in cached if c == best]
    return sorted(sims, reverse=True)[:5]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="another routing.py to compare with")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rows = load() + load("appeals_heldout.txt")  # tuning sets only
    base = load_module(args.baseline)
    # a baseline with the same duplicate rule (routes, groups, cover) does the same work
    base_fn = suggest_current if hasattr(base, "duplicate_score") else suggest_baseline
    variants = {
        "baseline": (base, *setup(base, rows), base_fn),
        "this tree": (current, *setup(current, rows), suggest_current),
    }
    build = {k: [] for k in variants}
    for _ in range(3):
        for name, (mod, *_rest) in variants.items():  # interleaved
            t0 = time.perf_counter()
            setup(mod, rows)
            build[name].append(time.perf_counter() - t0)
    for name, secs in build.items():
        print(
            f"{name:<10} router from the built-in examples and 3,000 past matters, plus 300"
            f" open matters' vectors: {statistics.median(secs) * 1000:.0f} ms (median of 3)"
        )
    texts = [r["text"] for r in rows]
    per = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, (mod, router, cached, fn) in variants.items():  # interleaved
            t0 = time.perf_counter()
            for t in texts:
                fn(mod, router, cached, t)
            per[name].append((time.perf_counter() - t0) * 1000 / len(texts))
    for name, ms in per.items():
        print(
            f"{name:<10} {statistics.median(ms):.2f} ms per suggestion (median of {args.rounds}"
            f" rounds of {len(texts)} texts; min {min(ms):.2f}, max {max(ms):.2f})"
        )
    b, c = statistics.median(per["baseline"]), statistics.median(per["this tree"])
    print(f"ratio this tree / baseline: {c / b:.2f}")


if __name__ == "__main__":
    main()
