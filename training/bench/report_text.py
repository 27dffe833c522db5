"""The text of benchmarks/REPORT.md, rendered from the routing results (no hand edits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.bench import metrics
from training.bench.published import ROUTELLM_PUBLISHED, ROUTELLM_SOURCE_NOTE
from training.bench.report_agent import loso_section
from training.bench.report_agent import section as agent_section
from training.bench.report_gain import section as gain_section
from training.bench.routers import LABEL_C, LABEL_TOL

Result = dict[str, Any]
SET_ORDER = ("gsm8k", "mmlu", "mt_bench", "llmrouter", "routerbench", "swebench")


def _f(v: float | None, d: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{d}f}"


def _pct(v: float | None) -> str:
    return "not reached" if v is None else f"{v:.1f}%"


def _usd(v: float | None) -> str:
    if v is None:
        return "not reached"
    return f"${v:.4f}" if v >= 0.01 else f"${v:.2e}"


def _q(res: Result, v: float | None) -> str:
    return _f(v, 2 if res["quality_unit"].startswith("GPT-4 judge") else 3)


def _short(model: str) -> str:
    """Drop an `org/` prefix from API ids; display names (with spaces) stay whole."""
    return model if " " in model else model.split("/")[-1]


def _versus(a: float | None, b: float | None, higher_better: bool = True) -> str:
    """'wins' / 'loses' / 'is level' (within 0.5% of the other figure)."""
    if a is None or b is None:
        return "cannot be compared"
    if abs(a - b) <= 0.005 * max(abs(a), abs(b)):
        return "is level"
    return "wins" if (a > b) == higher_better else "loses"


def _cost_sentence(res: Result, name: str) -> str:
    r = res["routers"][name]
    best = res["best_single"]
    c = r["cost_at_95pct_best"]
    if c is None:
        return f"the {name} router never reaches 95% of {_short(best['model'])}'s quality"
    return (
        f"the {name} router reaches 95% of {_short(best['model'])}'s quality at {_usd(c)} per item, "
        f"{100 * c / best['cost']:.0f}% of that model's cost"
    )


def commentary(res: Result) -> list[str]:
    """Sentences generated from the numbers: factored vs direct, vs mixing single models, vs the oracle."""
    fa, di = res["routers"]["factored"], res["routers"]["direct"]
    out: list[str] = []
    if fa["apgr"] is not None:
        verdict = _versus(fa["apgr"], di["apgr"])
        out.append(
            f"APGR: the factored router {verdict} against the direct predictor ({_f(fa['apgr'])} vs {_f(di['apgr'])}; "
            f"random routing scores 0.500); CPT(50%) {_pct(fa['cpt50'])} vs {_pct(di['cpt50'])}."
        )
        for name, r in (("factored", fa), ("direct", di)):
            lo, hi = r["share_range"]
            if hi < 0.995:
                out.append(
                    f"select() sends at most {100 * hi:.0f}% of calls to the strong model under the {name} scores "
                    "(it keeps the weak model wherever that is expected to be at least as accurate); the rest of "
                    "the 0-100% range is completed by mixing that point with always-strong, as any router could."
                )
    out.append(
        f"AIQ: the factored router {_versus(fa['aiq'], di['aiq'])} against the direct predictor "
        f"({_f(fa['aiq'])} vs {_f(di['aiq'])}) and {_versus(fa['aiq'], res['zero_router']['aiq'])} against "
        f"randomly mixing single models ({_f(res['zero_router']['aiq'])})."
    )
    first = _cost_sentence(res, "factored")
    out.append(first[0].upper() + first[1:] + "; " + _cost_sentence(res, "direct") + ".")
    out.append(
        f"Oracle gap: the best point on the factored curve is {_q(res, fa['max_quality'])}, the direct predictor's "
        f"{_q(res, di['max_quality'])}, the per-item oracle {_q(res, res['oracle']['quality'])} at "
        f"{_usd(res['oracle']['cost'])}: regret {_q(res, fa['regret'])} (factored) and "
        f"{_q(res, di['regret'])} (direct)."
    )
    acc = fa.get("label_accuracy") or {}
    if acc:
        heads = ", ".join(f"{h} {100 * v:.0f}%" for h, v in acc.items())
        out.append(f"Label head top-1 accuracy on the test items: {heads}.")
    if res["baselines"].get("frontier_rule"):
        fr = res["baselines"]["frontier_rule"]
        same = metrics.cost_at_quality([(p["cost"], p["quality"]) for p in fa["curve"]], fr["quality"])
        out.append(
            f"The frontier tier's mode rule ({fr['note']}) gets {_q(res, fr['quality'])} at {_usd(fr['cost'])} per "
            f"item; the factored router reaches that quality at {_usd(same)}."
        )
    return out


def _baseline_rows(res: Result) -> list[str]:
    rows = ["| baseline | cost per item | quality | strong share |", "|---|---:|---:|---:|"]
    base = res["baselines"]
    for name in ("always_strongest", "always_cheapest", "random_mix_50", "random_uniform", "oracle", "frontier_rule"):
        if name in base:
            b = base[name]
            label = f"{name} ({_short(b['model'])})" if "model" in b else name
            rows.append(f"| {label} | {_usd(b['cost'])} | {_q(res, b['quality'])} | {100 * b['strong_share']:.0f}% |")
    singles = sorted((k for k in base if k.startswith("single:")), key=lambda k: -base[k]["quality"])
    for k in singles:
        b = base[k]
        rows.append(f"| {_short(k.removeprefix('single:'))} | {_usd(b['cost'])} | {_q(res, b['quality'])} | "
                    f"{100 * b['strong_share']:.0f}% |")
    return rows


def _router_rows(res: Result) -> list[str]:
    rows = [
        "| router | APGR | CPT(50%) | CPT(80%) | AIQ | cost at 95% of best single | best quality | regret to oracle |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("factored", "direct"):
        r = res["routers"][name]
        c50, c80 = ("n/a", "n/a") if r["apgr"] is None else (_pct(r["cpt50"]), _pct(r["cpt80"]))
        rows.append(
            f"| {name} | {_f(r['apgr'])} | {c50} | {c80} | {_f(r['aiq'])} | "
            f"{_usd(r['cost_at_95pct_best'])} | {_q(res, r['max_quality'])} | {_q(res, r['regret'])} |"
        )
    z = res["zero_router"]
    rows.append(f"| zero router (mix single models) | n/a | n/a | n/a | {_f(z['aiq'])} | "
                f"{_usd(z['cost_at_95pct_best'])} | n/a | n/a |")
    return rows


def _set_section(name: str, res: Result, plots: Path) -> list[str]:
    lines = [
        f"### {res['title']} (`{name}`)",
        "",
        f"- Source: {res['source']}.",
        f"- Protocol: {res['protocol']}; {res['n_test']} test items, {len(res['models'])} models.",
        f"- Quality: {res['quality_unit']}. Cost: {res['cost_note']}.",
        f"- Frontier tier's mode rule: {res['frontier_rule_note']}.",
    ]
    lines += [f"- Note: {n}" for n in res["notes"]]
    lines += ["", f"![{name}]({(plots / f'{name}.png').as_posix()})", ""]
    lines += _router_rows(res) + [""] + _baseline_rows(res) + [""]
    lines += [f"- {s}" for s in commentary(res)] + [""]
    return lines


def _summary(results: dict[str, Result]) -> list[str]:
    rows = [
        "| set | test items | models | best single (quality, cost) | oracle | factored AIQ | direct AIQ | "
        "zero-router AIQ | cost at 95% of best: factored / direct / zero router | APGR factored / direct |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for name in SET_ORDER:
        if name not in results:
            continue
        r = results[name]
        fa, di = r["routers"]["factored"], r["routers"]["direct"]
        b = r["best_single"]
        rows.append(
            f"| {name} | {r['n_test']} | {len(r['models'])} | {_short(b['model'])} ({_q(r, b['quality'])}, "
            f"{_usd(b['cost'])}) | {_q(r, r['oracle']['quality'])} | {_f(r['aiq'])} | {_f(di['aiq'])} | "
            f"{_f(r['zero_router']['aiq'])} | {_usd(fa['cost_at_95pct_best'])} / {_usd(di['cost_at_95pct_best'])} / "
            f"{_usd(r['zero_router']['cost_at_95pct_best'])} | "
            f"{_f(fa['apgr'])} / {_f(di['apgr'])} |"
        )
    return rows


def _findings(results: dict[str, Result]) -> list[str]:
    """Where the factored router wins and loses, set by set, from the numbers."""
    wins, losses, level, vs_zero = [], [], [], []
    for name in SET_ORDER:
        if name not in results:
            continue
        r = results[name]
        fa, di = r["routers"]["factored"], r["routers"]["direct"]
        metric = "APGR" if fa["apgr"] is not None else "AIQ"
        a, b = (fa["apgr"], di["apgr"]) if metric == "APGR" else (fa["aiq"], di["aiq"])
        verdict = _versus(a, b)
        entry = f"{name} ({metric} {_f(a)} vs {_f(b)})"
        {"wins": wins, "loses": losses}.get(verdict, level).append(entry)
        vs_zero.append(f"{name} {_versus(fa['aiq'], r['zero_router']['aiq'])} ({_f(fa['aiq'])} vs "
                       f"{_f(r['zero_router']['aiq'])})")
    lines = ["## Findings", ""]
    lines.append(f"- Factored beats the direct predictor on: {', '.join(wins) or 'none'}.")
    lines.append(f"- Factored loses to the direct predictor on: {', '.join(losses) or 'none'}.")
    if level:
        lines.append(f"- Level (within 0.5%): {', '.join(level)}.")
    lines.append("- Factored AIQ against randomly mixing single models (RouterBench's zero router): "
                 + "; ".join(vs_zero) + ".")
    lodo = results.get("routellm_lodo", {}).get("runs", {})
    if lodo:
        parts = [f"{k} {_f(v['routers']['factored']['apgr'])} (direct {_f(v['routers']['direct']['apgr'])})"
                 for k, v in lodo.items()]
        lines.append("- Held out (leave one dataset out), factored APGR: " + "; ".join(parts)
                     + ". Random routing scores 0.500.")
    for name in ("mt_bench", "mmlu", "gsm8k"):
        if name not in results:
            continue
        data, router, _, _, apgr = max(ROUTELLM_PUBLISHED[name][1:], key=lambda row: row[4] or 0.0)
        held = lodo.get(name, {}).get("routers", {}).get("factored", {}).get("apgr")
        lines.append(
            f"- {name}: RouteLLM's best published APGR is {_f(apgr)} ({router}, {data}); ours (factored) is "
            f"{_f(results[name]['apgr'])} fitted in-domain"
            + (f" and {_f(held)} with the set held out" if held is not None else "") + "."
        )
    return lines + [""]


def _routellm_comparison(results: dict[str, Result]) -> list[str]:
    rows = [
        "| set | router | training data | APGR | CPT(50%) | CPT(80%) |",
        "|---|---|---|---:|---:|---:|",
    ]
    lodo = results.get("routellm_lodo", {}).get("runs", {})
    for name in ("mt_bench", "mmlu", "gsm8k"):
        if name in results:
            folds = results[name]["protocol"].split(" (")[0]
            for router in ("factored", "direct"):
                r = results[name]["routers"][router]
                rows.append(f"| {name} | ours: {router} | this set, {folds} (in-domain) | {_f(r['apgr'])} | "
                            f"{_pct(r['cpt50'])} | {_pct(r['cpt80'])} |")
        if name in lodo:
            for router in ("factored", "direct"):
                r = lodo[name]["routers"][router]
                rows.append(f"| {name} | ours: {router} | the other two RouteLLM sets (held out) | {_f(r['apgr'])} | "
                            f"{_pct(r['cpt50'])} | {_pct(r['cpt80'])} |")
        for data, router, c50, c80, apgr in ROUTELLM_PUBLISHED[name]:
            rows.append(f"| {name} | RouteLLM: {router} | {data} | {_f(apgr)} | {_pct(c50)} | {_pct(c80)} |")
    return rows


def _lodo_section(res: Result, plots: Path) -> list[str]:
    lines = ["## Leave one dataset out (RouteLLM sets)", "", res["protocol"] + ".", "",
             f"![routellm_lodo]({(plots / 'routellm_lodo.png').as_posix()})", "",
             "| held out | factored APGR | direct APGR | factored CPT(50%) | direct CPT(50%) | factored CPT(80%) | "
             "direct CPT(80%) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, run in res["runs"].items():
        fa, di = run["routers"]["factored"], run["routers"]["direct"]
        lines.append(f"| {name} | {_f(fa['apgr'])} | {_f(di['apgr'])} | {_pct(fa['cpt50'])} | {_pct(di['cpt50'])} | "
                     f"{_pct(fa['cpt80'])} | {_pct(di['cpt80'])} |")
    lines += ["", "The held-out set's own labels are never seen: the label head assigns its prompts to the "
              "training sets' labels (GSM8K, MMLU subjects, MT-Bench categories) and the table answers with "
              "those labels' accuracies. This is the setting closest to RouteLLM's, whose routers never see "
              "the evaluation set.", ""]
    return lines


def render(results: dict[str, Result], meta: dict[str, Any], plots: Path,
           extras: dict[str, Result] | None = None) -> str:
    """REPORT.md from the sets' results; `extras` holds the saved results of the checks with
    their own scripts (`efficient_agent`, `success_model_loso`), rendered as their blocks."""
    extras = extras or {}
    lines = [
        "# Routing benchmark: the factored router on public outcome data",
        "",
        f"Generated by `{meta['command']}` (training/bench/); do not edit by hand, rerun the command. "
        f"Raw results: `benchmarks/results/<set>.json`; plots: `benchmarks/results/plots/`.",
        "",
        f"Run time of the whole command: **{meta['seconds']:.0f} s** on this machine (2 shared cores, no GPU), "
        f"of which {meta['embed_seconds']:.0f} s embedding: {meta['n_embedded']:,} of {meta['n_texts']:,} texts "
        f"were not yet in the cache (`{meta['embedder']}`, the production default artefact's static embedder; "
        "vectors are cached on disk by embedder and text hash, so a rerun embeds nothing new)."
        + (" This was a `--quick` run on small subsets: its numbers are not the benchmark's." if meta["quick"] else ""),
        "",
        "Seconds per set (fitting, scoring, sweeping): "
        + ", ".join(f"{k} {v.get('seconds', 0):.0f}" for k, v in results.items()) + ".",
        "",
        "## What is measured",
        "",
        "- **factored** (production's design): a multinomial logistic head "
        f"(scikit-learn lbfgs, C={LABEL_C:g}, tol={LABEL_TOL:g}) on the prompt's static embedding predicts the "
        "set's own labels; `training.accuracy_tables.build_table` builds the accuracy table (Beta-posterior lower "
        "bounds) from the training fold's outcomes; each model's score is "
        "`table.expected_accuracy(model, table.probability_vector(label_probs))`. SWE-bench uses production's "
        "two heads (route key, difficulty) joined by `router.accuracy.joint_probs`.",
        "- **direct** (the obvious alternative): one success predictor per model on the same embedding "
        "(logistic regression, same C; ridge regression for MT-Bench's graded scores).",
        "- **irt** (the success model's shape, no label set): a Rasch model on the training fold gives each model an "
        "ability and each item a difficulty; a ridge regression predicts a test item's difficulty from its "
        "embedding; expected success = sigmoid(ability - predicted difficulty), widened by the regression's "
        "residual spread (`training/bench/irt_router.py`).",
        "- All three feed `router.efficient.select` (cost per accuracy, no previous turn) per test item. "
        "The quality bar is swept: relative bars 0-1 in steps of 0.05 plus 30 quantiles of the bars at which "
        "some choice changes, and absolute bars 0-1 in steps of 0.05. For the two-model RouteLLM sets, eleven "
        "relative bars split the items into RouteLLM's ten equal-count bins, as its `evaluate.py` does with a "
        "router's win rate.",
        "- Decision-time cost: price x token estimate where the set has no measured cost; where it has one "
        "(RouterBench, SWE-bench), the model's mean training-fold cost for the predicted label, since an item's own "
        "cost is unknown before the call. Reported cost is always the realised (or estimated) cost of the chosen "
        "model.",
        "- Baselines: each single model, always strongest, always cheapest, random mixing (expected values), "
        "the per-item oracle, the frontier tier's mode rule where it applies, and the zero router "
        "(the hull of single models, RouterBench's reference).",
        "",
        "Metric definitions: **APGR** and **CPT(x%)** exactly as RouteLLM's `routellm/evals/evaluate.py` "
        "(quality vs share of strong calls; APGR = (area - weak area) / (strong area - weak area) by the trapezoid "
        "rule over the curve's points; CPT = strong share where the curve first reaches weak + x% of the gap). "
        "**AIQ** as RouterBench (paper section 3; `evaluation/AIQ.py`): area under the non-decreasing convex hull "
        "of the cost-quality points, extended flat to the top of the range, over [cheapest, most expensive single "
        "model's mean cost], divided by that width. **Cost at 95% of best**: the lowest cost at which the hull "
        "reaches 95% of the best single model's quality (in the summary table, kept for comparison with earlier "
        "reports: it interpolates between operating points, i.e. mixes them; the gain section below reads only "
        "reachable points). **Regret**: oracle quality minus the router's best quality. "
        "Code: `training/bench/metrics.py`.",
        "",
        "## Summary",
        "",
        *_summary(results),
        "",
        *_findings(results),
        *gain_section(results, SET_ORDER),
    ]
    if any(n in results for n in ("gsm8k", "mmlu", "mt_bench")):
        lines += ["## Against RouteLLM's published routers", "", *_routellm_comparison(results), "",
                  f"Published figures: {ROUTELLM_SOURCE_NOTE}", "",
                  "Read with care: our in-set rows are fitted by cross-validation on the benchmark's own "
                  "outcomes, an in-domain advantage RouteLLM's routers do not have; the leave-one-dataset-out "
                  "rows are the fairer comparison.", ""]
    if "efficient_agent" in extras:
        lines += [*agent_section(extras["efficient_agent"]), ""]
    if "success_model_loso" in extras:
        lines += [*loso_section(extras["success_model_loso"]), ""]
    lines += ["## Per set", ""]
    plots = Path(plots)
    for name in SET_ORDER:
        if name in results:
            lines += _set_section(name, results[name], plots)
    if "routellm_lodo" in results:
        lines += _lodo_section(results["routellm_lodo"], plots)
    lines += [
        "## Caveats",
        "",
        "- Label sets are each set's own (task name, MMLU subject, MT-Bench category, RouterBench task, production "
        "route key x difficulty for SWE-bench). The factored router can only separate prompts its labels separate: "
        "GSM8K has a single label, so its factored router routes each fold's items all-or-nothing: its curve is "
        "the random line up to which fold's items go first.",
        "- Token-priced costs are estimates (characters / 4, fixed output lengths where responses are unknown); "
        "only RouterBench and SWE-bench costs are measured.",
        "- Hyperparameters (C, bar grids) are fixed, not tuned per set; both routers use the same embedding and C.",
        "- MT-Bench has 72 questions after decontamination: its APGR moves by several points with one question.",
        "- SWE-bench's 'strongest' and oracle figures come from single runs of each agent; per-task outcomes are "
        "noisy, so part of the oracle's headroom is luck, not routable signal.",
        "",
    ]
    return "\n".join(lines)
