"""REPORT.md's section on the question that matters: does per-request routing beat simply
mixing single models (no routing) at 95% of the best single model's quality?"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]


def _usd(v: float | None) -> str:
    if v is None:
        return "not reached"
    return f"${v:.4f}" if abs(v) >= 0.01 else f"${v:.2e}"


def _gain(g: dict[str, Any]) -> str:
    if g["gain"] is None:
        return "n/a"
    lo, hi = g["ci95"]
    return f"{_usd(g['gain'])} [{_usd(lo) if lo is not None else '-inf'}, {_usd(hi) if hi is not None else '-inf'}]"


def verdict(g: dict[str, Any]) -> str:
    """Plain words for one router's gain over no routing."""
    lo, hi = g["ci95"]
    if g["routing_cost"] is None:
        return "routing never reaches the target"
    if lo is not None and lo > 0:
        return "routing wins (interval above zero)"
    if hi is None or hi < 0:
        return "routing loses (interval below zero)"
    return "no significant difference (interval spans zero)"


def _rows(results: dict[str, Result], order: tuple[str, ...]) -> list[tuple[str, str, Result]]:
    out = []
    for name in order:
        if name in results and "runs" not in results[name]:
            out.append((name, "in-domain", results[name]))
    lodo = results.get("routellm_lodo", {}).get("runs", {})
    for name, run in lodo.items():
        out.append((name, "set held out", run))
    return out


def section(results: dict[str, Result], order: tuple[str, ...]) -> list[str]:
    lines = [
        "## Does per-request routing beat no routing?",
        "",
        "The fair baseline for a router is not the best single model but **no routing**: sending each call to one of "
        "the single models at random in the best proportions, i.e. the lower convex hull of the single models' "
        "(cost, quality) points (RouterBench's zero router). A router's own curve, by contrast, is read only at "
        "**operating points it reaches** (one quality bar each, no interpolation between bars: interpolating is "
        "itself random mixing). The table compares the two at 95% of the best single model's quality; gain = "
        "no-routing cost - router cost per item (positive: routing is cheaper), with a 95% percentile interval "
        "from 1,000 bootstrap resamples of the test items (the target, both costs and the gain are recomputed on "
        "every resample; a resample where the router reaches no point counts as a loss).",
        "",
        "| set | protocol | no routing: cost at 95% | router | reachable cost | gain [95% CI] | verdict |",
        "|---|---|---:|---|---:|---|---|",
    ]
    wins: dict[str, list[str]] = {}
    other: dict[str, list[str]] = {}
    for name, proto, r in _rows(results, order):
        for router, res in r["routers"].items():
            g = res.get("gain_at_95pct_best")
            if g is None:
                continue
            v = verdict(g)
            lines.append(f"| {name} | {proto} | {_usd(g['no_routing_cost'])} | {router} | {_usd(g['routing_cost'])} | "
                         f"{_gain(g)} | {v} |")
            (wins if v.startswith("routing wins") else other).setdefault(router, []).append(f"{name} ({proto})")
    lines.append("")
    for router in sorted({*wins, *other}):
        won = ", ".join(wins.get(router, [])) or "no set"
        lines.append(f"- {router}: beats no routing (interval above zero) on {won}; "
                     f"not shown on {', '.join(other.get(router, [])) or 'none'}.")
    lines += [
        "- Why routing can fail to beat the mixture: with one quality bar per point, the router's reachable points "
        "are few and coarse near the top of the quality range (at 95% of the best model most items must go to "
        "strong models anyway); where labels separate items poorly (GSM8K has one label, MMLU subjects say little "
        "about which questions the weak model misses) its choices are close to random, and random choices are "
        "exactly what the mixture already does, without the label head's mistakes.",
        "",
    ]
    return lines
