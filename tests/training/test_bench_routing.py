"""`autotier bench routing --quick` end to end on small subsets of the public outcome sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main as autotier
from tests.training.conftest import needs_data
from training.bench.cli import main as bench

KEYS = {
    "dataset", "protocol", "n_test", "models", "baselines", "curve", "apgr", "cpt50", "cpt80", "aiq",
    "oracle", "best_single", "cost_at_95pct_best",
}


def _run(tmp_path: Path, sets: str | None) -> dict[str, dict]:
    out = tmp_path / "results"
    report = tmp_path / "REPORT.md"
    argv = ["bench", "routing", "--quick", "--out", str(out), "--report", str(report)]
    if sets:
        argv += ["--sets", sets]
    assert autotier(argv) == 0
    assert report.is_file()
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


@needs_data
def test_quick_run_writes_results_plots_and_report(tmp_path: Path) -> None:
    results = _run(tmp_path, "mt_bench,llmrouter,swebench")
    assert set(results) == {"mt_bench", "llmrouter", "swebench"}
    for name, res in results.items():
        assert set(res) >= KEYS, name
        assert (tmp_path / "results" / "plots" / f"{name}.png").stat().st_size > 10_000
        assert res["curve"] and {"bar", "cost", "quality", "strong_share"} <= set(res["curve"][0])
        assert res["oracle"]["quality"] >= res["best_single"]["quality"]
        assert 0 < res["aiq"] <= res["oracle"]["quality"] * (10 if name == "mt_bench" else 1)
        assert {"factored", "direct", "irt"} == set(res["routers"])
        gain = res["gain_at_95pct_best"]
        assert set(gain) >= {"no_routing_cost", "routing_cost", "gain", "ci95", "share_unreached"}
        if gain["routing_cost"] is not None:  # a reachable point: one of the router's own curve points
            assert min(abs(gain["routing_cost"] - p["cost"]) for p in res["curve"]) < 1e-9
    # Two-model set: RouteLLM's metrics; many-model sets: null, as documented.
    assert results["mt_bench"]["apgr"] is not None and 0 <= results["mt_bench"]["cpt50"] <= 100
    assert results["llmrouter"]["apgr"] is None
    assert "official split" in results["llmrouter"]["protocol"]
    assert "repository" in results["swebench"]["protocol"]
    assert "frontier_rule" in results["swebench"]["baselines"]
    text = (tmp_path / "REPORT.md").read_text()
    assert "--quick" in text and "Run time of the whole command" in text
    assert "plots/swebench.png" in text
    assert "Does per-request routing beat no routing?" in text


@needs_data
@pytest.mark.slow
def test_quick_run_of_every_set(tmp_path: Path) -> None:
    results = _run(tmp_path, None)
    assert {"gsm8k", "mmlu", "mt_bench", "routellm_lodo", "llmrouter", "routerbench", "swebench"} == set(results)
    assert set(results["routellm_lodo"]["runs"]) == {"gsm8k", "mmlu", "mt_bench"}


def test_unknown_set_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench(["routing", "--sets", "nope"]) == 2
    assert "unknown set" in capsys.readouterr().err


def test_routellm_bars_reproduce_routellm_bins_through_select() -> None:
    """With the eleven relative bars, select() routes exactly as RouteLLM's evaluate.py does
    with thresholds at the deciles of a win-rate score (here: minus the weak/strong ratio)."""
    import numpy as np

    from training.bench.evaluate import routellm_bars
    from training.bench.routers import sweep

    rng = np.random.default_rng(1)
    acc = np.column_stack([rng.uniform(0.6, 0.9, 200), rng.uniform(0.3, 0.6, 200)])  # strong, weak
    cost = np.tile([1.0, 0.1], (200, 1))
    choices = sweep(acc, cost, ["strong", "weak"], routellm_bars(acc, 0, 1))
    ours = sorted(float((c == 0).mean()) for c in choices)
    score = -(acc[:, 1] / acc[:, 0])
    thresholds = np.quantile(score, np.linspace(0, 1, 11))
    theirs = sorted(
        float((score >= t).mean() if i < len(thresholds) - 1 else (score > t).mean()) for i, t in enumerate(thresholds)
    )
    assert ours == pytest.approx(theirs)
