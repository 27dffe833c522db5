"""The promotion gate: a new model takes alias `champion` only when it scores better.

The score is the mean of task-type, route-key and difficulty accuracy on the validation
split; both models are scored on the same (current) split. Ties keep the champion.
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
