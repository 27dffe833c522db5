import json

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


def _shadow_report(success_champion, success_candidate, candidate="0123456789abcdef0123456789abcdef", n=50,
                   by_champion=None):
    overall = {"champion_expected_success": success_champion, "candidate_expected_success": success_candidate}
    if by_champion is not None:
        overall |= {"candidate_expected_success_by_champion": by_champion,
                    "success_delta_by_champion": by_champion - success_champion}
    return {"candidate": {"spec": candidate, "classifier": f"runs:/{candidate}/classifier", "run_id": candidate},
            "n": n, "overall": overall}


RUN = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("report", "candidate", "passes", "says"),
    [
        (None, RUN, False, "no shadow report"),
        (_shadow_report(0.80, 0.80, candidate="other"), RUN, False, "not " + RUN),
        (_shadow_report(0.80, 0.795), RUN, True, "drop 0.0050 <= 0.01"),
        (_shadow_report(0.80, 0.85), RUN, True, "drop 0.0000"),  # a rise passes
        (_shadow_report(0.80, 0.78), RUN, False, "a drop of 0.0200 > 0.01"),
        (_shadow_report(0.80, 0.80), f"runs:/{RUN}/classifier", True, "shadow:"),  # named by its URI
        (_shadow_report(None, None, n=0), RUN, False, "no requests replayed"),
        # The candidate's own table vouching for its picks does not count: the champion's evidence decides.
        (_shadow_report(0.80, 0.90, by_champion=0.70), RUN, False, "a drop of 0.1000 > 0.01"),
        (_shadow_report(0.80, 0.70, by_champion=0.80), RUN, True, "by the champion's evidence"),
    ],
)
def test_shadow_requirement(report, candidate, passes, says):
    from training.promotion import shadow_verdict

    v = shadow_verdict(report, candidate, max_success_drop=0.01)
    assert v.promote is passes and says in v.reason


def test_a_failed_shadow_requirement_keeps_the_champion():
    from training.promotion import shadow_verdict, with_shadow

    better = promotion_verdict(_m(0.05), M)
    assert with_shadow(better, None) == better
    held = with_shadow(better, shadow_verdict(_shadow_report(0.8, 0.7), RUN))
    assert not held.promote and held.reason.startswith("keep champion: shadow:")
    passed = with_shadow(better, shadow_verdict(_shadow_report(0.8, 0.8), RUN))
    assert passed.promote and "shadow:" in passed.reason
    assert not with_shadow(promotion_verdict(M, M), shadow_verdict(_shadow_report(0.8, 0.8), RUN)).promote


def test_promote_run_moves_the_alias_only_with_a_passing_shadow_report(tmp_path, monkeypatch, capsys):
    import mlflow

    from classifier.artefact import DEFAULT_ARTEFACT, REGISTERED_MODEL
    from training.cli import main
    from training.tracking import setup

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = setup(uri)
    client.create_registered_model(REGISTERED_MODEL)
    runs = []
    monkeypatch.setenv("AUTOTIER_CACHE_DIR", str(tmp_path / "cache"))
    for delta in (0.0, 0.05):
        with mlflow.start_run() as run:
            mlflow.log_metrics({f"val_{k}": v for k, v in _m(delta).items()})
            mlflow.log_artifacts(str(DEFAULT_ARTEFACT), artifact_path="classifier")
        client.create_model_version(REGISTERED_MODEL, source=str(tmp_path), run_id=run.info.run_id)
        runs.append(run.info.run_id)
    client.set_registered_model_alias(REGISTERED_MODEL, "champion", "1")

    report = tmp_path / "shadow.json"
    report.write_text(json.dumps(_shadow_report(0.80, 0.75, candidate=runs[1])))
    args = ["--promote-run", runs[1], "--require-shadow", str(report)]
    assert main(args) == 1
    assert "a drop of 0.0500" in capsys.readouterr().out
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version) == "1"

    assert main([*args, "--max-success-drop", "0.1", "--export", str(tmp_path / "shipped")]) == 0
    assert "now champion" in capsys.readouterr().out
    assert (tmp_path / "shipped" / "manifest.json").is_file()
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version) == "2"
    assert main(["--promote-run", "f" * 32]) == 2
    assert "not_registered" in capsys.readouterr().err
