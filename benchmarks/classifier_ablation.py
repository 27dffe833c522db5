"""Do the weak and synthetic rows help on real prompts? Heads refitted without them.

Static embedder, the route head's C fixed (default 0.01, what cross-validation picks), the
same validation split each time. Writes benchmarks/results/classifier_ablation.json.

    python benchmarks/classifier_ablation.py [--c 0.01] [--embedder static]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier.features import Featuriser  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402
from training.dataset import build_dataset, with_bare_views  # noqa: E402
from training.embedding_cache import EmbeddingCache  # noqa: E402
from training.fit import featurise, fit_logistic  # noqa: E402
from training.pipeline import resolve_embedder  # noqa: E402

VARIANTS = {
    "all rows": lambda e: True,
    "without weak": lambda e: e.label_method != "weak",
    "without synthetic": lambda e: e.label_method != "synthetic",
    "hand only": lambda e: e.label_method == "hand",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--c", type=float, default=0.01)
    ap.add_argument("--embedder", default="static")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_ablation.json")
    args = ap.parse_args(argv)
    tax = load_taxonomy()
    ds = build_dataset(tax)
    cache = EmbeddingCache(resolve_embedder(args.embedder))
    feat = Featuriser()
    keys = tax.route_keys
    x_val = featurise(ds.val, feat, cache, False)
    y_val = np.array([keys.index(e.route_key) for e in ds.val])
    t_val = np.array([e.task_type for e in ds.val])
    results = {}
    for name, keep in VARIANTS.items():
        rows = with_bare_views([e for e in ds.train if keep(e)])
        x = featurise(rows, feat, cache, False)
        w, b = fit_logistic(x, np.array([keys.index(e.route_key) for e in rows]), len(keys), args.c, None)
        pred = (x_val @ w.T + b).argmax(axis=1)
        types = np.array([keys[i].split("/", 1)[0] for i in pred])
        results[name] = {
            "n_train": len(rows),
            "route_key_accuracy": float(np.mean(pred == y_val)),
            "task_type_accuracy": float(np.mean(types == t_val)),
        }
        r = results[name]
        print(f"{name:<18} n={r['n_train']:<5} route key {r['route_key_accuracy']:.3f}  "
              f"task type {r['task_type_accuracy']:.3f}")  # fmt: skip
    payload = {
        "command": "python benchmarks/classifier_ablation.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_sha256": ds.sha256,
        "n_val": len(ds.val),
        "c": args.c,
        "results": results,
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
