"""Latency of embedding one ~1,000-character prompt, single thread: static vs MiniLM ONNX.

Run from the repository root: ``python benchmarks/embedder_latency.py [--n 2000]``.
Prints a table and writes ``benchmarks/results/embedder_latency.json``. The ONNX models
are built into ``.cache/embedders/`` on first use (needs torch); ``--no-onnx`` skips
them. Timings are wall-clock per ``embed([prompt])`` call, tokenisation included, after
a warm-up; machines here are shared, so treat them as rough.
"""

from __future__ import annotations

import os

# One thread everywhere, before numpy / onnxruntime / tokenizers start their pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from functools import partial  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifier.embedders import OnnxEmbedder, StaticEmbedder  # noqa: E402

DEFAULT_STATIC = REPO / "classifier" / "artefacts" / "default" / "embedder"
RESULTS = REPO / "benchmarks" / "results" / "embedder_latency.json"

# A fixed, typical coding-assistant request (~1,000 characters), so runs are comparable.
PROMPT = (
    "I have a FastAPI service that reads orders from PostgreSQL with SQLAlchemy 2.0 async "
    "sessions. Under load (about 300 requests per second) some requests hang for 30 seconds "
    "and then fail with 'QueuePool limit of size 5 overflow 10 reached, connection timed "
    "out'. Here is the dependency I use:\n\n"
    "async def get_session() -> AsyncIterator[AsyncSession]:\n"
    "    session = SessionLocal()\n"
    "    try:\n"
    "        yield session\n"
    "    finally:\n"
    "        await session.close()\n\n"
    "and the handler calls `await session.execute(select(Order).where(Order.user_id == "
    "uid))` then awaits an HTTP call to the payment provider before returning. Why does the "
    "pool run out, and how should I restructure this so connections are returned quickly? "
    "Please also suggest sensible pool_size / max_overflow values for 4 uvicorn workers, "
    "explain whether I should use NullPool with PgBouncer in transaction mode, and show a "
    "minimal test with pytest-asyncio that reproduces the exhaustion. Keep the answer short, "
    "code first and prose after it, please."
)


def time_calls(fn: Callable[[], Any], n: int, warmup: int) -> dict[str, float]:
    """p50 / p99 / mean milliseconds of ``n`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = np.empty(n, dtype=np.float64)
    for i in range(n):
        start = time.perf_counter_ns()
        fn()
        samples[i] = (time.perf_counter_ns() - start) / 1e6
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 4),
        "p99_ms": round(float(np.percentile(samples, 99)), 4),
        "mean_ms": round(float(samples.mean()), 4),
        "n": n,
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def run(n: int, with_onnx: bool, with_fp32: bool) -> dict[str, Any]:
    """Measure each embedder; returns the JSON document written to ``RESULTS``."""
    rows: list[dict[str, Any]] = []
    static = StaticEmbedder(DEFAULT_STATIC)
    rows.append(
        {
            "embedder": static.name,
            "kind": "static",
            "dim": static.dim,
            "tokens": int(len(static.token_ids([PROMPT])[0])),
            **time_calls(lambda: static.embed([PROMPT]), n, warmup=200),
        }
    )
    if with_onnx:
        from training.export_onnx import ensure_onnx_embedder  # needs torch on first build

        for quantize in (True, False) if with_fp32 else (True,):
            onnx = OnnxEmbedder(ensure_onnx_embedder(quantize=quantize), intra_op_threads=1)
            tokens = len(onnx._tokenizer.encode(PROMPT).ids)
            runs = max(50, n // 10 if quantize else n // 20)
            rows.append(
                {
                    "embedder": onnx.name,
                    "kind": "onnx",
                    "dim": onnx.dim,
                    "tokens": tokens,
                    **time_calls(partial(onnx.embed, [PROMPT]), runs, warmup=20),
                }
            )
    return {
        "what": "embed([one prompt]) wall-clock, tokenisation included, 1 thread",
        "command": "python benchmarks/embedder_latency.py",
        "prompt_chars": len(PROMPT),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": _version("numpy"),
            "tokenizers": _version("tokenizers"),
            "onnxruntime": _version("onnxruntime"),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "results": rows,
    }


def print_table(doc: dict[str, Any]) -> None:
    print(f"one {doc['prompt_chars']}-character prompt, 1 thread")
    print(f"{'embedder':<28}{'dim':>5}{'tokens':>8}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'n':>7}")
    for r in doc["results"]:
        print(
            f"{r['embedder']:<28}{r['dim']:>5}{r['tokens']:>8}{r['p50_ms']:>10.3f}"
            f"{r['p99_ms']:>10.3f}{r['mean_ms']:>10.3f}{r['n']:>7}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="static calls (ONNX int8 n/10, fp32 n/20)")
    parser.add_argument("--no-onnx", action="store_true", help="static embedder only")
    parser.add_argument("--no-fp32", action="store_true", help="skip the fp32 ONNX model")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    doc = run(args.n, with_onnx=not args.no_onnx, with_fp32=not args.no_fp32)
    print_table(doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
