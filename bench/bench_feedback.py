"""Duplicates with dispatchers' feedback (issue #16: "corrections by dispatchers feed back").

    .venv/bin/python bench/bench_feedback.py            # spent sets, each scored unseen
    .venv/bin/python bench/bench_feedback.py --unseen appeals_heldout7.txt

Dispatchers' verdicts are simulated on the spent sets only (the sets already looked at):
(a) "proposals": every pair the product proposes (score ≥ threshold) is judged, confirmed
when both carry the same D<n> group, rejected otherwise; (b) "proposals + links": besides,
the dispatcher links the true duplicates the product missed (found by hand). The verdicts
become `routing.Evidence`; a set is then scored with the evidence learned from the OTHER
sets only (never from its own pairs). With --unseen, the evidence comes from all spent sets
and the unseen set is scored once. Product router (built-in examples, no history), no
database.
"""

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")

from bench_routing import VILLAGES, load  # noqa: E402

from minqing.appeals.categories import DEFAULT_CATEGORIES  # noqa: E402
from minqing.appeals.routing import (  # noqa: E402
    DUPLICATE_THRESHOLD,
    NO_EVIDENCE,
    Evidence,
    Router,
    add_places,
    duplicate_scores,
    seed_examples,
)

SPENT = [
    "appeals_eval.txt",
    "appeals_heldout.txt",
    "appeals_heldout2.txt",
    "appeals_heldout3.txt",
    "appeals_heldout4.txt",
    "appeals_heldout5.txt",
    "appeals_heldout6.txt",
]


def _words_cache_clear():
    from minqing.appeals import routing

    routing._words.cache_clear()


def scored_pairs(rows, router, evidence=NO_EVIDENCE):
    """(score, is_duplicate, i, j) for every same-village pair, j earlier than i."""
    by_village = defaultdict(list)
    for i, r in enumerate(rows):
        by_village[r["village"]].append(i)
    out = []
    for ids in by_village.values():
        for pos, i in enumerate(ids):
            earlier = ids[:pos]
            if not earlier:
                continue
            sims = duplicate_scores(
                router,
                [(rows[j]["text"], rows[j]["cat"]) for j in earlier],
                rows[i]["text"],
                evidence=evidence,
            )
            for j, s in zip(earlier, sims, strict=True):
                g = rows[i]["group"]
                out.append((s, g.startswith("D") and g == rows[j]["group"], i, j))
    return out


def verdicts(rows, pairs, *, links: bool):
    """The judged pairs of one set: (text, other text, same matter?)."""
    out = []
    for s, dup, i, j in pairs:
        if s >= DUPLICATE_THRESHOLD or (links and dup):
            out.append((rows[i]["text"], rows[j]["text"], dup))
    return out


def pr(pairs, th=DUPLICATE_THRESHOLD):
    flagged = [d for s, d, _i, _j in pairs if s >= th]
    tp = sum(flagged)
    pos = sum(d for _s, d, _i, _j in pairs)
    return (tp / len(flagged) if flagged else 1.0), tp / pos, len(flagged), pos


def cost(router, evidence, rounds=9, n_open=20):
    """CPU of one suggestion's scoring against n_open open matters, words alone against
    words + evidence, interleaved; and the evidence's build (a cache miss)."""
    rows = [r for n in SPENT for r in load(n)]
    texts = [r["text"] for r in rows]
    queries = texts[:: max(1, len(texts) // 40)][:40]
    earlier = [(t, "road") for t in texts[100 : 100 + n_open]]
    router.scores("x")
    times = {"words": [], "evidence": []}
    for _ in range(rounds):
        for label, ev in (("words", NO_EVIDENCE), ("evidence", evidence)):
            t0 = time.process_time()
            for q in queries:
                router._last = None  # score the routes too, as a new text is
                duplicate_scores(router, earlier, q, evidence=ev)
            times[label].append((time.process_time() - t0) * 1000 / len(queries))
    for label, ts in times.items():
        ts.sort()
        print(
            f"  {label:<9} {ts[len(ts) // 2]:6.2f} ms per suggestion (min {ts[0]:.2f}, max {ts[-1]:.2f})"
        )
    return times


def main():
    add_places(VILLAGES)
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    router = Router(cats, [], seeds=seed_examples())
    sets = {n: load(n) for n in SPENT}
    base = {n: scored_pairs(rows, router) for n, rows in sets.items()}
    judged = {
        mode: {n: verdicts(sets[n], base[n], links=mode == "links") for n in SPENT}
        for mode in ("proposals", "links")
    }
    for mode in ("proposals", "links"):
        n_conf = sum(v[2] for n in SPENT for v in judged[mode][n])
        n_all = sum(len(judged[mode][n]) for n in SPENT)
        print(f"verdicts ({mode}): {n_all} pairs judged, {n_conf} confirmed")
    if "--cost" in sys.argv:
        pairs = [v for n in SPENT for v in judged["proposals"][n]]
        t0 = time.process_time()
        for _ in range(5):
            _words_cache_clear()
            evidence = Evidence(pairs)
        build = (time.process_time() - t0) * 1000 / 5
        links = sum(len(v) for v in evidence.links.values())
        print(f"\nevidence from {len(pairs)} verdicts: {links} links, built in {build:.0f} ms CPU")
        print(f"one suggestion against {20} open matters (CPU, {9} rounds interleaved):")
        cost(router, evidence)
        return
    unseen = sys.argv[sys.argv.index("--unseen") + 1] if "--unseen" in sys.argv else None
    targets = [unseen] if unseen else SPENT
    print(f"\n{'set':<24} {'words alone P / R (flagged)':<30} {'+ proposals judged':<26} + links")
    pooled = [[], [], []]
    for target in targets:
        rows = sets.get(target) or load(target)
        learn_from = [n for n in SPENT if n != target]
        cells = []
        t0 = time.perf_counter()
        p = base.get(target) or scored_pairs(rows, router)
        cells.append(p)
        for mode in ("proposals", "links"):
            ev = Evidence([v for n in learn_from for v in judged[mode][n]])
            cells.append(scored_pairs(rows, router, ev))
        elapsed = time.perf_counter() - t0
        out = []
        for k, p in enumerate(cells):
            pooled[k].extend(p)
            prec, rec, fl, pos = pr(p)
            out.append(f"{prec * 100:5.1f} / {rec * 100:5.1f} % ({fl:>3})")
        print(f"{target:<24} {out[0]:<30} {out[1]:<26} {out[2]}   [{pos} true, {elapsed:.1f} s]")
    if len(targets) > 1:
        out = []
        for p in pooled:
            prec, rec, fl, pos = pr(p)
            out.append(f"{prec * 100:5.1f} / {rec * 100:5.1f} % ({fl:>3})")
        print(f"{'all (pooled)':<24} {out[0]:<30} {out[1]:<26} {out[2]}   [{pos} true]")


if __name__ == "__main__":
    main()
