"""What decided a request, as the ledger keeps it beside the usage row.

The dashboard, the savings figures and retraining all read this one record: the tier and
the rule that picked the model (`mode`, `api`, `balance`, `affinity`, `efficient`, or
`catalog` for a plain model id), and for the efficient tier the classification, the
winner's expected success and estimated cost, and what the frontier tier would have cost
for the same request (so that savings can be shown without guessing afterwards).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from router.config import RouterConfig
from router.contract import RoutingDecision, RoutingRequest
from router.core import RouterState, route
from router.errors import AutotierError
from router.strategies import call_cost
from router.tiers import EfficientTier, RuleTier, StickyTier

FRONTIER = "kilo-auto/frontier"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    decided_by: str
    route_key: str | None = None
    difficulty: str | None = None
    confidence: float | None = None
    expected_success: float | None = None
    estimated_cost_usd: float | None = None
    frontier_cost_usd: float | None = None


def _rule(config: RouterConfig, tier_name: str | None) -> str:
    tier = config.tiers.tiers.get(tier_name) if tier_name else None
    if isinstance(tier, RuleTier):
        return tier.by
    if isinstance(tier, StickyTier):
        return "affinity"
    if isinstance(tier, EfficientTier):
        return "efficient"
    return "catalog"


def decision_record(decision: RoutingDecision, routing: RoutingRequest, config: RouterConfig) -> DecisionRecord:
    """The record of `decision`; for the efficient tier also the frontier tier's estimated
    cost for the same request (one more pure `route()` call, microseconds)."""
    rule = _rule(config, decision.tier)
    details: dict[str, Any] = decision.details or {}
    if rule != "efficient" or not details.get("candidates"):
        return DecisionRecord(rule)
    classification = details.get("classification") or {}
    winner = details["candidates"][0]
    tokens = details.get("estimated_tokens") or {}
    prompt, output = int(tokens.get("prompt") or 0), int(tokens.get("output") or 0)
    frontier_cost = None
    try:
        frontier = route(dataclasses.replace(routing, requested_model=FRONTIER, classification=None),
                         RouterState(config))
    except AutotierError:
        frontier = None
    if frontier is not None and frontier.model in config.catalog:
        cached = int(tokens.get("cached_prompt") or 0) if frontier.model == routing.previous_model else 0
        frontier_cost = call_cost(config.catalog[frontier.model], prompt, output, cached)
    confidence = classification.get("confidence")
    return DecisionRecord(
        rule, classification.get("route_key"), classification.get("difficulty"),
        float(confidence) if confidence is not None else None,
        float(winner["expected_accuracy"]), float(winner["cost_usd"]), frontier_cost,
    )
