"""`autotier bench routing`: offline evaluation of the factored router on public outcome data.

autotier bench routing [--sets gsm8k,mmlu,...] [--data-root PATH] [--out DIR]
                       [--report PATH] [--folds N] [--quick]

Writes benchmarks/results/<set>.json, benchmarks/results/plots/<set>.png and regenerates
benchmarks/REPORT.md. Embeddings are cached under .cache/embeddings (training.embedding_cache).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.sources import REPO_ROOT, SourceError, default_data_root

ALL_SETS = ("gsm8k", "mmlu", "mt_bench", "routellm_lodo", "llmrouter", "routerbench", "swebench")
QUICK_ITEMS = 300
QUICK_FOLDS = 3


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="autotier bench", description="Offline benchmarks of the router.")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "routing",
        help="cost-quality evaluation of the factored router on public outcome sets",
        description="Label probabilities -> accuracy table -> router.efficient.select, against a direct "
        "per-model success predictor and baselines, on RouteLLM, LLMRouter, RouterBench and SWE-bench data.",
    )
    r.add_argument("--sets", default=",".join(ALL_SETS), help=f"comma-separated subset of {','.join(ALL_SETS)}")
    r.add_argument("--data-root", type=Path, default=None,
                   help="raw data root (default: AUTOTIER_DATA_ROOT, ../shared/data, data/raw)")
    r.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results", help="results folder")
    r.add_argument("--report", type=Path, default=REPO_ROOT / "benchmarks" / "REPORT.md", help="report to regenerate")
    r.add_argument("--cache-dir", type=Path, default=None,
                   help="embedding cache folder (default .cache/embeddings in the checkout)")
    r.add_argument("--folds", type=int, default=5, help="k for grouped k-fold (default 5)")
    r.add_argument("--quick", action="store_true",
                   help=f"a small subset: at most {QUICK_ITEMS} items per set, {QUICK_FOLDS} folds")
    return ap


def _subsample(rs: Any, n: int) -> Any:
    rng = np.random.default_rng(0)
    if rs.test_mask is not None:
        train = np.flatnonzero(~rs.test_mask)
        test = np.flatnonzero(rs.test_mask)
        k_test = max(n // 5, 10)
        idx = np.concatenate([rng.choice(train, min(n - k_test, len(train)), replace=False),
                              rng.choice(test, min(k_test, len(test)), replace=False)])
    else:
        idx = rng.choice(len(rs), min(n, len(rs)), replace=False)
    return rs.subset(np.sort(idx))


def _embedder():  # type: ignore[no-untyped-def]
    from classifier.artefact import DEFAULT_ARTEFACT, embedder_path, read_manifest
    from classifier.embedders import load_embedder

    return load_embedder(embedder_path(DEFAULT_ARTEFACT, read_manifest(DEFAULT_ARTEFACT)))


def routing(args: argparse.Namespace) -> int:
    from training.bench.evaluate import run_lodo, run_set
    from training.bench.report import write_outputs
    from training.bench.sets import LOADERS, ROUTELLM_SETS
    from training.embedding_cache import EmbeddingCache, text_hash

    started = time.perf_counter()
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in ALL_SETS]
    if unknown:
        print(f"bench routing: unknown set(s) {', '.join(unknown)}; choose from {', '.join(ALL_SETS)}", file=sys.stderr)
        return 2
    root = args.data_root or default_data_root()
    folds = QUICK_FOLDS if args.quick else args.folds
    needed = set(wanted) - {"routellm_lodo"}
    if "routellm_lodo" in wanted:
        needed |= set(ROUTELLM_SETS)
    try:
        sets = {name: LOADERS[name](root) for name in ALL_SETS if name in needed}
    except SourceError as exc:
        print(f"bench routing: {exc}", file=sys.stderr)
        return 2
    if args.quick:
        sets = {k: _subsample(v, QUICK_ITEMS) for k, v in sets.items()}
    embedder = _embedder()
    cache = EmbeddingCache(embedder, args.cache_dir) if args.cache_dir else EmbeddingCache(embedder)
    all_texts = [t for v in sets.values() for t in v.texts]
    # EmbeddingCache has no public lookup; its in-memory store is what it would reuse.
    stored = getattr(cache, "_store", {})
    cached = sum(1 for h in {text_hash(t) for t in all_texts} if h in stored)
    t_embed = time.perf_counter()
    xs = {k: cache.embed(v.texts, progress=False) for k, v in sets.items()}
    embed_seconds = time.perf_counter() - t_embed
    results: dict[str, dict[str, Any]] = {}
    for name in wanted:
        print(f"bench routing: {name} ...", file=sys.stderr, flush=True)
        if name == "routellm_lodo":
            results[name] = run_lodo({k: sets[k] for k in ROUTELLM_SETS}, {k: xs[k] for k in ROUTELLM_SETS})
        else:
            results[name] = run_set(sets[name], xs[name], folds)
    meta = {
        "command": "autotier bench routing" + (" --quick" if args.quick else "")
        + ("" if wanted == list(ALL_SETS) else f" --sets {','.join(wanted)}")
        + (f" --cache-dir {args.cache_dir}" if args.cache_dir else ""),
        "seconds": time.perf_counter() - started,
        "embed_seconds": embed_seconds,
        "embedder": embedder.name,
        "n_texts": len({text_hash(t) for t in all_texts}),
        "n_embedded": len({text_hash(t) for t in all_texts}) - cached,
        "quick": args.quick,
        "folds": folds,
        "data_root": str(root),
    }
    write_outputs(results, meta, args.out, args.report)
    print(json.dumps({k: _headline(v) for k, v in results.items()}, indent=2))
    print(f"bench routing: {meta['seconds']:.0f} s; wrote {args.out} and {args.report}", file=sys.stderr)
    return 0


def _headline(res: dict[str, Any]) -> dict[str, Any]:
    if "runs" in res:
        return {k: _headline(v) for k, v in res["runs"].items()}
    d = res["routers"]["direct"]
    return {
        "apgr": res["apgr"], "cpt50": res["cpt50"], "aiq": res["aiq"], "direct_apgr": d["apgr"], "direct_aiq": d["aiq"],
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "routing":
        return routing(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    raise SystemExit(main())
