"""A read-only view of which models can take traffic right now.

Adapters own the live state (cooldowns after 429s, models a provider withdrew) and hand
`route()` a snapshot taken at one instant, so the core never reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ModelState(StrEnum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"
    COOLING_DOWN = "cooling_down"


@dataclass(frozen=True, slots=True)
class ModelStatus:
    state: ModelState = ModelState.AVAILABLE
    until: float | None = None  # for COOLING_DOWN: epoch seconds when the model is back


@dataclass(frozen=True, slots=True)
class Availability:
    """Model statuses as of `now` (epoch seconds). Models not listed are available."""

    statuses: Mapping[str, ModelStatus] = field(default_factory=dict)
    now: float = 0.0

    def is_available(self, model_id: str) -> bool:
        status = self.statuses.get(model_id)
        if status is None or status.state is ModelState.AVAILABLE:
            return True
        if status.state is ModelState.COOLING_DOWN:
            return status.until is not None and status.until <= self.now
        return False

    def describe(self, model_id: str) -> str:
        status = self.statuses.get(model_id)
        if status is None or self.is_available(model_id):
            return "available"
        if status.state is ModelState.COOLING_DOWN:
            return f"cooling down for {status.until - self.now:.0f}s"  # type: ignore[operator]
        return "unavailable"


EVERYTHING_AVAILABLE = Availability()
