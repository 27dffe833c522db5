"""Leave-one-source-out: for every real-prompt source, train without any of its rows and
test on all of its hand-labelled rows, plain and wrapped in the Kilo CLI's shapes.

Prompts from sources the project does not have are what production sends; this measures
how the classifier transfers to one. Training is `autotier train`'s (shaped views, the
default featuriser and embedder) with C fixed per head (--c-route, --c-difficulty: the
values cross-validation picked on the full data, see the artefact manifest) and no
calibration, so each source costs two fits. Writes benchmarks/results/classifier_loso.json.

    python benchmarks/classifier_loso.py [--sources codechat swebench ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.features import Featuriser  # noqa: E402
from classifier.heads import Heads, LinearHead  # noqa: E402
from classifier.model import Classifier  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402
from training.dataset import build_dataset, with_bare_views  # noqa: E402
from training.embedding_cache import EmbeddingCache  # noqa: E402
from training.evaluate import evaluate  # noqa: E402
from training.fit import featurise, fit_logistic  # noqa: E402
from training.pipeline import resolve_embedder  # noqa: E402
from training.shaped_data import prompt_pool, training_views, wrap_example  # noqa: E402

TEST_SHAPES = ("plain", "chat_loop", "chat_mid")
AXES = ("task_type", "route_key", "difficulty")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", nargs="*", default=None, help="default: every source with hand labels")
    ap.add_argument("--c-route", type=float, default=0.005)
    ap.add_argument("--c-difficulty", type=float, default=0.005)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_loso.json")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    taxonomy = load_taxonomy()
    ds = build_dataset(taxonomy, strict=False)
    rows = [e for e in ds.examples if e.split in ("train", "val")]
    views = training_views(with_bare_views(rows))
    pool = prompt_pool(rows)
    sources = args.sources or sorted({e.source for e in rows if e.label_method == "hand"})
    tests = {s: [e for e in rows if e.source == s and e.label_method == "hand"] for s in sources}
    test_views = {(s, shape): [e if shape == "plain" else wrap_example(e, shape, "code", pool, shape) for e in t]
                  for s, t in tests.items() for shape in TEST_SHAPES}
    embedder = resolve_embedder("static")
    featuriser = Featuriser()
    cache = EmbeddingCache(embedder)
    x_all = featurise(views, featuriser, cache, progress=False)
    x_test = {k: featurise(v, featuriser, cache, progress=False) for k, v in test_views.items()}
    routes, diffs = taxonomy.route_keys, taxonomy.difficulty_names
    y_route = np.array([routes.index(e.route_key) for e in views])
    y_diff = np.array([diffs.index(e.difficulty) for e in views])
    results: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for source in sources:
        keep = np.array([e.source != source for e in views])
        heads = []
        for y, labels, c in ((y_route, routes, args.c_route), (y_diff, diffs, args.c_difficulty)):
            w, b = fit_logistic(x_all[keep], y[keep], len(labels), c, None)
            heads.append(LinearHead(w, b, labels))
        clf = Classifier(embedder, Heads(heads[0], heads[1]), featuriser, taxonomy)
        for shape in TEST_SHAPES:
            m = evaluate(clf, test_views[(source, shape)], x_test[(source, shape)])["metrics"]
            results[source][shape] = {"n": m["n"], **{f"{a}_accuracy": m[f"{a}_accuracy"] for a in AXES}}
        cells = "  ".join(
            f"{shape} " + "/".join(f"{results[source][shape][f'{a}_accuracy']:.3f}" for a in AXES)
            for shape in TEST_SHAPES)
        print(f"{source:<14} n={results[source]['plain']['n']:>5}  {cells}", flush=True)
    mean = {shape: {f"{a}_accuracy": float(np.mean([results[s][shape][f"{a}_accuracy"] for s in sources]))
                    for a in AXES} for shape in TEST_SHAPES}
    print("mean over sources  " + "  ".join(
        f"{shape} " + "/".join(f"{mean[shape][f'{a}_accuracy']:.3f}" for a in AXES) for shape in TEST_SHAPES))
    payload = {
        "command": "python benchmarks/classifier_loso.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_sha256": ds.sha256,
        "c_route": args.c_route,
        "c_difficulty": args.c_difficulty,
        "per_source": results,
        "mean_over_sources": mean,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
