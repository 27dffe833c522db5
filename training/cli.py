"""`autotier train`: build the data set, fit and evaluate the heads, export, track in MLflow.

autotier train [--embedder static|minilm-int8|PATH] [--subset N] [--no-promote]
               [--export PATH] [--baseline PATH|default|none] [--no-shapes]
               [--no-curve] [--no-track] [--lenient]
               [--from-ledger DB_OR_URL] [--review PATH] [--review-only]
autotier train --promote-run RUN_ID [--require-shadow REPORT.json] [--max-success-drop X]
               [--export PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.artefact import DEFAULT_ARTEFACT
from training.dataset import DEFAULT_LABELS_DIR
from training.from_ledger import REVIEW_FILE


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
    led = ap.add_argument_group("reviewed gateway traffic (training/from_ledger.py)")
    led.add_argument("--from-ledger", metavar="DB_OR_URL", help="append the ledger's captures to the review file "
                     "(SQLite file or postgresql:// URL); its reviewed rows are trained on")
    led.add_argument("--review", type=Path, default=None, metavar="PATH",
                     help=f"the review file (default LABELS/{REVIEW_FILE}, read whenever it exists)")
    led.add_argument("--review-only", action="store_true", help="update the review file, do not train")
    gate = ap.add_argument_group("promote a registered run instead of training")
    gate.add_argument("--promote-run", metavar="RUN_ID", help="apply the gate to this run's registered version")
    gate.add_argument("--require-shadow", type=Path, metavar="REPORT.json",
                      help="also require this `autotier shadow --json` report for the run")
    gate.add_argument("--max-success-drop", type=float, default=0.01, metavar="X",
                      help="largest drop in mean expected success the shadow report may show (default 0.01)")
    return ap


def _coded_failure(exc: Exception) -> int:
    """Exit status 2 for an error that carries a `code` (said on stderr); others propagate."""
    code = getattr(exc, "code", None)
    if code is None:
        raise exc
    print(f"autotier train: {code}: {exc}", file=sys.stderr)
    return 2


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
    if ds.stats.get("ledger_rows"):
        print(f"ledger: {ds.stats['ledger_rows']} reviewed row(s) trained on (training only, never validation)")
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


def _promote_run(args: argparse.Namespace) -> int:
    import json

    from training.promotion import shadow_verdict
    from training.tracking import promote_run

    shadow = None
    if args.require_shadow is not None:
        try:
            report = json.loads(args.require_shadow.read_text(encoding="utf-8"))
        except FileNotFoundError:
            report = None
        except (OSError, json.JSONDecodeError) as exc:
            print(f"autotier train: shadow_report_invalid: {args.require_shadow}: {exc}", file=sys.stderr)
            return 2
        shadow = shadow_verdict(report, args.promote_run, args.max_success_drop)
    try:
        outcome = promote_run(args.promote_run, shadow)
    except Exception as exc:
        return _coded_failure(exc)
    print(f"gate ({outcome.champion_note}): {outcome.verdict.reason}")
    print(f"version {outcome.version}: {'now champion' if outcome.promoted else 'not promoted'}")
    if outcome.promoted and args.export is not None:
        from classifier.artefact import download_model_uri
        from training.export import copy_artefact

        print(f"exported: {copy_artefact(download_model_uri(f'runs:/{args.promote_run}/classifier'), args.export)}")
    return 0 if outcome.promoted else 1


def _sync_review(args: argparse.Namespace, review: Path) -> int | None:
    """Update the review file from the ledger (--from-ledger) and say how many rows await
    review; an exit code when training must not go on."""
    from training.dataset import DatasetError
    from training.from_ledger import LedgerReadError, read_captures, review_status, sync_review

    try:
        summary = sync_review(read_captures(args.from_ledger), review) if args.from_ledger else review_status(review)
    except LedgerReadError as exc:
        print(f"autotier train: {exc.code}: {exc}", file=sys.stderr)
        return 2
    except DatasetError as exc:
        print(f"autotier train: {review}: {exc}\n(fix the lines named; nothing was written)", file=sys.stderr)
        return 2
    if args.from_ledger:
        print(summary.describe())
    elif summary.unreviewed:
        print(f"ledger review file {review}: {summary.unreviewed} row(s) await review")
    return 0 if args.review_only else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.promote_run:
        return _promote_run(args)
    if args.require_shadow is not None:
        print("autotier train: --require-shadow applies to --promote-run RUN_ID (a run already shadowed)",
              file=sys.stderr)
        return 2
    review = args.review or args.labels / REVIEW_FILE
    if args.review is not None and not args.from_ledger and not review.exists():
        print(f"autotier train: no review file at {review} (create it with --from-ledger DB_OR_URL)", file=sys.stderr)
        return 2
    if args.review_only and not args.from_ledger:
        print("autotier train: --review-only needs --from-ledger DB_OR_URL", file=sys.stderr)
        return 2
    if args.from_ledger or review.exists():
        code = _sync_review(args, review)
        if code is not None:
            return code
    from training.dataset import DatasetError
    from training.fit import HeadTrainer
    from training.pipeline import TrainConfig, train

    baseline = {"default": DEFAULT_ARTEFACT, "none": None}.get(args.baseline, Path(args.baseline))
    cfg = TrainConfig(
        embedder=args.embedder,
        subset=args.subset,
        labels_dir=args.labels,
        review=review,
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
        return _coded_failure(exc)
    _print_summary(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
