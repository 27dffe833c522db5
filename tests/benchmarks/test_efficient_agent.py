"""benchmarks/efficient_agent.py: the product check's arithmetic on hand-made decisions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "efficient_agent.py"


@pytest.fixture(scope="module")
def ea():
    spec = importlib.util.spec_from_file_location("efficient_agent", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rec(level: str, eff_model: str, eff_cost: float, fr_cost: float, cell: dict[str, float]) -> dict:
    return {"difficulty": level, "predicted": level, "efficient": {"model": eff_model, "cost": eff_cost},
            "frontier": {"model": "f", "cost": fr_cost}, "labelled_cell": cell, "expected": cell}


def test_summary_ratios_and_the_within_share(ea):
    cell_easy = {"cheap": 0.95, "strong": 0.97}
    cell_hard = {"cheap": 0.50, "strong": 0.70, "mid": 0.68}
    recs = [
        _rec("low", "cheap", 1.0, 10.0, cell_easy),
        _rec("low", "cheap", 3.0, 10.0, cell_easy),
        _rec("high", "strong", 8.0, 10.0, cell_hard),  # best: within
        _rec("high", "mid", 6.0, 10.0, cell_hard),  # 0.02 below: within 0.03
        _rec("high", "cheap", 2.0, 10.0, cell_hard),  # 0.20 below: not within
    ]
    s = ea.summarise(recs)
    assert s["low"]["cost_ratio_vs_frontier"] == pytest.approx(2.0 / 10.0)
    assert s["high"]["cost_ratio_vs_frontier"] == pytest.approx((16.0 / 3) / 10.0)
    assert s["high"]["within_0_03_of_best_at_labelled_cell"] == pytest.approx(2 / 3)
    assert s["low_over_high_efficient_cost"] == pytest.approx(2.0 / (16.0 / 3))
    assert ea._brief(s) == {"low_vs_frontier": pytest.approx(0.2), "low_over_high": pytest.approx(0.375),
                            "high_within": pytest.approx(2 / 3)}


def test_latest_user_text_of_each_request_form(ea):
    assert ea.latest_user_text({"prompt": "hi"}) == "hi"
    msgs = {"messages": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "x"},
                         {"role": "user", "content": [{"type": "text", "text": "second"}]}]}
    assert ea.latest_user_text(msgs) == "second"
