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
from training.evaluate import evaluate, measure_latency, plot_confusion, sample_request
from training.export import copy_artefact, git_commit, write_artefact
from training.fit import HeadTrainer, featurise
from training.learning_curve import learning_curve, verdict, write_learning_curve
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
    data_root: Path | None = None
    taxonomy_path: Path | None = None
    strict: bool = True
    export: Path | None = None
    promote: bool = True
    track: bool = True
    curve: bool = True
    latency_n: int = 1000
    bare_views: bool = True
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


def _labels(examples: list[Any], attr: str, labels: list[str]) -> np.ndarray:
    return np.array([labels.index(getattr(e, attr)) for e in examples], dtype=np.int64)


def _uncalibrated(heads: Heads) -> Heads:
    return Heads(
        LinearHead(heads.route.weight, heads.route.bias, heads.route.labels),
        LinearHead(heads.difficulty.weight, heads.difficulty.bias, heads.difficulty.labels),
    )


def _write_reports(folder: Path, report: dict[str, Any], clf: Classifier, taxonomy: Taxonomy, extra: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {k: report[k] for k in ("metrics", "per_source", "per_class")} | extra
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
    out = {f"val_{k}": float(v) for k, v in report["metrics"].items()}
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
    ds = build_dataset(taxonomy, cfg.labels_dir, cfg.data_root, cfg.strict, cfg.subset)
    train_rows = with_bare_views(ds.train) if cfg.bare_views else ds.train
    val_rows = ds.val
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
    heads = trainer.fit(x_tr, y_route, y_diff, routes, diffs)
    clf = Classifier(embedder, heads, cfg.featuriser, taxonomy)
    report = evaluate(clf, val_rows, x_val)
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
            "dataset_sha256": ds.sha256,
            "taxonomy_sha256": taxonomy.sha256,
            "git_commit": git_commit(),
            "rows_by_method": json.dumps(ds.stats["by_method"]),
            **trainer.params(),
            "synthetic_bare_views": cfg.bare_views,
            **{f"features_{k}": v for k, v in cfg.featuriser.config().items()},
        }
        tags = {
            "dataset_sha256": ds.sha256,
            "git_commit": git_commit(),
            "embedder": embedder.name,
            "run_name": f"{embedder.name}-{stamp}",
        }
        result.tracking = log_training(params, metrics, tags, artefact_dir, report_dir, val_rows, promote=cfg.promote)
    if cfg.export is not None:
        copy_artefact(artefact_dir, Path(cfg.export))
    result.seconds = time.perf_counter() - t0
    return result
