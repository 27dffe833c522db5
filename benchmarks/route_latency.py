"""Cost of one routing decision: `route()` per tier, one thread, in microseconds.

    python benchmarks/route_latency.py [--n 20000]

Times each call with perf_counter_ns after a warm-up, over varied sessions and modes,
prints p50/p99/max per tier and writes benchmarks/results/route_latency.json.
Rule-based tiers target p99 < 50 us on one core. The efficient tier is given a
classifier-shaped prediction, so its figure is the selection alone (table lookup, cost
estimate, cheapest adequate); the classifier's own latency is measured separately.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from classifier.taxonomy import load_taxonomy
from router import Account, ApiKind, RouterState, RoutingRequest, load_config, route

MODES = ["plan", "code", "ask", "debug", "build", None, "orchestrator"]
RESULTS = Path(__file__).parent / "results" / "route_latency.json"


def predictions(n: int) -> list[dict]:
    """Classifier-shaped outputs over the real taxonomy (random, seeded): the efficient
    tier's decision cost is measured apart from the classifier's own (see
    benchmarks/classifier_latency.py)."""
    taxonomy = load_taxonomy()
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        route_p = rng.dirichlet(np.full(len(taxonomy.route_keys), 0.3))
        level_p = rng.dirichlet(np.ones(len(taxonomy.difficulty_names)))
        out.append({
            "route_key": taxonomy.route_keys[int(route_p.argmax())], "confidence": float(route_p.max()),
            "difficulty": taxonomy.difficulty_names[int(level_p.argmax())],
            "route_probs": dict(zip(taxonomy.route_keys, route_p.tolist(), strict=True)),
            "difficulty_probs": dict(zip(taxonomy.difficulty_names, level_p.tolist(), strict=True)),
        })
    return out


def requests_for(tier: str, n: int, classified: bool) -> list[RoutingRequest]:
    apis = list(ApiKind)
    preds = predictions(n) if classified else [None] * n
    return [
        RoutingRequest(
            f"kilo-auto/{tier}", api_kind=apis[i % 3], mode=MODES[i % len(MODES)],
            session_id=f"task-{i}", account=Account(True, float(i % 2)),
            estimated_prompt_tokens=1000 + i % 5000, classification=preds[i],
        )
        for i in range(n)
    ]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(state: RouterState, tier: str, n: int) -> dict[str, float]:
    batch = requests_for(tier, n, state.config.tiers.tiers[tier].strategy == "efficient")
    for request in batch[:2000]:  # warm-up
        route(request, state)
    samples = []
    clock = time.perf_counter_ns
    for request in batch:
        start = clock()
        route(request, state)
        samples.append((clock() - start) / 1000)
    samples.sort()
    return {
        "n": n,
        "p50_us": round(percentile(samples, 0.50), 2),
        "p99_us": round(percentile(samples, 0.99), 2),
        "max_us": round(samples[-1], 2),
        "mean_us": round(statistics.fmean(samples), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="decisions per tier")
    args = parser.parse_args()
    state = RouterState(load_config())
    results = {tier: measure(state, tier, args.n) for tier in state.config.tiers.tiers}
    print(f"{'tier':10} {'p50 us':>8} {'p99 us':>8} {'max us':>8}")
    for tier, r in results.items():
        print(f"{tier:10} {r['p50_us']:8.1f} {r['p99_us']:8.1f} {r['max_us']:8.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "python benchmarks/route_latency.py" + (f" --n {args.n}" if args.n != 20000 else ""),
        "python": platform.python_version(), "machine": platform.machine(),
        "tiers": results,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
