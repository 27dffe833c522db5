"""Validation accuracy per request shape: the shipped classifier against an earlier one.

Scores the hand-labelled validation rows plain and wrapped in the Kilo CLI's captured
shapes (training/shaped_data.py: `validation_sets`), for the shipped artefact and a
baseline: by default the artefact shipped at commit da83119 (before issue 12), read with
`git show` (nothing in the checkout changes) into .cache/artefacts/<commit>/, with the
shipped embedder when it is the same one. Writes benchmarks/results/classifier_shapes.json.

    python benchmarks/classifier_shapes.py [--baseline-commit da83119 | --baseline DIR] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier import load  # noqa: E402
from classifier.artefact import DEFAULT_ARTEFACT, EMBEDDER_DIR, HEADS, MANIFEST, TAXONOMY  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402
from training.dataset import build_dataset  # noqa: E402
from training.evaluate import evaluate_shapes  # noqa: E402
from training.shaped_data import prompt_pool, validation_sets  # noqa: E402

AXES = ("task_type", "route_key", "difficulty")


def artefact_at(commit: str) -> Path:
    """The default artefact as committed at `commit`, under .cache/artefacts/<commit>/."""
    out = ROOT / ".cache" / "artefacts" / commit
    rel = DEFAULT_ARTEFACT.relative_to(ROOT).as_posix()
    out.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, TAXONOMY, HEADS, f"{EMBEDDER_DIR}/embedder.json"):
        data = subprocess.run(["git", "show", f"{commit}:{rel}/{name}"], cwd=ROOT, capture_output=True,
                              check=True).stdout
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    shipped = DEFAULT_ARTEFACT / EMBEDDER_DIR
    if (shipped / "embedder.json").read_bytes() != (out / EMBEDDER_DIR / "embedder.json").read_bytes():
        raise SystemExit(f"{commit}: its embedder differs from the shipped one; pass --baseline DIR instead")
    for item in shipped.iterdir():
        if item.name != "embedder.json" and not (out / EMBEDDER_DIR / item.name).exists():
            shutil.copyfile(item, out / EMBEDDER_DIR / item.name)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_ARTEFACT)
    ap.add_argument("--baseline", type=Path, default=None, help="an artefact folder")
    ap.add_argument("--baseline-commit", default="da83119")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_shapes.json")
    args = ap.parse_args(argv)
    baseline = args.baseline or artefact_at(args.baseline_commit)
    ds = build_dataset(load_taxonomy(), strict=False)
    sets = validation_sets(ds.val, prompt_pool(ds.train))
    scores = {}
    for name, folder in (("baseline", baseline), ("model", args.model)):
        per, pooled, _ = evaluate_shapes(load(folder), sets)
        scores[name] = {"artefact": str(folder), **per, "all shapes pooled": pooled}
    print(f"validation: {len(ds.val)} hand-labelled real rows per shape (data set {ds.sha256[:12]})")
    print(f"{'shape':<20}{'baseline t/r/d':>24}{'model t/r/d':>24}{'change t/r/d':>26}")
    for shape in scores["model"]:
        if shape == "artefact":
            continue
        old, new = scores["baseline"][shape], scores["model"][shape]
        cell = lambda m: " / ".join(f"{m[f'{a}_accuracy']:.3f}" for a in AXES)  # noqa: E731
        delta = " / ".join(f"{new[f'{a}_accuracy'] - old[f'{a}_accuracy']:+.3f}" for a in AXES)
        print(f"{shape:<20}{cell(old):>24}{cell(new):>24}{delta:>26}")
    payload = {
        "command": "python benchmarks/classifier_shapes.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_sha256": ds.sha256,
        "n_val": len(ds.val),
        "scores": {k: {s: ({a: v[a] for a in v if a.endswith("_accuracy") or a == "n"} if isinstance(v, dict) else v)
                       for s, v in d.items()} for k, d in scores.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
