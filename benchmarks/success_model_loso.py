"""Leave one source out: does the success model predict a source it never saw?

    python benchmarks/success_model_loso.py [--out benchmarks/results/success_model_loso.json]

The production table answers for route keys no source covers by assuming a request of a
given difficulty is as hard as the other sources' tasks of that difficulty (the level
pool). This checks that assumption where it can be checked: for each source with levels
(SWE-bench, LiveCodeBench, DebugBench), the success model is refitted without that
source's outcomes; every model that has outcomes there and an ability from the other
sources (through a link) gets a predicted success rate per level, the mean success of its
ability over the remaining sources' level pool, which is compared with what it actually
scored. Writes JSON and the REPORT.md block between the `success_model_loso` markers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import irt  # noqa: E402
from training.bench.report_agent import LOSO_MARKERS, loso_section, replace_block  # noqa: E402
from training.outcomes import SWEBENCH_LABELS  # noqa: E402
from training.production_table import load_model_map  # noqa: E402
from training.sources import default_data_root  # noqa: E402
from training.success_model import apply_links, evidence, gather, pools  # noqa: E402

HELD = ("swebench", "livecodebench", "debugbench")


def held_out(root: Path, source: str) -> dict[str, Any]:
    g = gather(root, SWEBENCH_LABELS)
    apply_links(g, list(load_model_map(ROOT / "data" / "accuracy" / "model_map.yaml").links))
    s = g.sources.index(source)
    # what each node scored on the held-out source, per level
    scored: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for node, item, y in g.responses:
        if g.item_source[item] == s:
            scored[node][g.item_level[item] or "-"].append(y)
    elsewhere = {n for n, i, _ in g.responses if g.item_source[i] != s} | {n for n, src, _, _ in g.aggregates
                                                                           if src != s}
    partner = {a: b for a, b, _ in g.links} | {b: a for a, b, _ in g.links}
    g.responses = [r for r in g.responses if g.item_source[r[1]] != s]
    g.aggregates = [a for a in g.aggregates if a[1] != s]
    ref = g.sources.index("livecodebench" if source == "swebench" else "swebench")
    fit = irt.fit(evidence(g), reference_source=ref)
    level_pools = {d: [p for p in parts if p[0] != s] for d, parts in pools(g, fit).by_level.items()}
    names = defaultdict(list)
    for name, k in g.nodes.items():
        names[k].append(name)
    rows = []
    for node, by_level in scored.items():
        known = node if node in elsewhere else partner.get(node) if partner.get(node) in elsewhere else None
        if known is None:
            continue
        for level in ("low", "medium", "high"):
            if level not in by_level:
                continue
            theta = fit.theta[known]
            pred = float(np.mean([np.mean(irt.success(theta, b, a)) for _, b, a in level_pools[level]]))
            rows.append({"model": " = ".join(names[node]), "ability_from": " = ".join(names[known]),
                         "level": level, "observed": float(np.mean(by_level[level])), "predicted": pred})
    err = [r["predicted"] - r["observed"] for r in rows]
    return {"rows": rows, "n": len(rows), "mae": float(np.mean(np.abs(err))) if err else None,
            "mean_error": float(np.mean(err)) if err else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "success_model_loso.json")
    ap.add_argument("--report", type=Path, default=ROOT / "benchmarks" / "REPORT.md")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    root = default_data_root()
    res = {"command": "python benchmarks/success_model_loso.py", "sources": {s: held_out(root, s) for s in HELD}}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    if args.report.exists():
        replace_block(args.report, loso_section(res), LOSO_MARKERS)
    print(json.dumps({s: {k: v for k, v in r.items() if k != "rows"} for s, r in res["sources"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
