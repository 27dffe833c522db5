"""`autotier train`: build the data set, fit and evaluate the heads, export, track in MLflow.

autotier train [--embedder static|minilm-int8|PATH] [--subset N] [--no-promote]
               [--export PATH] [--baseline PATH|default|none] [--no-shapes]
               [--no-curve] [--no-track] [--lenient]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.artefact import DEFAULT_ARTEFACT
from training.dataset import DEFAULT_LABELS_DIR


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="autotier train",
        description="Train the request classifier (route key + difficulty heads) and track "
        "the run in MLflow (MLFLOW_TRACKING_URI, default sqlite:///mlflow.db in the repo).",
    )
    ap.add_argument("--embedder", default="static", help="static (default), minilm-int8, or an embedder folder")
    ap.add_argument(
        "--subset", type=int, default=None, metavar="N", help="use about N labelled rows (stratified, deterministic)"
    )
    ap.add_argument("--no-promote", action="store_true", help="register the model but never move alias 'champion'")
    ap.add_argument(
        "--export",
        type=Path,
        default=None,
        metavar="PATH",
        help="also copy the artefact here (e.g. classifier/artefacts/default)",
    )
    ap.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the run's artefact and report go (default .cache/runs/<time>)",
    )
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS_DIR, help="label folder")
    ap.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="raw data root (default: AUTOTIER_DATA_ROOT, ../shared/data, data/raw)",
    )
    ap.add_argument(
        "--baseline",
        default="default",
        metavar="PATH|default|none",
        help="the artefact to beat while the registry has no champion (default: the shipped "
        "classifier/artefacts/default; none: the first model is promoted)",
    )
    ap.add_argument("--no-shapes", action="store_true", help="train and validate on plain prompts only")
    ap.add_argument("--no-curve", action="store_true", help="skip the learning curve")
    ap.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    ap.add_argument("--lenient", action="store_true", help="skip invalid label rows (listed) instead of failing")
    ap.add_argument("--class-weight", choices=("none", "balanced"), default="none")
    ap.add_argument("--folds", type=int, default=4, help="cross-validation folds (default 4)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def _print_summary(res) -> None:  # type: ignore[no-untyped-def]
    m = res.report["metrics"]
    ds = res.dataset
    print(
        f"data set {ds.sha256[:12]}: {len(ds.train)} train / {len(ds.val)} validation rows "
        f"({ds.stats['by_method']}, {ds.stats['duplicates_removed']} duplicates removed)"
    )
    print(f"{'axis':<12}{'accuracy':>10}{'macro-F1':>10}{'ECE':>8}")
    for axis in ("task_type", "route_key", "difficulty"):
        print(f"{axis:<12}{m[axis + '_accuracy']:>10.3f}{m[axis + '_macro_f1']:>10.3f}{m[axis + '_ece']:>8.3f}")
    print("per source (validation): n  task_type  route_key  difficulty")
    for src, s in res.report["per_source"].items():
        print(
            f"  {src:<14}{s['n']:>5}{s['task_type_accuracy']:>10.3f}{s['route_key_accuracy']:>11.3f}"
            f"{s['difficulty_accuracy']:>11.3f}"
        )
    if res.report.get("per_shape"):
        print("per shape (validation rows wrapped as the Kilo CLI sends them): task_type  route_key  difficulty")
        for name, s in {**res.report["per_shape"], "all shapes (gate)": res.report["shaped"]}.items():
            print(
                f"  {name:<18}{s['task_type_accuracy']:>10.3f}{s['route_key_accuracy']:>11.3f}"
                f"{s['difficulty_accuracy']:>11.3f}"
            )
    lat = res.metrics
    print(
        f"decision latency (1,000 chars, predict): p50 {lat['latency_p50_ms']:.3f} ms, "
        f"p99 {lat['latency_p99_ms']:.3f} ms"
    )
    if res.curve:
        from training.learning_curve import verdict

        print(
            "learning curve: "
            + ", ".join(f"{p['n_train']}: {p['route_key_accuracy']:.3f}" for p in res.curve)
            + " (route-key accuracy)"
        )
        print(f"  verdict: {verdict(res.curve)}")
    print(f"artefact: {res.artefact_dir}\nreport:   {res.report_dir}")
    if res.tracking is not None:
        t = res.tracking
        print(f"mlflow: run {t.run_id} at {t.uri}; registered autotier-classifier v{t.version}")
        held = " (not applied: --no-promote)" if t.verdict.promote and not t.promoted else ""
        print(f"gate ({t.champion_note}): {t.verdict.reason}{held}")
        print(f"browse: mlflow ui --backend-store-uri {t.uri}")
    if res.exported is not None:
        print(f"exported: {res.exported}")
    elif res.export_note:
        print(res.export_note)
    print(f"done in {res.seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from training.dataset import DatasetError
    from training.fit import HeadTrainer
    from training.pipeline import TrainConfig, train

    baseline = {"default": DEFAULT_ARTEFACT, "none": None}.get(args.baseline, Path(args.baseline))
    cfg = TrainConfig(
        embedder=args.embedder,
        subset=args.subset,
        labels_dir=args.labels,
        data_root=args.data_root,
        strict=not args.lenient,
        export=args.export,
        promote=not args.no_promote,
        track=not args.no_track,
        curve=not args.no_curve,
        run_dir=args.output_dir,
        trainer=HeadTrainer(class_weight=None if args.class_weight == "none" else "balanced", folds=args.folds),
        progress=not args.quiet,
        shaped=not args.no_shapes,
        baseline=baseline,
    )
    try:
        res = train(cfg)
    except DatasetError as exc:
        print(f"autotier train: {exc}\n(use --lenient to skip invalid rows)", file=sys.stderr)
        return 2
    except Exception as exc:
        code = getattr(exc, "code", None)
        if code is None:
            raise
        print(f"autotier train: {code}: {exc}", file=sys.stderr)
        return 2
    _print_summary(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
