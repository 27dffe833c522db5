"""The promotion gate: a new model takes alias `champion` only when it scores better.

The score is the mean of task-type, route-key and difficulty accuracy on the validation
split; both models are scored on the same (current) split. Ties keep the champion.
Optionally (`autotier train --promote-run RUN --require-shadow REPORT.json`) a shadow report
for the candidate must exist and show no larger drop in expected success than allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GATE_METRICS = ("task_type_accuracy", "route_key_accuracy", "difficulty_accuracy")


def gate_score(metrics: dict[str, Any]) -> float:
    missing = [m for m in GATE_METRICS if m not in metrics]
    if missing:
        raise KeyError(f"metrics lack {missing} needed by the promotion gate")
    return sum(float(metrics[m]) for m in GATE_METRICS) / len(GATE_METRICS)


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    new_score: float
    champion_score: float | None


def promotion_verdict(new: dict[str, Any], champion: dict[str, Any] | None, min_delta: float = 0.0) -> Verdict:
    """Promote when there is no champion or the new score beats it by more than min_delta."""
    new_score = gate_score(new)
    if champion is None:
        return Verdict(True, f"no champion yet; new score {new_score:.4f}", new_score, None)
    old = gate_score(champion)
    detail = ", ".join(f"{m} {float(new[m]):.4f} vs {float(champion[m]):.4f}" for m in GATE_METRICS)
    if new_score > old + min_delta:
        return Verdict(True, f"promote: score {new_score:.4f} > champion {old:.4f} ({detail})", new_score, old)
    return Verdict(False, f"keep champion: score {new_score:.4f} <= champion {old:.4f} ({detail})", new_score, old)


def _report_names(report: dict[str, Any]) -> set[str]:
    """Every way a shadow report names its candidate (spec, classifier URI, run id)."""
    cand = report.get("candidate") or {}
    names = {str(cand[k]) for k in ("spec", "classifier", "run_id") if cand.get(k)}
    names |= {n.split("/")[1] for n in list(names) if n.startswith("runs:/") and n.count("/") >= 2}
    return names


def shadow_verdict(report: dict[str, Any] | None, candidate: str, max_success_drop: float = 0.01) -> Verdict:
    """The optional shadow requirement: a shadow report (`autotier shadow --json`) exists
    for `candidate` (its run id, URI or path as the report names it) and the candidate's
    mean expected success (under the champion's table and classifier where the report gives
    it) is at most `max_success_drop` below the champion's."""
    if report is None:
        return Verdict(False, f"no shadow report for {candidate}: run `autotier shadow --candidate {candidate} "
                       "--json REPORT.json` first", float("nan"), None)
    if candidate not in _report_names(report):
        return Verdict(False, f"the shadow report is for {sorted(_report_names(report))}, not {candidate}",
                       float("nan"), None)
    overall = report.get("overall") or {}
    # The candidate's choices scored with the champion's evidence when the report has it (a
    # candidate table cannot then vouch for its own picks); older reports: its own figure.
    new, evidence = overall.get("candidate_expected_success_by_champion"), " (by the champion's evidence)"
    if new is None:
        new, evidence = overall.get("candidate_expected_success"), ""
    old = overall.get("champion_expected_success")
    if new is None or old is None or not report.get("n"):
        return Verdict(False, "the shadow report has no expected success to compare (no requests replayed)",
                       float("nan"), None)
    drop = float(old) - float(new)
    detail = (f"expected success {float(new):.4f}{evidence} vs champion {float(old):.4f} on {report['n']} "
              "replayed requests")
    if drop > max_success_drop:
        return Verdict(False, f"shadow: {detail}, a drop of {drop:.4f} > {max_success_drop:g}", float(new), float(old))
    reason = f"shadow: {detail} (drop {max(drop, 0.0):.4f} <= {max_success_drop:g})"
    return Verdict(True, reason, float(new), float(old))


def with_shadow(verdict: Verdict, shadow: Verdict | None) -> Verdict:
    """`verdict` held back by a failed shadow requirement (None: not required)."""
    if shadow is None:
        return verdict
    if not shadow.promote:
        return Verdict(False, f"keep champion: {shadow.reason} ({verdict.reason})", verdict.new_score,
                       verdict.champion_score)
    return Verdict(verdict.promote, f"{verdict.reason}; {shadow.reason}", verdict.new_score, verdict.champion_score)
