"""Decision latency of the classifier: featurise + embed + heads for one request, one thread.

Static embedder: the shipped default artefact. MiniLM int8: the artefact written by
benchmarks/classifier_eval.py when present; otherwise zero heads of the right shape
(the heads' cost does not depend on their weights). Writes
benchmarks/results/classifier_latency.json.

    python benchmarks/classifier_latency.py [--n 3000] [--chars 1000]
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy / onnxruntime / tokenizers load.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classifier import load  # noqa: E402
from classifier.heads import N_EMBEDDED_TEXTS, Heads, LinearHead  # noqa: E402
from classifier.model import Classifier  # noqa: E402
from training.evaluate import sample_request  # noqa: E402

MINILM_ARTEFACT = ROOT / ".cache" / "benchmarks" / "classifier" / "minilm-int8" / "artefact"


def minilm_classifier(static: Classifier) -> tuple[Classifier, str]:
    if (MINILM_ARTEFACT / "manifest.json").is_file():
        return load(MINILM_ARTEFACT), "trained heads (classifier_eval.py artefact)"
    from classifier.embedders import load_embedder
    from training.export_onnx import ensure_onnx_embedder

    emb = load_embedder(ensure_onnx_embedder(), intra_op_threads=1)
    width = N_EMBEDDED_TEXTS * emb.dim + len(static.featuriser.numeric_names)
    heads = Heads(
        LinearHead(np.zeros((len(static.route_keys), width)), np.zeros(len(static.route_keys)), static.route_keys),
        LinearHead(
            np.zeros((len(static.difficulties), width)), np.zeros(len(static.difficulties)), static.difficulties
        ),
    )
    return Classifier(emb, heads, static.featuriser, static.taxonomy), "zero heads (same cost)"


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def measure(clf: Classifier, request: dict, n: int) -> dict:
    """End-to-end predict() timings plus a per-stage breakdown."""
    for _ in range(100):
        clf.predict(request)
    total, feat, emb, head = [], [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        clf.predict(request)
        total.append(time.perf_counter() - t0)
    for _ in range(min(n, 1000)):
        t0 = time.perf_counter()
        f = clf.featuriser(request)
        t1 = time.perf_counter()
        texts = [t for t in f.texts if t]
        clf.embedder.embed(texts)
        t2 = time.perf_counter()
        x = clf.features([request])
        t3 = time.perf_counter()
        clf.predict_proba(x)
        t4 = time.perf_counter()
        feat.append(t1 - t0)
        emb.append(t2 - t1)
        head.append(t4 - t3)
    return {
        "predict": percentiles(total),
        "stages_p50_ms": {
            "featurise": percentiles(feat)["p50_ms"],
            "embed": percentiles(emb)["p50_ms"],
            "heads": percentiles(head)["p50_ms"],
        },
        "texts_embedded": len([t for t in clf.featuriser(request).texts if t]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="timed predictions per case")
    ap.add_argument("--chars", type=int, default=1000, help="request size in characters")
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_latency.json")
    args = ap.parse_args(argv)
    request = sample_request(args.chars)
    prose = {
        "prompt": (
            "Please explain how the retry policy in our HTTP client decides when to "
            "give up, and whether it respects Retry-After headers. "
        )
        * 8
    }
    prose["prompt"] = prose["prompt"][: args.chars]
    static = load()
    cases = {"static": (static, "shipped default artefact")}
    if not args.skip_minilm:
        cases["minilm-int8"] = minilm_classifier(static)
    results = {}
    for name, (clf, heads_note) in cases.items():
        results[name] = {
            "embedder": clf.embedder.name,
            "heads": heads_note,
            "code_request": measure(clf, request, args.n),
            "prose_request": measure(clf, prose, args.n),
        }
        r = results[name]
        print(
            f"{name:<12} code+prose {len(request['prompt'])} chars: "
            f"p50 {r['code_request']['predict']['p50_ms']:.3f} ms  "
            f"p99 {r['code_request']['predict']['p99_ms']:.3f} ms | prose {len(prose['prompt'])} "
            f"chars: p50 {r['prose_request']['predict']['p50_ms']:.3f} ms  "
            f"p99 {r['prose_request']['predict']['p99_ms']:.3f} ms  "
            f"(stages p50 {r['code_request']['stages_p50_ms']})"
        )
    payload = {
        "command": "python benchmarks/classifier_latency.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "threads": 1,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
