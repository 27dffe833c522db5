"""`autotier train` end to end into a fresh SQLite MLflow store, and the promotion gate."""

from __future__ import annotations

import json

import pytest

from classifier.artefact import REGISTERED_MODEL

pytestmark = pytest.mark.usefixtures("data_root")


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AUTOTIER_CACHE_DIR", str(tmp_path / "cache"))
    return uri


def test_train_registers_and_gate_refuses_a_worse_model(tmp_path, store, capsys):
    from mlflow import MlflowClient

    from classifier import load
    from training.cli import main
    from training.fit import HeadTrainer
    from training.pipeline import TrainConfig, train

    out = tmp_path / "run1"
    export = tmp_path / "exported"
    code = main(
        ["--subset", "300", "--quiet", "--lenient", "--output-dir", str(out), "--export", str(export), "--folds", "2",
         "--baseline", "none"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "registered autotier-classifier v1" in printed
    assert "no champion yet" in printed and "learning curve" in printed

    client = MlflowClient(store)
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
    assert str(champion.version) == "1"
    run = client.get_run(champion.run_id)
    assert len(run.data.params["dataset_sha256"]) == 64
    assert "git_commit" in run.data.params
    assert 0 < run.data.metrics["val_route_key_accuracy"] <= 1
    assert "val_route_key_ece" in run.data.metrics and "latency_p99_ms" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert {
        "report/confusion_task_type.png",
        "report/evaluation.json",
        "report/learning_curve.png",
        "report/learning_curve.json",
    } <= logged
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["embedder"]["name"] and manifest["dataset_sha256"]

    clf = load(f"models:/{REGISTERED_MODEL}@champion")
    assert clf.predict({"prompt": "fix the failing test in utils.py"}).route_key
    assert load(export).predict({"prompt": "hello"}).difficulty in ("low", "medium", "high")

    # A model with (almost) no signal: heavy regularisation, no CV, no calibration.
    worse = TrainConfig(
        subset=300,
        strict=False,
        curve=False,
        progress=False,
        latency_n=20,
        run_dir=tmp_path / "run2",
        trainer=HeadTrainer(cs=(1e-6,), calibrate=False, progress=False),
    )
    res = train(worse)
    assert res.tracking.version == "2"
    assert not res.tracking.verdict.promote, res.tracking.verdict.reason
    assert "re-scored on this split" in res.tracking.champion_note
    assert str(client.get_model_version_by_alias(REGISTERED_MODEL, "champion").version) == "1"


@pytest.mark.slow
def test_no_promote_leaves_alias_alone(tmp_path, store):
    from mlflow import MlflowClient

    from training.cli import main

    assert (
        main(
            [
                "--subset",
                "200",
                "--quiet",
                "--lenient",
                "--no-curve",
                "--no-promote",
                "--folds",
                "2",
                "--output-dir",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    client = MlflowClient(store)
    versions = client.search_model_versions(f"name='{REGISTERED_MODEL}'")
    assert len(versions) == 1
    with pytest.raises(Exception):  # noqa: B017 - MLflow raises its own RestException
        client.get_model_version_by_alias(REGISTERED_MODEL, "champion")
