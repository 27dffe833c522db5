import pytest

from training.promotion import gate_score, promotion_verdict

M = {"task_type_accuracy": 0.8, "route_key_accuracy": 0.7, "difficulty_accuracy": 0.6}


def _m(delta):
    return {k: v + delta for k, v in M.items()}


@pytest.mark.parametrize(
    ("new", "champion", "promote"),
    [
        (M, None, True),  # first model
        (_m(0.01), M, True),  # better
        (M, M, False),  # a tie keeps the champion
        (_m(-0.01), M, False),  # worse
        ({**M, "route_key_accuracy": 0.9, "difficulty_accuracy": 0.3}, M, False),  # mean lower
    ],
)
def test_gate(new, champion, promote):
    v = promotion_verdict(new, champion)
    assert v.promote is promote
    assert ("promote" if promote else "keep champion") in v.reason or champion is None


def test_gate_score_needs_all_metrics():
    assert gate_score(M) == pytest.approx(0.7)
    with pytest.raises(KeyError, match="route_key_accuracy"):
        gate_score({"task_type_accuracy": 1.0, "difficulty_accuracy": 1.0})
