"""`autotier shadow` output: the printed table and the MLflow run (training/shadow.py builds
the report)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

EXPERIMENT = "autotier-shadow"


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:.6f}"


def _share(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _signed(v: float | None) -> str:
    return "-" if v is None else f"{v:+.4f}"


def format_report(report: dict[str, Any]) -> str:
    cand = report["candidate"]
    skipped = ", ".join(f"{why}: {n}" for why, n in report["skipped"].items()) or "none"
    lines = [f"shadow: candidate classifier {cand['classifier']}, tables {cand['tables']} vs the champion; "
             f"{report['n']} request(s) replayed (skipped: {skipped})",
             f"{'':<44}{'n':>6}{'changed':>9}{'cost champ':>13}{'cost cand':>13}{'succ champ':>12}{'succ cand':>11}"
             f"{'cand@champ':>12}"]
    groups = [("all", report["overall"])] + [(f"tier {t}", s) for t, s in report["per_tier"].items()]
    groups += [(f"  {k}", s) for k, s in report["per_route_key"].items()]
    for name, s in groups:
        lines.append(f"{name[:43]:<44}{s['n']:>6}{s['changed_share']:>8.1%} {_money(s['champion_cost_usd']):>12} "
                     f"{_money(s['candidate_cost_usd']):>12} {_share(s['champion_expected_success']):>11} "
                     f"{_share(s['candidate_expected_success']):>10} "
                     f"{_share(s.get('candidate_expected_success_by_champion')):>11}")
    o = report["overall"]
    lines.append(f"deltas (candidate - champion): cost {_money(o['cost_delta_usd'])} per request, "
                 f"expected success {_signed(o['success_delta'])} (candidate's evidence), "
                 f"{_signed(o.get('success_delta_by_champion'))} (champion's evidence)")
    if o["moves"]:
        lines.append("top model moves (champion -> candidate):")
        lines += [f"  {m['from']} -> {m['to']}: {m['n']}" for m in o["moves"]]
    return "\n".join(lines)


def log_report(report: dict[str, Any], json_path: Path | None, uri: str | None = None) -> str:
    """One MLflow run in experiment `autotier-shadow`; returns its id."""
    import mlflow

    from training.tracking import artifact_location, setup, tracking_uri

    uri = uri or tracking_uri()
    client = setup(uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=artifact_location(uri))
    mlflow.set_experiment(EXPERIMENT)
    o = report["overall"]
    cand = report["candidate"]
    with mlflow.start_run(run_name=f"shadow-{report['generated']}") as run:
        mlflow.log_params({"candidate": str(cand["spec"])[:500], "tables": str(cand["tables"])[:500],
                           "n": report["n"]})
        names = ("changed_share", "cost_delta_usd", "success_delta", "champion_cost_usd", "candidate_cost_usd",
                 "champion_expected_success", "candidate_expected_success",
                 "candidate_expected_success_by_champion", "success_delta_by_champion")
        mlflow.log_metrics({k: float(o[k]) for k in names if o.get(k) is not None})
        if cand.get("run_id"):
            mlflow.set_tag("candidate_run_id", cand["run_id"])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / (json_path.name if json_path else "shadow.json")
            path.write_text(json.dumps(report, indent=2) + "\n")
            mlflow.log_artifact(str(path))
    return run.info.run_id
