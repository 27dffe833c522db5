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


def test_the_gate_reads_the_shaped_validation_scores_when_a_run_has_them():
    from training.tracking import metrics_for_gate

    logged = {"val_route_key_accuracy": 0.9, "val_shaped_route_key_accuracy": 0.7, "latency_p99_ms": 0.5}
    assert metrics_for_gate(logged) == {"route_key_accuracy": 0.7}
    assert metrics_for_gate({"val_route_key_accuracy": 0.9}) == {"route_key_accuracy": 0.9}


def test_without_a_registered_champion_the_shipped_artefact_is_the_one_to_beat():
    from classifier.artefact import DEFAULT_ARTEFACT
    from training.dataset import Example
    from training.shapes import wrap
    from training.tracking import champion_metrics

    class NoChampion:
        def get_model_version_by_alias(self, *args):
            raise LookupError("no alias")

    rows = [Example("codechat", str(i), wrap(text, shape), key, "low", "hand", "hand", "x:1")
            for i, (text, key, shape) in enumerate([
                ("Fix the KeyError in load_config", "debugging/bug_fixing", "chat_loop"),
                ("What is a closure in Python?", "investigation/external_research", "plain"),
                ("Write a function that reverses a string", "implementation/code_generation", "messages_first")])]
    scores, note = champion_metrics(NoChampion(), rows, DEFAULT_ARTEFACT)
    assert scores is not None and scores["n"] == 3 and 0 <= scores["route_key_accuracy"] <= 1
    assert "no registered champion" in note
    assert champion_metrics(NoChampion(), rows, None) == (None, "no champion")
