"""MLflow: log a training run, register the artefact, apply the promotion gate.

Tracking URI: `MLFLOW_TRACKING_URI`, else `sqlite:///<repo>/mlflow.db`. A SQLite store keeps
its artefacts in `mlruns/` beside the database file. MLflow is imported here only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.artefact import REGISTERED_MODEL
from training.dataset import Example
from training.promotion import Verdict, promotion_verdict
from training.sources import REPO_ROOT

EXPERIMENT = "autotier-classifier"
ALIAS = "champion"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def artifact_location(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).resolve().parent / "mlruns").as_uri()
    return None


def setup(uri: str | None = None) -> Any:
    """Point MLflow at the store, create the experiment if needed; returns a client."""
    import logging

    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = uri or tracking_uri()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=artifact_location(uri))
    mlflow.set_experiment(EXPERIMENT)
    return client


def _champion_version(client: Any) -> Any | None:
    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL, ALIAS)
    except Exception:  # no registered model or no alias yet
        return None


def champion_metrics(
    client: Any, val: list[Example], baseline: Path | None = None
) -> tuple[dict[str, Any] | None, str]:
    """The champion's scores on *this* validation split (falls back to its logged ones).

    With no champion in the registry, `baseline` (an artefact folder, e.g. the shipped
    default) is the model to beat; None: the first model wins.
    """
    mv = _champion_version(client)
    if mv is None:
        return _baseline_metrics(val, baseline) if baseline is not None else (None, "no champion")
    try:
        from classifier import load
        from training.evaluate import evaluate

        clf = load(f"models:/{REGISTERED_MODEL}@{ALIAS}")
        return evaluate(clf, val)["metrics"], f"version {mv.version} re-scored on this split"
    except Exception as exc:  # champion not loadable here: use what it logged
        run = client.get_run(mv.run_id)
        logged = metrics_for_gate(dict(run.data.metrics))
        return logged or None, f"version {mv.version} logged scores ({exc.__class__.__name__})"


def _baseline_metrics(val: list[Example], baseline: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        from classifier import load
        from training.evaluate import evaluate

        scores = evaluate(load(baseline), val)["metrics"]
        return scores, f"no registered champion: artefact {baseline} re-scored on this split"
    except Exception as exc:  # baseline not loadable: the first model wins
        return None, f"no champion ({exc.__class__.__name__} loading {baseline})"


@dataclass(frozen=True)
class TrackingOutcome:
    run_id: str
    version: str
    verdict: Verdict
    champion_note: str
    uri: str
    promoted: bool


def log_training(
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artefact_dir: Path,
    report_dir: Path,
    val: list[Example],
    promote: bool = True,
    uri: str | None = None,
    baseline: Path | None = None,
) -> TrackingOutcome:
    """Log one run, register its artefact as a new version, move the alias if it wins.

    `val`: the rows both models are scored on (the shaped validation set); `baseline`:
    the artefact to beat while the registry has no champion (see champion_metrics).
    """
    import mlflow

    uri = uri or tracking_uri()
    client = setup(uri)
    champion, note = champion_metrics(client, val, baseline)
    verdict = promotion_verdict(metrics_for_gate(metrics), champion)
    with mlflow.start_run(run_name=tags.get("run_name")) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.set_tags({**tags, "gate_verdict": verdict.reason, "champion_compared": note})
        mlflow.log_artifacts(str(report_dir), artifact_path="report")
        mlflow.log_artifacts(str(artefact_dir), artifact_path="classifier")
        source = mlflow.get_artifact_uri("classifier")
        do_promote = promote and verdict.promote
        mlflow.log_metric("promoted", float(do_promote))
    with contextlib.suppress(Exception):  # already registered
        client.create_registered_model(REGISTERED_MODEL)
    mv = client.create_model_version(
        REGISTERED_MODEL, source=source, run_id=run.info.run_id, tags={"dataset_sha256": tags.get("dataset_sha256", "")}
    )
    if do_promote:
        client.set_registered_model_alias(REGISTERED_MODEL, ALIAS, mv.version)
    return TrackingOutcome(run.info.run_id, str(mv.version), verdict, note, uri, do_promote)


def metrics_for_gate(metrics: dict[str, float]) -> dict[str, float]:
    """The scores the gate compares: the shaped validation set's when the run has one."""
    prefix = "val_shaped_" if any(k.startswith("val_shaped_") for k in metrics) else "val_"
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}


class PromotionError(Exception):
    """The run to promote is not a registered classifier version."""

    code = "not_registered"


def promote_run(run_id: str, shadow: Verdict | None = None, uri: str | None = None) -> TrackingOutcome:
    """Apply the gate to an already registered run (`autotier train --no-promote`, then
    `autotier shadow`) and move alias `champion` to its version if it passes. Scores are
    the ones each run logged (on its own validation split); `shadow` is the optional
    shadow requirement's verdict (training.promotion.shadow_verdict)."""
    from training.promotion import with_shadow

    uri = uri or tracking_uri()
    client = setup(uri)
    found = [v for v in client.search_model_versions(f"name='{REGISTERED_MODEL}'") if v.run_id == run_id]
    if not found:
        raise PromotionError(f"run {run_id} has no registered {REGISTERED_MODEL} version at {uri}")
    mv = max(found, key=lambda v: int(v.version))
    champion = _champion_version(client)
    if champion is not None and str(champion.version) == str(mv.version):
        verdict = Verdict(False, f"version {mv.version} already is the champion", float("nan"), None)
        return TrackingOutcome(run_id, str(mv.version), verdict, "already champion", uri, False)
    new = metrics_for_gate(dict(client.get_run(run_id).data.metrics))
    old = metrics_for_gate(dict(client.get_run(champion.run_id).data.metrics)) if champion is not None else None
    note = f"version {champion.version} logged scores" if champion is not None else "no champion"
    verdict = with_shadow(promotion_verdict(new, old or None), shadow)
    if verdict.promote:
        client.set_registered_model_alias(REGISTERED_MODEL, ALIAS, mv.version)
    return TrackingOutcome(run_id, str(mv.version), verdict, note, uri, verdict.promote)
