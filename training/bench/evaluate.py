"""Protocols (folds, official split, leave-one-dataset-out), baselines and the per-set result.

Every test item is scored once by routers fitted without it; the quality bar is then swept
through `router.efficient.select` over the pooled test items, one curve per router.
Result dicts are plain JSON (see `benchmarks/REPORT.md` for the keys).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from router.efficient import BarKind
from training.bench import metrics
from training.bench.routers import FoldScores, score_fold, sweep
from training.bench.sets import RoutingSet

SEED = 0
RELATIVE_GRID = tuple(round(v, 3) for v in np.linspace(0.0, 1.0, 21))
ABSOLUTE_GRID = tuple(round(v, 3) for v in np.linspace(0.0, 1.0, 21))
N_QUANTILE_BARS = 30
ROUTELLM_BINS = 10  # RouteLLM's evaluate.py: --num-results 10 (11 thresholds)
GAP_FRACTIONS = (0.5, 0.8)
ROUTERS = ("factored", "direct", "irt")
N_BOOT = 1000  # bootstrap resamples of the test items for the routing gain's interval


def folds_for(rs: RoutingSet, n_folds: int, group_by: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(train, test) index pairs and the protocol sentence."""
    n = len(rs)
    if rs.test_mask is not None:
        test = np.flatnonzero(rs.test_mask)
        train = np.flatnonzero(~rs.test_mask)
        return [(train, test)], f"official split: train on {len(train)} items, test on {len(test)}"
    if group_by == "repository":
        splitter = GroupKFold(n_splits=n_folds)
        pairs = list(splitter.split(np.zeros(n), groups=rs.groups))
        return pairs, f"{n_folds}-fold grouped k-fold by repository (no repository in both train and test)"
    (first_head, labels) = next(iter(rs.heads.items()))
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=SEED)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        pairs = list(splitter.split(np.zeros(n), labels, groups=rs.groups))
    return pairs, (
        f"{n_folds}-fold grouped k-fold (groups: identical prompt text; stratified by {first_head}); "
        "every item is scored once by routers fitted on the other folds"
    )


def _pool(folds: Sequence[FoldScores], m: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    idx = np.concatenate([f.test_idx for f in folds])
    out = {
        "factored": np.concatenate([f.factored for f in folds]),
        "direct": np.concatenate([f.direct for f in folds]),
        "irt": np.concatenate([f.irt for f in folds]),
        "est_cost": np.concatenate([f.est_cost for f in folds]),
    }
    for head in folds[0].label_hits:
        out[f"hits:{head}"] = np.concatenate([f.label_hits[head] for f in folds])
    return idx, out


def _critical_ratios(acc: np.ndarray) -> np.ndarray:
    """Relative bars at which some item's choice can change: each model's accuracy over the item's best."""
    best = acc.max(axis=1, keepdims=True)
    ratio = np.where(best > 0, acc / np.where(best > 0, best, 1.0), 1.0)
    return np.clip(ratio[ratio < 1.0], 0.0, 1.0)


def routellm_bars(acc: np.ndarray, strong: int, weak: int) -> list[tuple[BarKind, float]]:
    """Eleven relative bars that split the items into RouteLLM's ten equal-count bins:
    with a relative bar b, select() sends an item to the strong model exactly when
    weak / strong expected accuracy < b, so the bars sit just above that ratio's deciles
    (the first, at its minimum, sends nothing to the strong model)."""
    ratio = np.divide(acc[:, weak], acc[:, strong], out=np.ones(len(acc)), where=acc[:, strong] > 0)
    qs = np.quantile(ratio, np.linspace(0.0, 1.0, ROUTELLM_BINS + 1))
    bars = [float(ratio.min())] + [float(np.nextafter(q, np.inf)) for q in qs[1:]]
    return [("relative", b) for b in bars]


def curve_bars(acc: np.ndarray) -> list[tuple[BarKind, float]]:
    ratios = _critical_ratios(acc)
    quant = np.quantile(ratios, np.linspace(0, 1, N_QUANTILE_BARS + 1)) if len(ratios) else np.array([])
    rel = sorted({*RELATIVE_GRID, *(float(np.nextafter(q, np.inf)) for q in quant if q < 1.0)})
    return [("relative", v) for v in rel] + [("absolute", v) for v in ABSOLUTE_GRID]


def _point(choice: np.ndarray, outcomes: np.ndarray, cost: np.ndarray, scale: float, strong: int) -> dict[str, float]:
    rows = np.arange(len(choice))
    return {
        "cost": float(cost[rows, choice].mean()),
        "quality": float(outcomes[rows, choice].mean() * scale),
        "strong_share": float((choice == strong).mean()),
    }


def baselines(rs: RoutingSet, outcomes: np.ndarray, cost: np.ndarray, strongest: int) -> dict[str, dict[str, Any]]:
    """Single models, always strongest / cheapest, random mixing, oracle, frontier rule."""
    s = rs.quality_scale
    mean_q = outcomes.mean(axis=0) * s
    mean_c = cost.mean(axis=0)
    cheapest = int(np.argmin(mean_c))
    out: dict[str, dict[str, Any]] = {}
    for j, m in enumerate(rs.models):
        out[f"single:{m}"] = {
            "cost": float(mean_c[j]), "quality": float(mean_q[j]), "strong_share": float(j == strongest),
        }
    out["always_strongest"] = {**out[f"single:{rs.models[strongest]}"], "model": rs.models[strongest]}
    out["always_cheapest"] = {**out[f"single:{rs.models[cheapest]}"], "model": rs.models[cheapest]}
    out["random_mix_50"] = {
        "cost": float((mean_c[cheapest] + mean_c[strongest]) / 2),
        "quality": float((mean_q[cheapest] + mean_q[strongest]) / 2),
        "strong_share": 0.5,
        "note": "each call to the strongest or the cheapest model with probability 1/2 (expected values); "
        "any mix lies on the straight line between them",
    }
    out["random_uniform"] = {
        "cost": float(mean_c.mean()), "quality": float(mean_q.mean()), "strong_share": 1.0 / len(rs.models),
        "note": "each call to a model drawn uniformly (expected values)",
    }
    best = outcomes.max(axis=1, keepdims=True)
    masked = np.where(outcomes >= best, cost, np.inf)
    pick = masked.argmin(axis=1)
    out["oracle"] = _point(pick, outcomes, cost, s, strongest) | {
        "note": "per item the cheapest model with the item's best outcome (the cheapest model when all fail)"
    }
    if rs.frontier_model is not None:
        single = out[f"single:{rs.frontier_model}"]
        out["frontier_rule"] = {**single, "model": rs.frontier_model, "note": rs.frontier_note}
    return out


def _router_metrics(
    rs: RoutingSet, curve: list[dict[str, Any]], two_model: list[dict[str, Any]] | None,
    weak_q: float | None, strong_q: float | None, cost_range: tuple[float, float], best_q: float, oracle_q: float,
    hits: dict[str, np.ndarray],
) -> dict[str, Any]:
    pts = [(p["cost"], p["quality"]) for p in curve]
    out: dict[str, Any] = {
        "curve": curve,
        "aiq": metrics.aiq(pts, *cost_range),
        "cost_at_95pct_best": metrics.cost_at_quality(pts, 0.95 * best_q),
        "max_quality": max(q for _, q in pts),
        "regret": metrics.regret(oracle_q, max(q for _, q in pts)),
        "label_accuracy": {h: float(v.mean()) for h, v in hits.items()},
    }
    if two_model is not None and weak_q is not None and strong_q is not None:
        shares = [p["strong_share"] for p in two_model]
        quals = [p["quality"] for p in two_model]
        out["routellm_curve"] = two_model
        out["apgr"] = metrics.apgr(shares, quals, weak_q, strong_q)
        for frac in GAP_FRACTIONS:
            v = metrics.cpt(shares, quals, weak_q, strong_q, frac)
            out[f"cpt{int(frac * 100)}"] = None if v is None else 100.0 * v
        own = [p["strong_share"] for p in two_model if p["bar_kind"] != "mix_with_always_strong"]
        out["share_range"] = [min(own), max(own)]
    else:
        out.update(apgr=None, cpt50=None, cpt80=None)
    return out


def evaluate_scores(
    rs: RoutingSet, idx: np.ndarray, pooled: dict[str, np.ndarray], protocol: str, strongest: int | None = None,
) -> dict[str, Any]:
    """Curves, metrics and baselines for the pooled test items `idx` of `rs`."""
    outcomes = rs.outcomes[idx]
    cost = rs.cost[idx]
    s = rs.quality_scale
    mean_q = outcomes.mean(axis=0)
    if strongest is None:
        strongest = int(np.argmax(mean_q))
    two = rs.strong is not None and rs.weak is not None and len(rs.models) == 2
    strong_i = rs.models.index(rs.strong) if two and rs.strong else strongest
    weak_i = rs.models.index(rs.weak) if two and rs.weak else None
    base = baselines(rs, outcomes, cost, strong_i)
    singles = [(v["cost"], v["quality"]) for k, v in base.items() if k.startswith("single:")]
    cost_range = (min(c for c, _ in singles), max(c for c, _ in singles))
    best_name = max((k for k in base if k.startswith("single:")), key=lambda k: base[k]["quality"])
    best_q = base[best_name]["quality"]
    oracle_q = base["oracle"]["quality"]
    hits = {k.removeprefix("hits:"): v for k, v in pooled.items() if k.startswith("hits:")}
    routers: dict[str, Any] = {}
    for name in ROUTERS:
        acc = pooled[name]
        bars = curve_bars(acc)
        choices = sweep(acc, pooled["est_cost"], rs.models, bars)
        curve = [
            {"bar": v, "bar_kind": k, **_point(ch, outcomes, cost, s, strong_i)}
            for (k, v), ch in zip(bars, choices, strict=True)
        ]
        two_model = None
        if two and weak_i is not None:
            rbars = routellm_bars(acc, strong_i, weak_i)
            rchoices = sweep(acc, pooled["est_cost"], rs.models, rbars)
            two_model = [
                {"bar": v, "bar_kind": k, **_point(ch, outcomes, cost, s, strong_i)}
                for (k, v), ch in zip(rbars, rchoices, strict=True)
            ]
            if max(p["strong_share"] for p in two_model) < 1.0:
                # select() never sends an item to the strong model where the weak one is expected to be
                # at least as accurate, so its curve can stop short of 100%. RouteLLM's curves span
                # 0-100%; complete ours the way any router can: mix its last point with always-strong.
                two_model.append({"bar": None, "bar_kind": "mix_with_always_strong",
                                  **_point(np.full(len(outcomes), strong_i), outcomes, cost, s, strong_i)})
        routers[name] = _router_metrics(
            rs, curve, two_model,
            float(mean_q[weak_i] * s) if weak_i is not None else None,
            float(mean_q[strong_i] * s) if two else None,
            cost_range, best_q, oracle_q, hits if name == "factored" else {},
        )
        rows = np.arange(len(outcomes))
        routers[name]["reachable_cost_at_95pct_best"] = metrics.reachable_cost_at_quality(
            [(p["cost"], p["quality"]) for p in curve], 0.95 * best_q)
        routers[name]["gain_at_95pct_best"] = metrics.routing_gain(
            np.array([cost[rows, ch] for ch in choices]), np.array([outcomes[rows, ch] * s for ch in choices]),
            cost.T, outcomes.T * s, fraction=0.95, n_boot=N_BOOT, seed=SEED,
        )
    zero_pts = singles
    f = routers["factored"]
    optimal = None
    if two and weak_i is not None:
        optimal = [
            (float(v), s * metrics.optimal_two_model(outcomes[:, strong_i], outcomes[:, weak_i], float(v)))
            for v in np.linspace(0.0, 1.0, 11)
        ]
    return {
        "dataset": rs.name,
        "title": rs.title,
        "source": rs.source,
        "protocol": protocol,
        "n_items": len(rs),
        "n_test": len(idx),
        "models": rs.models,
        "strong": rs.strong,
        "weak": rs.weak,
        "quality_unit": rs.quality_unit,
        "cost_unit": "US dollars per item (mean)",
        "cost_note": rs.cost_note,
        "notes": rs.notes,
        "baselines": base,
        "curve": f["curve"],
        "apgr": f["apgr"],
        "cpt50": f["cpt50"],
        "cpt80": f["cpt80"],
        "aiq": f["aiq"],
        "oracle": {"cost": base["oracle"]["cost"], "quality": oracle_q},
        "best_single": {"model": best_name.removeprefix("single:"), **base[best_name]},
        "cost_at_95pct_best": f["cost_at_95pct_best"],
        "reachable_cost_at_95pct_best": f["reachable_cost_at_95pct_best"],
        "gain_at_95pct_best": f["gain_at_95pct_best"],
        "no_routing": {
            "cost_at_95pct_best": metrics.cost_at_quality(zero_pts, 0.95 * best_q),
            "note": "the best mixture of single models with no per-request routing: the lower convex hull "
            "of their (cost, quality) points (each call sent to one of two single models at random)",
        },
        "regret": f["regret"],
        "aiq_cost_range": list(cost_range),
        "zero_router": {
            "aiq": metrics.aiq(zero_pts, *cost_range),
            "cost_at_95pct_best": metrics.cost_at_quality(zero_pts, 0.95 * best_q),
            "note": "RouterBench's Zero router: the non-decreasing hull of the single models (random mixing)",
        },
        "routers": routers,
        "optimal_curve": optimal,
        "frontier_rule": None if rs.frontier_model is None else rs.frontier_note,
        "frontier_rule_note": rs.frontier_note or (
            "does not apply: the frontier tier picks by the agent's mode, and this set has no modes and "
            "none of the tier's models; its nearest analogue is always-strongest"
        ),
    }


def run_set(rs: RoutingSet, x: np.ndarray, n_folds: int) -> dict[str, Any]:
    """The set's own protocol: official split where it has one, else grouped k-fold."""
    t0 = time.perf_counter()
    group_by = "repository" if rs.name == "swebench" else "prompt"
    pairs, protocol = folds_for(rs, n_folds, group_by)
    folds = [score_fold(x, rs.heads, rs.outcomes, rs.cost, rs.real_cost, rs.models, tr, te) for tr, te in pairs]
    idx, pooled = _pool(folds, len(rs.models))
    result = evaluate_scores(rs, idx, pooled, protocol)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def run_lodo(sets: dict[str, RoutingSet], xs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Leave one RouteLLM set out: fit on the other two (labels prefixed by set name, MT-Bench
    scores scaled to [0, 1]), test on the held-out set, whose own labels are never seen."""
    t0 = time.perf_counter()
    runs: dict[str, Any] = {}
    names = list(sets)
    for held in names:
        train_names = [n for n in names if n != held]
        order = train_names + [held]
        x = np.concatenate([xs[n] for n in order])
        labels = [f"{n}:{v}" for n in order for v in next(iter(sets[n].heads.values()))]
        outcomes = np.concatenate([sets[n].outcomes for n in order])
        cost = np.concatenate([sets[n].cost for n in order])
        n_train = sum(len(sets[n]) for n in train_names)
        train_idx = np.arange(n_train)
        test_idx = np.arange(n_train, len(x))
        rs = sets[held]
        fold = score_fold(x, {"label": labels}, outcomes, cost, False, rs.models, train_idx, test_idx)
        fold.test_idx = np.arange(len(rs))
        idx, pooled = _pool([fold], len(rs.models))
        protocol = (
            f"leave one dataset out: fit on {' + '.join(train_names)} ({n_train} items; labels are those sets' own), "
            f"test on all {len(rs)} {held} items"
        )
        runs[held] = evaluate_scores(rs, idx, pooled, protocol)
    return {
        "dataset": "routellm_lodo",
        "title": "RouteLLM sets, leave one dataset out",
        "protocol": "For each of GSM8K, MMLU and MT-Bench: fit label head, accuracy table and direct predictor "
        "on the other two sets, test on it",
        "runs": runs,
        "seconds": round(time.perf_counter() - t0, 1),
    }
