"""`autotier calibrate`: set an efficient tier's quality bar from a sample of traffic.

Two targets, after RouteLLM's quantile method:
- `--strong-share S`: the bar at which a share S of the sample goes to the tier's
  strongest model (the candidate with the highest overall figure in the accuracy table);
- `--quality-share Q`: the lowest bar at which the routed requests keep a share Q of the
  expected accuracy the strongest model alone would give them.

Each request of the sample is classified once and its candidates scored once (the same
`score_candidates` the router uses); the bar is then found by bisection, re-running the
router's own `select` on every request, so calibration measures exactly what routing
will do. Stickiness is left out: calibration looks at fresh picks. A held-out part of
the sample (`--holdout`) reports how well the bar carries over to traffic it has not seen.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.config import RouterConfig, default_data_dir, load_config
from router.contract import ApiKind
from router.efficient import BarKind, select
from router.errors import ConfigError
from router.gateway import wire
from router.strategies import Scoring, score_candidates
from router.tiers import EfficientTier


@dataclass(frozen=True)
class Outcome:
    n: int
    strong_share: float
    quality_share: float
    mean_cost_usd: float


def strongest(tier: EfficientTier, config: RouterConfig) -> str:
    table = config.accuracy[tier.table]
    return max(tier.candidates, key=lambda m: (table.overall(m), -tier.candidates.index(m)))


def evaluate(scorings: Sequence[Scoring], tier: EfficientTier, strong: str, kind: BarKind, value: float) -> Outcome:
    """Route every request with the bar (`kind`, `value`) and measure the result."""
    to_strong = 0
    kept = best = cost = 0.0
    for scoring in scorings:
        winner = select(scoring.scored, kind, value, tier.selection).winner
        to_strong += winner.model == strong
        kept += winner.accuracy
        best += next(s.accuracy for s in scoring.scored if s.model == strong)
        cost += winner.cost
    n = len(scorings)
    return Outcome(n, to_strong / n, kept / best if best else 1.0, cost / n)


def bisect_bar(measure: Callable[[float], float], target: float, iterations: int = 40) -> float:
    """The smallest bar in (0, 1] whose measure reaches `target` (the measure rises with
    the bar: a stricter bar sends more work to stronger models)."""
    lo, hi = 0.0, 1.0
    if measure(hi) < target:
        return hi
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if measure(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def calibrate(
    scorings: Sequence[Scoring], tier: EfficientTier, strong: str, kind: BarKind,
    strong_share: float | None = None, quality_share: float | None = None,
) -> float:
    if (strong_share is None) == (quality_share is None):
        raise ValueError("give exactly one of strong_share and quality_share")
    # A margin bar is lax where the others are strict (a larger gap admits more): bisect on 1 - margin.
    def value(b: float) -> float:
        return 1.0 - b if kind == "margin" else b

    if strong_share is not None:
        found = bisect_bar(lambda b: evaluate(scorings, tier, strong, kind, value(b)).strong_share, strong_share)
    else:
        found = bisect_bar(lambda b: evaluate(scorings, tier, strong, kind, value(b)).quality_share,
                           quality_share)  # type: ignore[arg-type]
    return value(found)


def request_tokens(row: dict[str, Any]) -> int:
    """The prompt size the gateway would estimate for this row sent as a request (a bare
    `prompt` as one chat user turn), so that calibration scores costs as routing will."""
    if "input" in row:
        return wire.estimated_tokens(ApiKind.RESPONSES, row)
    body = row if "messages" in row else {"messages": [{"role": "user", "content": row.get("prompt", "")}]}
    return wire.estimated_tokens(ApiKind.CHAT, body)


def score_sample(rows: Sequence[dict[str, Any]], predictions: Sequence[Any], tier: EfficientTier,
                 config: RouterConfig) -> list[Scoring]:
    return [
        score_candidates(tier, config, tier.candidates, p, request_tokens(r))
        for r, p in zip(rows, predictions, strict=True)
    ]


def write_bar(tiers_file: Path, tier_name: str, kind: str, value: float) -> None:
    """Rewrite the `quality_bar:` line inside `tier_name`'s block, keeping the comments."""
    lines = tiers_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^  {re.escape(tier_name)}:\s*$", line)), None)
    if start is None:
        raise ConfigError([f"{tiers_file.name}: tiers.{tier_name}: not found"])
    for i in range(start + 1, len(lines)):
        if re.match(r"^  \S", lines[i]):
            break
        if re.match(r"^    quality_bar:", lines[i]):
            lines[i] = f"    quality_bar: {{kind: {kind}, value: {value:.4f}}}\n"
            tiers_file.write_text("".join(lines), encoding="utf-8")
            return
    raise ConfigError([f"{tiers_file.name}: tiers.{tier_name}.quality_bar: add a one-line quality_bar first"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="autotier calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", type=Path, required=True, help="JSONL sample: prompt or messages, optional mode")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--strong-share", type=float, help="share of requests for the strongest model (0-1)")
    target.add_argument("--quality-share", type=float, help="share of the strongest model's quality to keep (0-1)")
    p.add_argument("--tier", default="efficient")
    p.add_argument("--kind", choices=["relative", "absolute", "margin"], default="relative")
    p.add_argument("--holdout", type=float, default=0.3, help="share of the sample held out to check the bar")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--classifier", default=None, help="artefact folder or models:/ URI (default: shipped)")
    p.add_argument("--write", action="store_true", help="write the bar into the tier's tiers.yaml")
    args = p.parse_args(argv)
    for name in ("strong_share", "quality_share", "holdout"):
        value = getattr(args, name)
        if value is not None and not 0 <= value < 1 + (name != "holdout"):
            p.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    data_dir = args.data_dir or default_data_dir()
    try:
        config = load_config(data_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    tier = config.tiers.tiers.get(args.tier)
    if not isinstance(tier, EfficientTier):
        print(f"autotier calibrate: {args.tier!r} is not an efficient tier", file=sys.stderr)
        return 2
    from classifier import ClassifierError, RequestError, load
    from classifier.cli import predict_rows, read_requests

    try:
        with args.input.open(encoding="utf-8") as fh:
            rows = read_requests(fh, str(args.input))
    except (ClassifierError, OSError) as exc:
        print(f"autotier calibrate: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print(f"autotier calibrate: {args.input}: no requests", file=sys.stderr)
        return 2

    predictions = [None if isinstance(p, RequestError) else p for p in predict_rows(load(args.classifier), rows)]
    scorings = score_sample(rows, predictions, tier, config)
    order = list(range(len(scorings)))
    random.Random(args.seed).shuffle(order)
    cut = len(order) - round(len(order) * args.holdout)
    fit = [scorings[i] for i in order[:cut]]
    held = [scorings[i] for i in order[cut:]]
    strong = strongest(tier, config)
    bar = calibrate(fit, tier, strong, args.kind, args.strong_share, args.quality_share)
    report = {
        "tier": args.tier, "strongest": strong, "selection": tier.selection,
        "target": {"strong_share": args.strong_share} if args.strong_share is not None
        else {"quality_share": args.quality_share},
        "quality_bar": {"kind": args.kind, "value": round(bar, 4)},
        "calibration": vars(evaluate(fit, tier, strong, args.kind, bar)),
        "holdout": vars(evaluate(held, tier, strong, args.kind, bar)) if held else None,
        "written": False,
    }
    if args.write:
        write_bar(data_dir / "tiers.yaml", args.tier, args.kind, bar)
        load_config(data_dir)  # the edited file must still load
        report["written"] = True
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
