"""Routing accuracy per category and duplicate precision/recall on bench/appeals_eval.txt.

    .venv/bin/python bench/bench_routing.py [--heldout appeals_heldout5.txt] [--tuning-only]

Routing: each text against the 15 category descriptions of minqing/appeals/categories.py,
(a) zero-shot (descriptions only) and (b) with feedback: the other items of the set as past
routed matters (leave-one-out). Duplicates: each text against the texts before it in the
same village (the open matters a dispatcher would see); a pair is a true duplicate when both
carry the same D<n> group. Needs no database.
"""

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")

from minqing.appeals.categories import DEFAULT_CATEGORIES  # noqa: E402
from minqing.appeals.routing import (  # noqa: E402
    DUPLICATE_THRESHOLD,
    PROBLEMS,
    SAME_MATTER,
    Router,
    add_places,
    duplicate_scores,
    normalise,
    seed_examples,
    similarity,
)

VILLAGES = [
    "七星村",
    "昭山村",
    "鹤岭村",
    "白石村",
    "昭山镇",
    "鹤岭镇",
    "青山村",
    "石门村",
    "枫树村",
    # appeals_heldout2.txt
    "龙潭村",
    "桃花村",
    "柳溪村",
    "金竹村",
    "马鞍村",
    # appeals_heldout3.txt
    "杉木村",
    "白鹤村",
    "岩脚村",
    "荷叶村",
    "樟树村",
    "榕树村",
    # appeals_heldout4.txt
    "梅子塘村",
    "桐子坳村",
    "瑶山村",
    "水口村",
    "竹林村",
    "塘湾村",
    "油茶村",
    # appeals_heldout5.txt
    "核桃坪村",
    "苦竹坝村",
    "大田坎村",
    "响水洞村",
    "半边街村",
    "松林湾村",
    "石板滩村",
    "黄桷垭村",
    "落鹤坪村",
    "火烧营村",
    # appeals_heldout6.txt
    "靠山屯村",
    "榆树沟村",
    "二道河子村",
    "西大营村",
    "杏花营村",
    "王家洼村",
    "北岗子村",
    "柳条屯村",
    # appeals_heldout7.txt
    "杨林垸村",
    "三合塆村",
    "沙湖村",
    "白螺矶村",
    "花桥铺村",
    "鲁家冲村",
    "高家塬村",
    "石窑沟村",
]


# The sets the router was tuned on (looked at while changing it); a held-out set not in this
# list is judged once, at the end.
TUNING = [
    "appeals_eval.txt",
    "appeals_heldout.txt",
    "appeals_heldout2.txt",
    "appeals_heldout3.txt",
    "appeals_heldout4.txt",
    "appeals_heldout5.txt",
    "appeals_heldout6.txt",
]


def load(name="appeals_eval.txt"):
    rows = []
    for line in (Path(__file__).parent / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cat, village, text, group = (line.split("|") + [""])[:4]
        rows.append({"cat": cat, "village": village, "text": text, "group": group.strip()})
    return rows


def routing(rows, *, feedback: bool, past=None, seeds=()):
    """Per category [right, total]. `past`: routed matters from another set used as the
    router's examples (the held-out set routed with the tuning set as history). `seeds`:
    the product's built-in examples (routing_seeds.txt), added to the examples."""
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    seeds = list(seeds)
    examples = [(r["text"], r["cat"]) for r in rows] if feedback else []
    per = defaultdict(lambda: [0, 0])
    t0 = time.perf_counter()
    if past is not None:
        router = Router(cats, [(r["text"], r["cat"]) for r in past], seeds=seeds)
        for r in rows:
            best = router.scores(r["text"])[0][0]
            per[r["cat"]][0] += best == r["cat"]
            per[r["cat"]][1] += 1
    elif feedback:
        # leave-one-out: rebuild without the item itself
        for i, r in enumerate(rows):
            router = Router(cats, examples[:i] + examples[i + 1 :], seeds=seeds)
            best = router.scores(r["text"])[0][0]
            per[r["cat"]][0] += best == r["cat"]
            per[r["cat"]][1] += 1
    else:
        router = Router(cats, [], seeds=seeds)
        for r in rows:
            best = router.scores(r["text"])[0][0]
            per[r["cat"]][0] += best == r["cat"]
            per[r["cat"]][1] += 1
    elapsed = time.perf_counter() - t0
    return per, elapsed


def duplicates(rows, router=None, embed=None):
    """(score, is_duplicate) for every same-village pair. With a router, as the product
    scores them (`routing.duplicate_scores`): IDF from the router, and an earlier matter whose
    category is not among the new text's likely routes scores 0 (an open matter carries its
    category) unless `embed` (the optional embedding) says it is the same matter. Without:
    plain cosine with an IDF fitted on the village's texts."""
    by_village = defaultdict(list)
    for i, r in enumerate(rows):
        by_village[r["village"]].append(i)
    scored = []  # (score, is_duplicate)
    for ids in by_village.values():
        for pos, i in enumerate(ids):
            earlier = ids[:pos]
            if not earlier:
                continue
            if router is not None:
                sims = duplicate_scores(
                    router,
                    [(rows[j]["text"], rows[j]["cat"]) for j in earlier],
                    rows[i]["text"],
                    embed,
                )
            else:
                sims = similarity([rows[j]["text"] for j in earlier], rows[i]["text"])
            for j, s in zip(earlier, sims, strict=True):
                gi, gj = rows[i]["group"], rows[j]["group"]
                dup = bool(gi) and gi == gj and gi.startswith("D")
                scored.append((s, dup))
    positives = sum(d for _s, d in scored)
    return scored, positives


def unattested():
    """The words of the duplicate tables (PROBLEMS, SAME_MATTER) found in no tuning set, no
    built-in example and no category description: a held-out set must judge wording the
    tables were not written from."""
    texts = [r["text"] for n in TUNING for r in load(n)]
    texts += [t for t, _c in seed_examples()]
    texts += [f"{n} {d}" for _c, n, d, *_ in DEFAULT_CATEGORIES]
    raw = "\n".join(texts + [normalise(t) for t in texts])
    norm = "\n".join(normalise(t, same_matter=True) for t in texts)
    problems = [w for words in PROBLEMS.values() for w in words if w not in norm]
    return problems + [w for w in SAME_MATTER if w not in raw and w not in norm]


def report_duplicates(rows, thresholds=(0.25, 0.28, 0.30, 0.32, 0.34, 0.38, 0.42), past=()):
    """`past`: routed matters of other sets, for the product with history (its routes, hence
    its category filter, depend on them)."""
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    zero = Router(cats, [])  # no eval text inside: no leakage into the category filter
    seeded = Router(cats, [], seeds=seed_examples())  # the product's router, no history yet
    routers = [
        ("text only, local IDF", None),
        ("text + category, router IDF", zero),
        ("text + category, router IDF with built-in examples (product)", seeded),
    ]
    if past:
        history = Router(cats, [(r["text"], r["cat"]) for r in past], seeds=seed_examples())
        routers.append((f"product with {len(past)} past matters of other sets as history", history))
    for label, router in routers:
        scored, positives = duplicates(rows, router)
        pairs = len(scored)
        print(f"\nduplicates ({label}): {pairs} same-village pairs, {positives} true duplicates")
        print("  threshold  precision  recall  flagged")
        for th in thresholds:
            flagged = [d for s, d in scored if s >= th]
            tp = sum(flagged)
            prec = tp / len(flagged) if flagged else 1.0
            mark = "  <- product threshold" if th == DUPLICATE_THRESHOLD else ""
            print(
                f"  {th:9.2f}  {prec * 100:8.1f} %  {tp * 100 / positives:5.1f} %  {len(flagged):>6}"
                f"{mark}"
            )
        lookalike = sorted((s for s, d in scored if not d), reverse=True)[:5]
        print(f"  highest non-duplicate scores: {[round(x, 3) for x in lookalike]}")


def print_routing(label, per, n, elapsed):
    right = sum(a for a, _n in per.values())
    print(
        f"\nrouting {label}: {right}/{n} = {right * 100 / n:.1f} %"
        f"  ({elapsed * 1000 / n:.1f} ms per appeal)"
    )
    for cat, (a, k) in sorted(per.items()):
        print(f"  {cat:<12} {a:>2}/{k:<2} {a * 100 / k:5.1f} %")


def heldout_name(default="appeals_heldout.txt"):
    """`--heldout FILE` (a file in bench/) chooses the held-out set; default appeals_heldout.txt."""
    if "--heldout" in sys.argv:
        return sys.argv[sys.argv.index("--heldout") + 1]
    return default


def main():
    rows = load()
    held_name = heldout_name()
    held = load(held_name)
    add_places(VILLAGES)
    print("=== tuning set (bench/appeals_eval.txt: the rules were chosen looking at it) ===")
    print(f"{len(rows)} appeals, {len({r['cat'] for r in rows})} categories")
    seeds = seed_examples()
    for feedback in (False, True):
        per, elapsed = routing(rows, feedback=feedback)
        label = "with feedback (leave-one-out)" if feedback else "zero-shot (descriptions)"
        print_routing(label, per, len(rows), elapsed)
        per, elapsed = routing(rows, feedback=feedback, seeds=seeds)
        print_routing(f"{label} + built-in examples", per, len(rows), elapsed)
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    t0 = time.perf_counter()
    full = Router(cats, [(r["text"], r["cat"]) for r in rows])
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in rows:
        full.scores(r["text"])
    each = (time.perf_counter() - t0) / len(rows)
    print(
        f"\nproduct cost: router built from {len(rows)} past matters in {built * 1000:.0f} ms,"
        f" one proposal {each * 1000:.2f} ms"
    )
    print(f"\nduplicate table words found in no tuning set: {unattested() or 'none'}")
    report_duplicates(
        rows, past=[r for n in TUNING[1:] for r in load(n)] if held_name not in TUNING else ()
    )
    if "--tuning-only" in sys.argv:
        return

    if held_name in TUNING:
        print(f"\n=== earlier held-out set (bench/{held_name}: looked at, now a tuning set) ===")
    else:
        print(f"\n=== HELD-OUT set (bench/{held_name}: never used to tune) ===")
    print(f"{len(held)} appeals, {len({r['cat'] for r in held})} categories")
    per, elapsed = routing(held, feedback=False)
    print_routing("zero-shot (descriptions)", per, len(held), elapsed)
    per, elapsed = routing(held, feedback=False, past=rows)
    print_routing("with the tuning set as past routed matters", per, len(held), elapsed)
    per, elapsed = routing(held, feedback=False, seeds=seeds)
    print_routing("descriptions + built-in examples (product, no history)", per, len(held), elapsed)
    per, elapsed = routing(held, feedback=False, past=rows, seeds=seeds)
    print_routing(
        "built-in examples + tuning set as past matters (product)", per, len(held), elapsed
    )
    if held_name != "appeals_heldout.txt":
        # the earlier sets are tuning sets now: the product's history is all of them
        names = [n for n in TUNING if n != held_name]
        past = [r for n in names for r in load(n)]
        per, elapsed = routing(held, feedback=False, past=past, seeds=seeds)
        print_routing(
            f"built-in examples + {len(names)} tuning sets ({len(past)}) as past matters (product)",
            per,
            len(held),
            elapsed,
        )
    if held_name not in TUNING:
        for name in TUNING[1:]:
            print(f"\n=== tuning set bench/{name}: duplicates ===")
            report_duplicates(load(name), past=[r for n in TUNING if n != name for r in load(n)])
        print(f"\n=== HELD-OUT set (bench/{held_name}): duplicates ===")
        report_duplicates(held, past=[r for n in TUNING for r in load(n)])
    else:
        report_duplicates(held)


if __name__ == "__main__":
    main()
