"""Efficient selection: the cheapest candidate whose expected accuracy meets the quality
bar, with stickiness to the previous turn's model. Pure arithmetic on numbers the caller
supplies (expected accuracy from an accuracy table, cost from catalog prices), so the
gateway, the LiteLLM plug-in and the offline benchmarks all share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

BarKind = Literal["absolute", "relative", "margin"]
Selection = Literal["cost_per_accuracy", "best_accuracy"]


@dataclass(frozen=True, slots=True)
class Scored:
    """One candidate: expected accuracy (conservative) and estimated cost in US dollars."""

    model: str
    accuracy: float
    cost: float


@dataclass(frozen=True, slots=True)
class Choice:
    winner: Scored
    fallbacks: tuple[Scored, ...]  # the other candidates, most accurate first
    threshold: float  # the expected accuracy a candidate needed
    best: Scored  # the most accurate candidate
    runner_up: Scored | None  # what would have served next (the first fallback)
    why: str  # one sentence for the reason trace


def threshold(scored: Sequence[Scored], kind: BarKind, value: float) -> float:
    """`absolute`: the bar itself; `relative`: that fraction of the best expected accuracy;
    `margin`: the best expected accuracy less `value` (a fixed gap in success probability,
    which under the success model is small on easy work and opens on hard work)."""
    if kind == "absolute":
        return value
    if kind == "margin":
        return max(s.accuracy for s in scored) - value
    return value * max(s.accuracy for s in scored)


def _by_accuracy(scored: Sequence[Scored]) -> list[Scored]:
    """Most accurate first; cheaper first among equals; then by id for a stable order."""
    return sorted(scored, key=lambda s: (-s.accuracy, s.cost, s.model))


def fresh_pick(scored: Sequence[Scored], bar: float, selection: Selection) -> Scored:
    """`cost_per_accuracy`: the cheapest candidate at or above the bar (more accurate
    first among equal costs); when none reaches it, the most accurate. `best_accuracy`:
    the most accurate candidate."""
    ranked = _by_accuracy(scored)
    if selection == "best_accuracy":
        return ranked[0]
    adequate = [s for s in ranked if s.accuracy >= bar]
    if not adequate:
        return ranked[0]
    return min(adequate, key=lambda s: (s.cost, -s.accuracy, s.model))


def _fmt(s: Scored) -> str:
    return f"{s.model} (expected accuracy {s.accuracy:.3f}, ~${s.cost:.5f})"


def select(
    scored: Sequence[Scored],
    bar_kind: BarKind,
    bar_value: float,
    selection: Selection = "cost_per_accuracy",
    previous: str | None = None,
    switch_cost_factor: float = 1.5,
) -> Choice:
    """Choose among `scored` (non-empty). When `previous` (the model that served the
    session's previous turn) is a candidate and still meets the bar, it is kept unless the
    fresh pick is cheaper by more than `switch_cost_factor` (a switch throws away the
    provider's prompt cache)."""
    if not scored:
        raise ValueError("select() needs at least one candidate")
    bar = threshold(scored, bar_kind, bar_value)
    ranked = _by_accuracy(scored)
    pick = fresh_pick(scored, bar, selection)
    if pick.accuracy >= bar:
        why = f"{'most accurate' if selection == 'best_accuracy' else 'cheapest'} candidate meeting the bar"
    else:
        why = "no candidate meets the bar: most accurate"
    by_id = {s.model: s for s in scored}
    prev = by_id.get(previous) if previous else None
    if previous and prev is None:
        why += f"; previous model {previous} is not a usable candidate now"
    elif prev is not None and prev.model != pick.model:
        if prev.accuracy < bar:
            why += f"; switched from {prev.model}: below the bar ({prev.accuracy:.3f} < {bar:.3f})"
        elif pick.cost * switch_cost_factor < prev.cost:
            ratio = prev.cost / pick.cost if pick.cost else float("inf")
            why += (
                f"; switched from {prev.model}: {pick.model} is {ratio:.1f}x cheaper "
                f"(more than the switch-cost factor {switch_cost_factor:g})"
            )
        else:
            why = (
                f"kept {prev.model} from the previous turn: it meets the bar and {pick.model} "
                f"is not cheaper by more than {switch_cost_factor:g}x"
            )
            pick = prev
    elif prev is not None:
        why += "; same model as the previous turn"
    fallbacks = tuple(s for s in ranked if s.model != pick.model)
    return Choice(
        winner=pick, fallbacks=fallbacks, threshold=bar, best=ranked[0],
        runner_up=fallbacks[0] if fallbacks else None, why=why,
    )


def describe(choice: Choice) -> str:
    """The trace line: winner, bar, runner-up."""
    runner = f"; runner-up {_fmt(choice.runner_up)}" if choice.runner_up else ""
    return f"{_fmt(choice.winner)}: {choice.why}; bar {choice.threshold:.3f}{runner}"
