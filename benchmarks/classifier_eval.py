"""Validation metrics of the classifier for both embedders, side by side.

Trains the heads once per embedder on the same data set and split (no MLflow), prints
accuracy / macro-F1 / ECE per axis and accuracy per source, and writes
benchmarks/results/classifier.json.

    python benchmarks/classifier_eval.py [--embedders static minilm-int8] [--subset N]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.fit import HeadTrainer  # noqa: E402
from training.pipeline import TrainConfig, train  # noqa: E402

AXES = ("task_type", "route_key", "difficulty")


def run(embedder: str, subset: int | None, curve: bool) -> dict:
    out = ROOT / ".cache" / "benchmarks" / "classifier" / embedder
    res = train(
        TrainConfig(
            embedder=embedder,
            subset=subset,
            strict=False,
            track=False,
            curve=curve,
            run_dir=out,
            latency_n=500,
            trainer=HeadTrainer(),
        )
    )
    m = res.report["metrics"]
    return {
        "embedder": res.classifier.embedder.name,
        "dataset_sha256": res.dataset.sha256,
        "n_train": len(res.dataset.train),
        "n_val": len(res.dataset.val),
        "rows_by_method": res.dataset.stats["by_method"],
        "metrics": {k: m[k] for k in sorted(m) if k != "n"},
        "uncalibrated_ece": {k: v for k, v in res.metrics.items() if "uncalibrated" in k},
        "cv": {k: v for k, v in res.metrics.items() if k.startswith("cv_") or "temperature" in k},
        "per_source": res.report["per_source"],
        "per_class": res.report["per_class"],
        "learning_curve": res.curve,
        "artefact": str(res.artefact_dir.relative_to(ROOT)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedders", nargs="+", default=["static", "minilm-int8"])
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--curve", action="store_true", help="also compute learning curves")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier.json")
    args = ap.parse_args(argv)
    results = {e: run(e, args.subset, args.curve) for e in args.embedders}
    names = list(results)
    print(
        f"\nvalidation split: {results[names[0]]['n_val']} hand-labelled real rows; "
        f"training rows: {results[names[0]]['n_train']}"
    )
    print(f"{'metric':<26}" + "".join(f"{n:>16}" for n in names))
    for axis in AXES:
        for k in ("accuracy", "macro_f1", "ece"):
            key = f"{axis}_{k}"
            print(f"{key:<26}" + "".join(f"{results[n]['metrics'][key]:>16.3f}" for n in names))
    print("\naccuracy per source (task type / route key / difficulty)")
    for src in results[names[0]]["per_source"]:
        cells = []
        for n in names:
            s = results[n]["per_source"][src]
            cells.append(f"{s['task_type_accuracy']:.2f}/{s['route_key_accuracy']:.2f}/{s['difficulty_accuracy']:.2f}")
        n_rows = results[names[0]]["per_source"][src]["n"]
        print(f"  {src:<14}{n_rows:>5}" + "".join(f"{c:>18}" for c in cells))
    payload = {
        "command": "python benchmarks/classifier_eval.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
