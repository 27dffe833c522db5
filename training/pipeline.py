"""`autotier train` end to end: data set -> embeddings -> CV + fit -> evaluation -> artefact
-> MLflow (register, gate, promote)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifier.artefact import DEFAULT_ARTEFACT, EMBEDDER_DIR
from classifier.features import Featuriser
from classifier.heads import Heads, LinearHead
from classifier.model import Classifier, Embedder
from classifier.taxonomy import Taxonomy, load_taxonomy
from training.dataset import DEFAULT_LABELS_DIR, Dataset, build_dataset, with_bare_views
from training.embedding_cache import DEFAULT_CACHE_DIR, EmbeddingCache
from training.evaluate import evaluate, evaluate_shapes, measure_latency, plot_confusion, sample_request
from training.export import copy_artefact, git_commit, write_artefact
from training.fit import HeadTrainer, featurise
from training.learning_curve import learning_curve, verdict, write_learning_curve
from training.shaped_data import prompt_pool, training_views, validation_sets
from training.sources import REPO_ROOT

EMBEDDER_NAMES = ("static", "minilm-int8")


def resolve_embedder(name: str) -> Embedder:
    """`static` (the shipped distilled model), `minilm-int8` (built into .cache on first
    use), or a path to an embedder folder."""
    from classifier.embedders import load_embedder

    if name == "static":
        return load_embedder(DEFAULT_ARTEFACT / EMBEDDER_DIR)
    if name == "minilm-int8":
        from training.export_onnx import ensure_onnx_embedder

        return load_embedder(ensure_onnx_embedder())
    return load_embedder(Path(name))


@dataclass
class TrainConfig:
    embedder: str = "static"
    subset: int | None = None
    labels_dir: Path = DEFAULT_LABELS_DIR
    review: Path | None = None  # ledger review file (default labels_dir/ledger_review.jsonl if present)
    data_root: Path | None = None
    taxonomy_path: Path | None = None
    strict: bool = True
    export: Path | None = None
    promote: bool = True
    track: bool = True
    curve: bool = True
    latency_n: int = 1000
    bare_views: bool = True
    shaped: bool = True  # train and validate on rows wrapped in the captured CLI shapes too
    baseline: Path | None = DEFAULT_ARTEFACT  # the model to beat while the registry has no champion
    run_dir: Path | None = None
    cache_dir: Path | None = DEFAULT_CACHE_DIR
    trainer: HeadTrainer = field(default_factory=HeadTrainer)
    featuriser: Featuriser = field(default_factory=Featuriser)
    progress: bool = True


@dataclass
class TrainResult:
    dataset: Dataset
    classifier: Classifier
    metrics: dict[str, float]
    report: dict[str, Any]
    artefact_dir: Path
    report_dir: Path
    curve: list[dict[str, float]]
    tracking: Any = None
    seconds: float = 0.0
    exported: Path | None = None
    export_note: str = ""


def _labels(examples: list[Any], attr: str, labels: list[str]) -> np.ndarray:
    return np.array([labels.index(getattr(e, attr)) for e in examples], dtype=np.int64)


def _uncalibrated(heads: Heads) -> Heads:
    return Heads(
        LinearHead(heads.route.weight, heads.route.bias, heads.route.labels),
        LinearHead(heads.difficulty.weight, heads.difficulty.bias, heads.difficulty.labels),
    )


def _write_reports(folder: Path, report: dict[str, Any], clf: Classifier, taxonomy: Taxonomy, extra: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {k: report[k] for k in ("metrics", "per_source", "per_class", "per_shape", "shaped") if k in report} | extra
    (folder / "evaluation.json").write_text(json.dumps(body, indent=2) + "\n")
    truth, pred = report["truth"], report["pred"]
    plot_confusion(
        truth["task_type"],
        pred["task_type"],
        taxonomy.task_type_names,
        folder / "confusion_task_type.png",
        "Task type (validation)",
    )
    plot_confusion(
        truth["route_key"],
        pred["route_key"],
        taxonomy.route_keys,
        folder / "confusion_route_key.png",
        "Route key (validation)",
    )
    plot_confusion(
        truth["difficulty"],
        pred["difficulty"],
        taxonomy.difficulty_names,
        folder / "confusion_difficulty.png",
        "Difficulty (validation)",
    )


def flat_metrics(
    report: dict[str, Any], cv: dict[str, Any], latency: dict[str, float], uncal: dict[str, Any]
) -> dict[str, float]:
    """MLflow metrics: `val_*` plain validation, `val_shaped_*` all shapes pooled (the gate's
    set), `val_shape_<name>_*` per shape, `val_source_*`, CV, calibration and latency."""
    out = {f"val_{k}": float(v) for k, v in report["metrics"].items()}
    for k, v in (report.get("shaped") or {}).items():
        out[f"val_shaped_{k}"] = float(v)
    for name, m in (report.get("per_shape") or {}).items():
        for k in ("task_type_accuracy", "route_key_accuracy", "difficulty_accuracy"):
            out[f"val_shape_{name.replace('+', '_')}_{k}"] = float(m[k])
    for src, m in report["per_source"].items():
        for k, v in m.items():
            out[f"val_source_{src}_{k}"] = float(v)
    for k in ("route_key_ece", "difficulty_ece", "task_type_ece"):
        out[f"val_uncalibrated_{k}"] = float(uncal[k])
    for head, rep in cv.items():
        out[f"cv_{head}_accuracy"] = max(rep.cv_accuracy.values())
        out[f"cv_{head}_best_c"] = rep.best_c
        out[f"{head}_temperature"] = rep.temperature
    out.update({f"latency_{k}": float(v) for k, v in latency.items() if k.endswith("_ms")})
    return out


def train(cfg: TrainConfig) -> TrainResult:
    """Run the pipeline; raises DatasetError for bad labels, ExportError for a refused export."""
    t0 = time.perf_counter()
    taxonomy = load_taxonomy(cfg.taxonomy_path)
    ds = build_dataset(taxonomy, cfg.labels_dir, cfg.data_root, cfg.strict, cfg.subset, cfg.review)
    train_rows = with_bare_views(ds.train) if cfg.bare_views else ds.train
    val_rows = ds.val
    val_sets = {"plain": val_rows}
    if cfg.shaped:
        train_rows = training_views(train_rows)
        val_sets = validation_sets(val_rows, prompt_pool(ds.train))
    if not train_rows or not val_rows:
        raise ValueError(f"need training and validation rows, got {len(train_rows)} / {len(val_rows)}")
    embedder = resolve_embedder(cfg.embedder)
    cache = EmbeddingCache(embedder, cfg.cache_dir)
    x_tr = featurise(train_rows, cfg.featuriser, cache, cfg.progress)
    x_val = featurise(val_rows, cfg.featuriser, cache, cfg.progress)
    routes, diffs = taxonomy.route_keys, taxonomy.difficulty_names
    y_route, y_diff = _labels(train_rows, "route_key", routes), _labels(train_rows, "difficulty", diffs)
    trainer = cfg.trainer
    trainer.progress = cfg.progress
    groups = np.array([e.key.split("#", 1)[0] for e in train_rows])  # a row and its wrapped copies
    heads = trainer.fit(x_tr, y_route, y_diff, routes, diffs, groups)
    clf = Classifier(embedder, heads, cfg.featuriser, taxonomy)
    report = evaluate(clf, val_rows, x_val)
    gate_rows = val_rows
    if len(val_sets) > 1:
        report["per_shape"], report["shaped"], gate_rows = evaluate_shapes(clf, val_sets)
    uncal = evaluate(Classifier(embedder, _uncalibrated(heads), cfg.featuriser, taxonomy), val_rows, x_val)["metrics"]
    latency = measure_latency(clf, sample_request(1000), cfg.latency_n)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = cfg.run_dir or REPO_ROOT / ".cache" / "runs" / f"{stamp}-{embedder.name}"
    report_dir = run_dir / "report"
    points: list[dict[str, float]] = []
    if cfg.curve:

        def score(h: Heads, x: np.ndarray) -> dict[str, Any]:
            return evaluate(Classifier(embedder, h, cfg.featuriser, taxonomy), val_rows, x)["metrics"]

        c_route = trainer.reports["route"].best_c if "route" in trainer.reports else trainer.cs[0]
        c_diff = trainer.reports["difficulty"].best_c if "difficulty" in trainer.reports else trainer.cs[0]
        points = learning_curve(
            x_tr,
            y_route,
            y_diff,
            x_val,
            score,
            routes,
            diffs,
            c_route,
            c_diff,
            trainer.class_weight,
            progress=cfg.progress,
        )
        write_learning_curve(points, report_dir)
    metrics = flat_metrics(report, trainer.reports, latency, uncal)
    extra = {
        "dataset": ds.stats,
        "latency": latency,
        "learning_curve_verdict": verdict(points) if points else None,
        "warnings": ds.warnings[:200],
    }
    _write_reports(report_dir, report, clf, taxonomy, extra)
    manifest_extra = {
        "dataset_sha256": ds.sha256,
        "n_train": len(train_rows),
        "n_val": len(val_rows),
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("val_source_")},
        "per_source": report["per_source"],
        "per_shape": report.get("per_shape", {}),
        "trainer": trainer.params(),
    }
    artefact_dir = write_artefact(run_dir / "artefact", heads, cfg.featuriser, taxonomy, embedder, manifest_extra)
    result = TrainResult(ds, clf, metrics, report, artefact_dir, report_dir, points)
    if cfg.track:
        from training.tracking import log_training

        params = {
            "embedder": embedder.name,
            "embedder_dim": embedder.dim,
            "subset": cfg.subset,
            "n_train": len(train_rows),
            "n_val": len(val_rows),
            "n_ledger_rows": ds.stats["ledger_rows"],
            "dataset_sha256": ds.sha256,
            "taxonomy_sha256": taxonomy.sha256,
            "git_commit": git_commit(),
            "rows_by_method": json.dumps(ds.stats["by_method"]),
            **trainer.params(),
            "synthetic_bare_views": cfg.bare_views,
            "shaped_views": cfg.shaped,
            **{f"features_{k}": v for k, v in cfg.featuriser.config().items()},
        }
        tags = {
            "dataset_sha256": ds.sha256,
            "git_commit": git_commit(),
            "embedder": embedder.name,
            "run_name": f"{embedder.name}-{stamp}",
        }
        result.tracking = log_training(
            params, metrics, tags, artefact_dir, report_dir, gate_rows, promote=cfg.promote, baseline=cfg.baseline
        )
    if cfg.export is not None:
        # The exported (shipped) artefact is the champion: only a model the gate promoted
        # replaces it. Without tracking there is no gate and the export is the caller's call.
        if result.tracking is None or result.tracking.promoted:
            result.exported = copy_artefact(artefact_dir, Path(cfg.export))
        else:
            result.export_note = f"not exported to {cfg.export}: the gate kept the champion"
    result.seconds = time.perf_counter() - t0
    return result
