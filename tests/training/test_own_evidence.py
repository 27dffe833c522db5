"""The operator's own evidence (own-suite outcomes, feedback) moves a model's ability."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from training.own_evidence import Observation, read_own_suite, update_ability, updated_abilities

CELLS = ["refactoring/code_cleanup|low", "debugging/bug_fixing|high"]
DIFFICULTY = {CELLS[0]: -2.0, CELLS[1]: 1.5}


def test_no_outcomes_leave_the_prior() -> None:
    assert update_ability(0.7, 0.4, np.zeros(0), np.zeros(0), np.zeros(0)) == pytest.approx((0.7, 0.4))


def test_failures_lower_and_successes_raise_the_ability() -> None:
    b = np.full(20, -2.0)
    down, sd_down = update_ability(1.0, 1.0, b, np.zeros(20), np.ones(20))
    up, sd_up = update_ability(1.0, 1.0, b, np.ones(20), np.ones(20))
    assert down < 1.0 < up
    assert sd_down < 1.0 and sd_up < 1.0  # evidence narrows the spread


def test_a_well_measured_model_moves_less_and_a_half_weight_moves_less() -> None:
    b, y = np.full(30, 0.0), np.zeros(30)
    loose = update_ability(1.0, 1.5, b, y, np.ones(30))[0]
    tight = update_ability(1.0, 0.1, b, y, np.ones(30))[0]
    half = update_ability(1.0, 1.5, b, y, np.full(30, 0.5))[0]
    assert loose < half < 1.0
    assert loose < tight < 1.0
    assert 1.0 - tight < 0.3


def test_the_same_shift_applies_on_every_source_and_the_summary_counts_by_level() -> None:
    obs = [Observation(CELLS[0], 0.0, 1.0, "own_suite")] * 6 + [Observation(CELLS[1], 1.0, 0.5, "feedback")] * 2
    moved, summary = updated_abilities([(0.5, 0.5), (1.0, 0.8)], 0, obs, DIFFICULTY)
    shift = moved[0][0] - 0.5
    assert shift < 0
    assert moved[1][0] - 1.0 == pytest.approx(shift)
    assert moved[1][1] / 0.8 == pytest.approx(moved[0][1] / 0.5)
    assert summary["own_suite"]["low"]["n"] == 6 and summary["own_suite"]["low"]["observed"] == 0.0
    assert summary["feedback"]["high"] == pytest.approx({
        "n": 2, "weight": 1.0, "observed": 1.0, "expected_before": summary["feedback"]["high"]["expected_before"],
        "expected_after": summary["feedback"]["high"]["expected_after"]})
    low = summary["own_suite"]["low"]
    assert low["expected_after"] < low["expected_before"]


def test_outcome_files_latest_per_case_torn_lines_and_unknown_models(tmp_path) -> None:
    def line(case: str, passed: bool, model: str = "x/model", cell: tuple[str, str] = ("refactoring/code_cleanup", "low")
             ) -> str:
        return json.dumps({"case": case, "passed": passed, "model": model, "route_key": cell[0],
                           "difficulty": cell[1]}) + "\n"

    (tmp_path / "x__model.jsonl").write_text(
        line("a", False) + line("b", True) + line("a", True) + line("c", True, cell=("nope/none", "low"))
        + '{"case": "d", "pass', encoding="utf-8")
    (tmp_path / "other.jsonl").write_text(line("a", True, model="not/catalog"), encoding="utf-8")
    own = read_own_suite(tmp_path, ["x/model"], CELLS)
    assert [(o.cell, o.y) for o in own.by_model["x/model"]] == [(CELLS[0], 1.0), (CELLS[0], 1.0)]
    assert "not/catalog" not in own.by_model
    assert len(own.files) == 2
    assert any("'x/model'" in n and "1 outcome" in n for n in own.notes)


def _ledger_with_feedback(path, signals):
    """A real ledger with one usage row per (account, route key, signals) item."""
    from router.gateway.accounts import Ledger, UsageRow
    from router.gateway.decision_record import DecisionRecord
    from router.gateway.feedback import put_signal

    ledger = Ledger(path)
    for account, route_key, given in signals:
        record = DecisionRecord("efficient", route_key, "low" if route_key else None)
        row = UsageRow(account, "chat", "efficient", "kilo-auto/efficient", "x/model", (), 10, 5, 0.0, 1.0, 200,
                       decision=record)
        usage_id = ledger.record(row)
        for signal, origin, success in given:
            ledger.run(lambda tx, s=signal, o=origin, y=success, u=usage_id, a=account:
                       put_signal(tx, u, a, "x/model", s, "v", o, y))
    ledger.close()


def test_feedback_counts_a_request_once_explicit_first_and_caps_each_account(tmp_path) -> None:
    from training.own_evidence import read_feedback

    cleanup = "refactoring/code_cleanup"
    down = [("rating", "explicit", 0.0)]
    signals = [(1, cleanup, down)] * 100 + [(2, cleanup, down)] * 5
    # Explicit wins over the implicit retry on the same request; a row without a route key is not used.
    signals += [(3, cleanup, [("retried", "implicit", 0.0), ("rating", "explicit", 1.0)]), (3, None, down)]
    _ledger_with_feedback(tmp_path / "l.db", signals)
    own = read_feedback(str(tmp_path / "l.db"), ["x/model"], CELLS, weight=0.5, per_account=20)
    obs = own.by_model["x/model"]
    assert len(obs) == 106
    weights = Counter(round(o.weight, 6) for o in obs)
    assert weights == {0.1: 100, 0.5: 6}  # account 1: 20 requests' worth shared by its 100
    assert sum(o.y for o in obs) == 1.0
    assert any("account 1 on x/model (100 requests)" in n for n in own.notes)
    assert any("1 not used" in n for n in own.notes)


def test_feedback_from_fewer_accounts_than_the_minimum_is_not_used(tmp_path) -> None:
    from training.own_evidence import read_feedback

    _ledger_with_feedback(tmp_path / "l.db", [(a, "refactoring/code_cleanup", [("rating", "explicit", 0.0)])
                                              for a in (1, 2, 2, None)])
    assert len(read_feedback(str(tmp_path / "l.db"), ["x/model"], CELLS, 0.5).by_model["x/model"]) == 4
    few = read_feedback(str(tmp_path / "l.db"), ["x/model"], CELLS, 0.5, min_accounts=4)
    assert few.by_model == {} and any("x/model (3 account(s))" in n for n in few.notes)


def test_feedback_moves_an_ability_at_most_the_max_shift_beyond_the_suites_update() -> None:
    suite = [Observation(CELLS[0], 1.0, 1.0, "own_suite")] * 10
    flood = [Observation(CELLS[0], 0.0, 1.0, "feedback")] * 200
    alone = updated_abilities([(0.5, 0.5)], 0, suite, DIFFICULTY)[0][0][0]
    free = updated_abilities([(0.5, 0.5)], 0, suite + flood, DIFFICULTY)[0][0][0]
    moved, summary = updated_abilities([(0.5, 0.5)], 0, suite + flood, DIFFICULTY, max_feedback_shift=1.0)
    assert free < alone - 1.0
    assert moved[0][0] == pytest.approx(alone - 1.0)
    assert summary["feedback_shift_clamped"][1] == pytest.approx(-1.0)
