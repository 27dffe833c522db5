"""Write the routing benchmark's outputs: one JSON per set, one plot per set, and REPORT.md.

REPORT.md is generated entirely from the results (nothing in it is edited by hand); the
published RouteLLM figures it quotes live in `training.bench.published`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.bench import metrics  # noqa: E402
from training.bench.published import ROUTELLM_PUBLISHED, ROUTELLM_SOURCE_NOTE  # noqa: E402

Result = dict[str, Any]


def _short(model: str) -> str:
    return model.split("/")[-1][:28]


def _fmt(v: float | None, digits: int = 3, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.{digits}f}{unit}"


def _usd(v: float | None) -> str:
    if v is None:
        return "not reached"
    return f"${v:.4f}" if v >= 0.01 else f"${v:.2e}"


def _routellm_axes(ax: Any, res: Result, title: str) -> None:
    weak_q = res["baselines"][f"single:{res['weak']}"]["quality"]
    strong_q = res["baselines"][f"single:{res['strong']}"]["quality"]
    for name, style in (("factored", "o-"), ("direct", "s--"), ("irt", "^-.")):
        if name not in res["routers"]:
            continue
        pts = sorted(res["routers"][name]["routellm_curve"], key=lambda p: p["strong_share"])
        r = res["routers"][name]
        ax.plot([100 * p["strong_share"] for p in pts], [p["quality"] for p in pts], style,
                label=f"{name} (APGR {_fmt(r['apgr'])})", markersize=4)
    ax.plot([0, 100], [weak_q, strong_q], ":", color="grey", label="random (APGR 0.500)")
    ax.axhline(weak_q, color="grey", linestyle="--", linewidth=0.8, label=f"{_short(res['weak'])}")
    ax.axhline(strong_q, color="red", linestyle="--", linewidth=0.8, label=f"{_short(res['strong'])}")
    opt = res.get("optimal_curve")
    if opt:
        ax.plot([100 * s for s, _ in opt], [q for _, q in opt], "x-", color="green", linewidth=0.8,
                label="optimal (per-item hindsight)")
    ax.set_xlabel("calls to the strong model (%)")
    ax.set_ylabel(res["quality_unit"].split("(")[0].strip())
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)


def _dense(hull: Any) -> tuple[Any, Any]:
    """Hull vertices with points in between, so straight (linear-cost) segments plot right on a log axis."""
    xs = np.concatenate([np.linspace(a, b, 30) for a, b in zip(hull[:-1, 0], hull[1:, 0], strict=True)] or [hull[:, 0]])
    return xs, np.interp(xs, hull[:, 0], hull[:, 1])


def _cost_axes(ax: Any, res: Result) -> None:
    base = res["baselines"]
    singles = {k.removeprefix("single:"): v for k, v in base.items() if k.startswith("single:")}
    zero = metrics.nondecreasing_hull([(v["cost"], v["quality"]) for v in singles.values()])
    zero_label = f"zero router: mix single models (AIQ {_fmt(res['zero_router']['aiq'])})"
    ax.plot(*_dense(zero), ":", color="grey", label=zero_label)
    for name, color in (("factored", "C0"), ("direct", "C1"), ("irt", "C2")):
        if name not in res["routers"]:
            continue
        r = res["routers"][name]
        pts = [(p["cost"], p["quality"]) for p in r["curve"]]
        hull = metrics.nondecreasing_hull(pts)
        ax.scatter([c for c, _ in pts], [q for _, q in pts], s=8, color=color, alpha=0.5)
        ax.plot(*_dense(hull), "-", color=color, label=f"{name} (AIQ {_fmt(r['aiq'])})")
    ax.scatter([v["cost"] for v in singles.values()], [v["quality"] for v in singles.values()],
               color="black", s=14, marker="D", label="single models")
    on_hull = {tuple(p) for p in zero.tolist()}
    best = res["best_single"]["model"]
    costs = [v["cost"] for v in singles.values()]
    middle = (min(costs) * max(costs)) ** 0.5  # the log axis' centre
    for m, v in singles.items():
        if (v["cost"], v["quality"]) in on_hull or m == best:
            right = v["cost"] > middle
            ax.annotate(_short(m), (v["cost"], v["quality"]), fontsize=6, xytext=(-4 if right else 4, -9),
                        textcoords="offset points", ha="right" if right else "left")
    ax.scatter([base["oracle"]["cost"]], [base["oracle"]["quality"]], marker="*", s=120, color="green", label="oracle")
    if "frontier_rule" in base:
        f = base["frontier_rule"]
        ax.scatter([f["cost"]], [f["quality"]], marker="^", s=60, color="purple",
                   label=f"frontier rule ({_short(f['model'])})")
    target = 0.95 * res["best_single"]["quality"]
    ax.axhline(target, color="red", linestyle="--", linewidth=0.7, label="95% of the best single model")
    ax.set_xscale("log")
    ax.set_xlabel("mean cost per item (US$, log scale)")
    ax.set_ylabel(res["quality_unit"].split("(")[0].strip())
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, which="both")


def plot_set(res: Result, path: Path) -> None:
    two = res.get("strong") is not None and res["routers"]["factored"].get("routellm_curve") is not None
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(12 if two else 7.5, 5))
    if two:
        _routellm_axes(axes[0], res, "quality vs share of strong calls (RouteLLM's view)")
        _cost_axes(axes[1], res)
        axes[1].set_title("quality vs cost", fontsize=10)
    else:
        _cost_axes(axes, res)
    fig.suptitle(f"{res['title']}: {res['n_test']} test items", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lodo(res: Result, path: Path) -> None:
    runs = res["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 4.5))
    for ax, (name, run) in zip(axes, runs.items(), strict=True):
        _routellm_axes(ax, run, f"held out: {name}")
    fig.suptitle("RouteLLM sets, leave one dataset out", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(results: dict[str, Result], meta: dict[str, Any], out: Path, report: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    for name, res in results.items():
        (out / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        if "runs" in res:
            plot_lodo(res, plots / f"{name}.png")
        else:
            plot_set(res, plots / f"{name}.png")
    report.parent.mkdir(parents=True, exist_ok=True)
    from training.bench.report_text import render

    rel_plots = Path("results") / "plots"
    try:
        rel_plots = plots.resolve().relative_to(report.parent.resolve())
    except ValueError:
        rel_plots = plots.resolve()
    extras = {name: json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
              for name in ("efficient_agent", "success_model_loso") if (out / f"{name}.json").exists()}
    report.write_text(render(results, meta, rel_plots, extras), encoding="utf-8")


__all__ = ["ROUTELLM_PUBLISHED", "ROUTELLM_SOURCE_NOTE", "plot_set", "plot_lodo", "write_outputs"]
