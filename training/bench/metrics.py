"""Routing metrics as small pure functions on (x, quality) points.

Two families, each following its originators' definitions:

- RouteLLM (lm-sys/RouteLLM `routellm/evals/evaluate.py`), for two-model sets where x is
  the share of calls to the strong model in [0, 1]: `apgr` (area under the quality curve
  between the weak and strong models' levels, trapezoid rule over the curve's own points)
  and `cpt` (share of strong calls needed to recover a given fraction of the quality gap).
- RouterBench (withmartian/routerbench `evaluation/AIQ.py`, paper section 3), where x is
  cost: `nondecreasing_hull` (the upper convex hull of the cost-quality points, cut at its
  highest point: every point on it is reachable by randomly mixing two operating points)
  and `aiq` (the area under that hull over a cost range, divided by the range's width).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Points = Sequence[tuple[float, float]] | np.ndarray


def _as_points(points: Points) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(arr) == 0:
        raise ValueError("need at least one (x, quality) point")
    return arr


def _sorted_by_x(xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError("xs and ys must be non-empty 1-d sequences of the same length")
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def pgr(quality: float, weak_quality: float, strong_quality: float) -> float:
    """Performance gap recovered: 0 at the weak model's quality, 1 at the strong model's."""
    return (quality - weak_quality) / (strong_quality - weak_quality)


def apgr(shares: Sequence[float] | np.ndarray, qualities: Sequence[float] | np.ndarray,
         weak_quality: float, strong_quality: float) -> float:
    """Average performance gap recovered, as RouteLLM computes it: sort the points by
    strong share (a fraction), integrate quality with the trapezoid rule, and compare with
    the weak and strong models' constant levels integrated over the same share range.
    A random router (a straight line from weak to strong) scores 0.5."""
    x, y = _sorted_by_x(shares, qualities)
    span = x[-1] - x[0]
    if span <= 0 or strong_quality == weak_quality:
        raise ValueError("apgr needs points spanning a share range and distinct weak/strong qualities")
    auc = float(np.trapezoid(y, x))
    return (auc - weak_quality * span) / ((strong_quality - weak_quality) * span)


def cpt(shares: Sequence[float] | np.ndarray, qualities: Sequence[float] | np.ndarray,
        weak_quality: float, strong_quality: float, gap_fraction: float) -> float | None:
    """Call-performance threshold: the smallest strong share (same unit as `shares`) at
    which the piecewise-linear curve reaches weak + gap_fraction x (strong - weak). Equals
    RouteLLM's `np.interp(target, accuracy, share)` when quality rises with share (the
    case np.interp assumes); None when the curve never reaches the target."""
    x, y = _sorted_by_x(shares, qualities)
    target = weak_quality + gap_fraction * (strong_quality - weak_quality)
    if y[0] >= target:
        return float(x[0])
    for i in range(1, len(x)):
        if y[i] >= target:
            x0, y0, x1, y1 = x[i - 1], y[i - 1], x[i], y[i]
            return float(x0 + (x1 - x0) * (target - y0) / (y1 - y0))
    return None


def nondecreasing_hull(points: Points) -> np.ndarray:
    """RouterBench's non-decreasing convex hull: the upper convex hull of the (cost,
    quality) points, from the cheapest point up to the highest-quality point, as an
    (k, 2) array sorted by cost. Among points of equal cost only the best counts."""
    arr = _as_points(points)
    arr = arr[np.lexsort((-arr[:, 1], arr[:, 0]))]
    keep = np.concatenate(([True], np.diff(arr[:, 0]) > 0))
    arr = arr[keep]
    hull: list[np.ndarray] = []
    for p in arr:
        # Drop the last vertex while it lies on or below the chord from its predecessor to p.
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    out = np.array(hull)
    top = int(np.argmax(out[:, 1]))
    return out[: top + 1]


def aiq(points: Points, cost_min: float, cost_max: float) -> float:
    """Average improvement in quality (RouterBench): the area under the non-decreasing hull
    over [cost_min, cost_max], divided by the range's width. The hull is extended at its
    last quality to cost_max (as RouterBench's code does); the stretch left of the hull's
    cheapest point contributes nothing."""
    if cost_max <= cost_min:
        raise ValueError("aiq needs cost_max > cost_min")
    hull = nondecreasing_hull(points)
    if hull[-1, 0] < cost_max:
        hull = np.vstack([hull, [cost_max, hull[-1, 1]]])
    grid = np.unique(np.concatenate(([cost_min, cost_max], hull[:, 0])))
    grid = grid[(grid >= cost_min) & (grid <= cost_max) & (grid >= hull[0, 0])]
    if len(grid) < 2:
        return 0.0
    y = np.interp(grid, hull[:, 0], hull[:, 1])
    return float(np.trapezoid(y, grid) / (cost_max - cost_min))


def cost_at_quality(points: Points, target: float) -> float | None:
    """Lowest cost at which the non-decreasing hull reaches `target` quality (mixing two
    operating points is allowed, as on the hull); None when no point reaches it."""
    hull = nondecreasing_hull(points)
    if hull[-1, 1] < target:
        return None
    i = int(np.argmax(hull[:, 1] >= target))
    if i == 0:
        return float(hull[0, 0])
    (x0, y0), (x1, y1) = hull[i - 1], hull[i]
    return float(x0 + (x1 - x0) * (target - y0) / (y1 - y0))


def regret(oracle_quality: float, quality: float) -> float:
    """Quality left on the table relative to the per-item oracle (same unit as quality)."""
    return oracle_quality - quality


def optimal_two_model(strong: np.ndarray, weak: np.ndarray, share: float) -> float:
    """RouteLLM's 'optimal' reference: mean quality when at most `share` of the items go to
    the strong model, given to the items where it gains most (and only where it gains)."""
    strong = np.asarray(strong, dtype=np.float64)
    weak = np.asarray(weak, dtype=np.float64)
    gain = np.sort(strong - weak)[::-1]
    k = int(len(gain) * share)
    return float((weak.sum() + np.clip(gain[:k], 0, None).sum()) / len(weak))


def reachable_cost_at_quality(points: Points, target: float) -> float | None:
    """Lowest cost among the router's own operating points whose quality reaches
    `target`: no interpolation between points (a router cannot run 'between' two bars
    without mixing, and mixing is what the no-routing baseline already does); None when no
    point reaches it."""
    arr = _as_points(points)
    ok = arr[arr[:, 1] >= target]
    return float(ok[:, 0].min()) if len(ok) else None


def routing_gain(router_cost: np.ndarray, router_quality: np.ndarray, single_cost: np.ndarray,
                 single_quality: np.ndarray, fraction: float = 0.95, n_boot: int = 1000,
                 seed: int = 0) -> dict[str, float | int | None]:
    """What per-request routing saves over no routing at `fraction` of the best single
    model's quality, with a bootstrap 95% interval over items.

    Inputs are per item: `router_*` (n_points, n) for each operating point of the router,
    `single_*` (n_models, n) for each single model. No routing = the cheapest mixture of
    single models reaching the target (the lower convex hull); routing = the cheapest
    reachable router point (`reachable_cost_at_quality`). gain = no-routing cost - routing
    cost (positive: routing is cheaper); a resample where the router reaches no point
    counts as a gain of -inf in the interval (reported as None when it decides a bound).
    """
    rng = np.random.default_rng(seed)
    n = router_cost.shape[1]

    def one(w: np.ndarray) -> tuple[float | None, float | None]:
        rc, rq = router_cost @ w, router_quality @ w
        sc, sq = single_cost @ w, single_quality @ w
        target = fraction * float(sq.max())
        base = cost_at_quality(np.column_stack([sc, sq]), target)
        own = reachable_cost_at_quality(np.column_stack([rc, rq]), target)
        return base, own

    base, own = one(np.full(n, 1.0 / n))
    gains = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n) / n
        b, o = one(w)
        gains.append(-np.inf if o is None or b is None else b - o)
    g = np.array(gains)
    lo, hi = np.percentile(g, [2.5, 97.5], method="nearest")  # no interpolation next to a -inf
    return {
        "no_routing_cost": base,
        "routing_cost": own,
        "gain": None if base is None or own is None else base - own,
        "gain_ratio": None if base is None or own is None or base == 0 else own / base,
        "ci95": [None if not np.isfinite(lo) else float(lo), None if not np.isfinite(hi) else float(hi)],
        "share_unreached": float(np.mean(~np.isfinite(g))),
        "n_boot": n_boot,
    }
