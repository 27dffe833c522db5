"""Decision latency of the classifier: featurise + embed + heads for one request, one thread.

Static embedder (the shipped default artefact): plain prompts of 1,000 to 8,000
characters (an instruction with pasted code, and prose), and full agent requests in the
Kilo CLI's captured shapes (training/shapes.py) with the system prompt grown to ~15k
tokens (60,000 characters), its tools, and 20 tool turns, on chat completions, Messages
and Responses, as a step after tool results and as a follow-up turn. The target is
p99 <= 1 ms for each. MiniLM int8 (the 1,000-character prompts only): the artefact
written by benchmarks/classifier_eval.py when present; otherwise zero heads of the right
shape (the heads' cost does not depend on their weights). Writes
benchmarks/results/classifier_latency.json.

    python benchmarks/classifier_latency.py [--n 3000] [--chars 1000] [--skip-minilm]
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
from training.shapes import wrap  # noqa: E402

TARGET_P99_MS = 1.0
SYSTEM_CHARS = 60_000  # ~15k tokens at ~4 characters a token
AGENT_TURNS = 20
PROSE = (
    "Please explain how the retry policy in our HTTP client decides when to give up, and whether it "
    "respects Retry-After headers. "
)

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
    total, cpu, feat, emb, head = [], [], [], [], []
    for _ in range(n):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        clf.predict(request)
        total.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
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
        # CPU time of the calling thread: what the call costs without the waits for a core
        # that other processes on a shared machine add to the wall-clock figures.
        "predict_cpu": percentiles(cpu),
        "stages_p50_ms": {
            "featurise": percentiles(feat)["p50_ms"],
            "embed": percentiles(emb)["p50_ms"],
            "heads": percentiles(head)["p50_ms"],
        },
        "texts_embedded": len([t for t in clf.featuriser(request).texts if t]),
        "chars_embedded": sum(len(t) for t in clf.featuriser(request).texts),
    }


def grow_system(request: dict, chars: int) -> dict:
    """The request with its system prompt repeated up to `chars` characters (any API shape)."""
    def grown(text: str) -> str:
        return (text * (1 + chars // max(1, len(text))))[:chars]

    if isinstance(request.get("system"), list):  # Messages: the longest block
        blocks = request["system"]
        i = max(range(len(blocks)), key=lambda j: len(blocks[j].get("text", "")))
        blocks[i] = {**blocks[i], "text": grown(blocks[i]["text"])}
    items = request.get("messages") or request.get("input") or []
    for item in items:
        if isinstance(item, dict) and item.get("role") in ("system", "developer"):
            content = item["content"]
            if isinstance(content, str):
                item["content"] = grown(content)
            else:
                content[0] = {**content[0], "text": grown(content[0]["text"])}
            break
    return request


def cases(chars: int) -> dict[str, dict]:
    """Name -> request: plain prompts up to 8,000 characters and full agent requests."""
    out = {}
    for n in sorted({chars, 4000, 8000}):
        out[f"plain code+prose {n} chars"] = sample_request(n)
        out[f"plain prose {n} chars"] = {"prompt": (PROSE * (1 + n // len(PROSE)))[:n]}
    task = sample_request(1000)["prompt"]
    for shape in ("chat_loop", "chat_mid", "messages_loop", "responses_mid"):
        request = grow_system(wrap(task, shape, tool_turns=AGENT_TURNS, first_task=PROSE * 3), SYSTEM_CHARS)
        size = len(json.dumps(request))
        out[f"agent {shape}, {AGENT_TURNS} tool turns, {size // 1000}k chars"] = request
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="timed predictions per case")
    ap.add_argument("--chars", type=int, default=1000, help="request size in characters")
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--model", default=None, help="static artefact folder (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "classifier_latency.json")
    args = ap.parse_args(argv)
    requests = cases(args.chars)
    static = load(args.model)
    models = {"static": (static, args.model or "shipped default artefact", list(requests))}
    if not args.skip_minilm:
        clf, note = minilm_classifier(static)
        models["minilm-int8"] = (clf, note, [k for k in requests if k.startswith("plain") and f" {args.chars} " in k])
    results = {}
    for name, (clf, heads_note, which) in models.items():
        results[name] = {"embedder": clf.embedder.name, "heads": heads_note, "cases": {}}
        for case in which:
            r = measure(clf, requests[case], args.n)
            results[name]["cases"][case] = r
            p = r["predict"]
            verdict = "met" if p["p99_ms"] <= TARGET_P99_MS else "NOT met"
            stages = " / ".join(f"{v:.2f}" for v in r["stages_p50_ms"].values())
            print(
                f"{name:<12} {case:<52} p50 {p['p50_ms']:.3f}  p90 {p['p90_ms']:.3f}  p99 {p['p99_ms']:.3f} ms"
                f"  (p99 <= {TARGET_P99_MS} ms: {verdict}; CPU p99 {r['predict_cpu']['p99_ms']:.3f} ms; "
                f"featurise / embed / heads p50 {stages} ms; {r['chars_embedded']} chars embedded)",
                flush=True,
            )
    payload = {
        "command": "python benchmarks/classifier_latency.py " + " ".join(argv or sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": os.getloadavg(),
        "threads": 1,
        "target_p99_ms": TARGET_P99_MS,
        "results": results,
    }
    payload["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
