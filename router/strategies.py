"""Tier strategies: each turns a request into an ordered candidate list (first choice,
then fallbacks) plus parameters, writing every rule it applies to the trace.

Adding a strategy is one small class with `candidates()` and an entry in `STRATEGIES`.
The filters shared by every tier (modality, availability, context window) run afterwards
in `router.core`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from router.config import RouterConfig
from router.contract import RoutingRequest
from router.tiers import EfficientTier, RuleTier, StickyTier, TierParams


@dataclass(frozen=True, slots=True)
class Proposal:
    candidates: tuple[str, ...]
    params: TierParams


class Strategy(Protocol):
    def propose(
        self, name: str, tier: Any, request: RoutingRequest, config: RouterConfig, trace: list[str]
    ) -> Proposal: ...


def normalise_mode(mode: str | None) -> str | None:
    return mode.strip().lower() or None if mode else None


class RuleStrategy:
    """Pick one of the tier's routes by mode, API kind or account balance."""

    def propose(
        self, name: str, tier: RuleTier, request: RoutingRequest, config: RouterConfig, trace: list[str]
    ) -> Proposal:
        if tier.by == "mode":
            key = normalise_mode(request.mode)
            shown = f"mode {key!r}" if key else "no mode header"
        elif tier.by == "api":
            key = request.api_kind.value
            shown = f"API {key!r}"
        else:
            key = "paid" if request.account.has_paid_balance else "free"
            shown = "account with paid balance" if key == "paid" else "no paid balance"
        route_name = tier.keys.get(key, tier.default_route) if key else tier.default_route
        route = tier.routes[route_name]
        how = "" if key in tier.keys else " (default)"
        trace.append(f"{name}: {shown} -> route {route_name!r}{how} -> {route.model}")
        return Proposal((route.model, *route.fallbacks), tier.params.merged(route.params))


def rendezvous_score(key: str, model_id: str, weight: float) -> float:
    """Weighted highest-random-weight score: -weight / ln(u), u uniform in (0, 1) from a
    stable hash of (key, model). The same key always ranks models the same way, and
    removing a model only moves the keys that ranked it first."""
    digest = hashlib.blake2b(f"{key}\x00{model_id}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 0.5) / 2**64
    return -weight / math.log(u)


def affinity_key(request: RoutingRequest) -> tuple[str, str]:
    """(what the key is, its value): task/session id, else user id, else client IP."""
    for kind, value in (
        ("session", request.session_id),
        ("user", request.user_id),
        ("client IP", request.client_ip),
    ):
        if value:
            return kind, value
    return "anonymous", ""


class StickyStrategy:
    """Rank weighted candidates by rendezvous hash of the session's affinity key."""

    def propose(
        self, name: str, tier: StickyTier, request: RoutingRequest, config: RouterConfig, trace: list[str]
    ) -> Proposal:
        kind, key = affinity_key(request)
        ranked = sorted(
            tier.candidates, key=lambda c: rendezvous_score(key, c.model, c.weight), reverse=True
        )
        trace.append(f"{name}: affinity by {kind} -> ranking {', '.join(c.model for c in ranked)}")
        if tier.last_resort:
            trace.append(f"{name}: last resort after the ranking: {', '.join(tier.last_resort)}")
        models = tuple(c.model for c in ranked) + tier.last_resort
        return Proposal(models, tier.params)


class EfficientStrategy:
    """Stand-in until accuracy-table selection lands: resolve like `stand_in_tier`."""

    def propose(
        self, name: str, tier: EfficientTier, request: RoutingRequest, config: RouterConfig, trace: list[str]
    ) -> Proposal:
        stand_in = tier.stand_in_tier
        trace.append(
            f"{name}: accuracy-table selection is not available yet; resolved as {stand_in!r}"
        )
        target = config.tiers.tiers[stand_in]
        return STRATEGIES[target.strategy].propose(stand_in, target, request, config, trace)


STRATEGIES: dict[str, Strategy] = {
    "rules": RuleStrategy(),
    "sticky": StickyStrategy(),
    "efficient": EfficientStrategy(),
}


def dedupe(models: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(models))

