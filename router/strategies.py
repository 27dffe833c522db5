"""Tier strategies: each turns a request into an ordered candidate list (first choice,
then fallbacks) plus parameters, writing every rule it applies to the trace.

Adding a strategy is one small class with `propose()` and an entry in `STRATEGIES`.
The filters shared by every tier (modality, availability, context window) run afterwards
in `router.core`; the efficient strategy applies them first too, since it must only
weigh models that can serve.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from router.catalog import Model
from router.config import RouterConfig
from router.contract import RoutingRequest
from router.efficient import Scored, describe, select
from router.filters import RouterState, filter_candidates
from router.tiers import EfficientTier, RuleTier, StickyTier, TierParams


@dataclass(frozen=True, slots=True)
class Proposal:
    candidates: tuple[str, ...]
    params: TierParams
    details: dict[str, Any] = field(default_factory=dict)


class Strategy(Protocol):
    def propose(
        self, name: str, tier: Any, request: RoutingRequest, state: RouterState, trace: list[str]
    ) -> Proposal: ...


def normalise_mode(mode: str | None) -> str | None:
    return mode.strip().lower() or None if mode else None


class RuleStrategy:
    """Pick one of the tier's routes by mode, API kind or account balance."""

    def propose(
        self, name: str, tier: RuleTier, request: RoutingRequest, state: RouterState, trace: list[str]
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
        self, name: str, tier: StickyTier, request: RoutingRequest, state: RouterState, trace: list[str]
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


def _field(prediction: Any, name: str) -> Any:
    """A prediction's field, whether it is the classifier's object or a plain mapping."""
    return prediction.get(name) if isinstance(prediction, dict) else getattr(prediction, name, None)


@dataclass(frozen=True, slots=True)
class Scoring:
    """Every usable candidate's expected accuracy and cost for one request; `difficulty`
    is the request's place on the success model's ability scale (None without one)."""

    scored: tuple[Scored, ...]
    prompt_tokens: int
    output_tokens: int
    classified: bool
    difficulty: float | None = None
    cached_tokens: int = 0  # prompt tokens billed at the cached price for the previous model


def call_cost(model: Model, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
    """US dollars for one call: `cached_tokens` of the prompt at the catalog's cached-input
    price (the input price where it lists none), the rest at the input price, plus output.
    None when a needed price is unknown; 0 for a free model."""
    if model.free:
        return 0.0
    price = model.pricing
    if price.input is None or price.output is None:
        return None
    cached = min(max(cached_tokens, 0), prompt_tokens)
    cache_price = price.cache_read if price.cache_read is not None else price.input
    return ((prompt_tokens - cached) * price.input + cached * cache_price + output_tokens * price.output) / 1e6


def judged_difficulty(weights: dict[str, float], low_gate: float | None) -> dict[str, float]:
    """The difficulty probabilities candidates are judged under. Without `low_gate`: the
    classifier's own. With it, a request counts as low-difficulty work only when
    P(low) >= low_gate (then it is judged on the low cells alone); below the gate the low
    cells are dropped and medium and high decide, renormalised, so a request the classifier
    is not sure is easy needs a model adequate for harder work."""
    if low_gate is None or "low" not in weights:
        return weights
    if weights["low"] >= low_gate:
        return {"low": 1.0}
    harder = {d: p for d, p in weights.items() if d != "low" and p > 0}
    total = sum(harder.values())
    return {d: p / total for d, p in harder.items()} if total > 0 else weights


def score_candidates(
    tier: EfficientTier, config: RouterConfig, candidates: Sequence[str], prediction: Any, prompt_tokens: int | None,
    previous: str | None = None,
) -> Scoring:
    """Expected accuracy = the table's conservative accuracy weighted by the prediction's
    cell probabilities, difficulty as `judged_difficulty` gives it under `tier.low_gate`
    (each model's overall figure when there is no prediction); cost =
    catalog prices x (prompt tokens + output tokens expected for the predicted difficulty),
    with `tier.cached_prompt_share` of the prompt at the cached price for `previous` (the
    session's model so far: its provider still holds the prompt's prefix).
    Shared by the strategy and by `autotier calibrate`."""
    table = config.accuracy[tier.table]
    route_probs: dict[str, float] = (_field(prediction, "route_probs") or {}) if prediction is not None else {}
    weights: dict[str, float] = (_field(prediction, "difficulty_probs") or {}) if prediction is not None else {}
    classified = bool(route_probs and weights)
    difficulty = None
    if classified:
        probs = table.joint_vector(route_probs, judged_difficulty(weights, tier.low_gate))
        accuracy = dict(zip(candidates, table.expected_accuracies(candidates, probs), strict=True))
        difficulty = table.expected_difficulty(probs)
    else:
        accuracy = {m: table.overall(m) for m in candidates}
        weights = {}
    middle = sorted(tier.output_tokens.values())[len(tier.output_tokens) // 2]
    # Expected output tokens from the classifier's own probabilities (an estimate, not a risk call).
    out_tokens = round(sum(p * tier.output_tokens.get(d, middle) for d, p in weights.items()) or middle)
    in_tokens = prompt_tokens or tier.default_prompt_tokens
    cached = round(in_tokens * tier.cached_prompt_share) if previous else 0
    catalog = config.catalog
    scored = tuple(
        Scored(m, accuracy[m], call_cost(catalog[m], in_tokens, out_tokens, cached if m == previous else 0) or 0.0)
        for m in candidates
    )
    return Scoring(scored, in_tokens, out_tokens, classified, difficulty, cached)


class EfficientStrategy:
    """Score the usable candidates with the accuracy table under the request's
    classification, then pick the cheapest adequate one (`router.efficient.select`)."""

    def propose(
        self, name: str, tier: EfficientTier, request: RoutingRequest, state: RouterState, trace: list[str]
    ) -> Proposal:
        usable = filter_candidates(name, tier.candidates, request, state, trace)
        prediction = request.classification
        scoring = score_candidates(
            tier, state.config, usable, prediction, request.estimated_prompt_tokens, request.previous_model
        )
        if scoring.classified:
            placed = "" if scoring.difficulty is None else (
                f", {scoring.difficulty:+.2f} on the success scale (the ability that succeeds half the time)"
            )
            gate = ""
            probs = _field(prediction, "difficulty_probs") or {}
            if tier.low_gate is not None and "low" in probs:  # else judged_difficulty left them as they are
                p_low = probs["low"]
                gate = (f"; judged as low-difficulty work (P(low) {p_low:.2f} >= gate {tier.low_gate:g})"
                        if p_low >= tier.low_gate else
                        f"; judged on medium/high cells (P(low) {p_low:.2f} < gate {tier.low_gate:g})")
            trace.append(
                f"{name}: classified as {_field(prediction, 'route_key')} "
                f"(p={_field(prediction, 'confidence') or 0:.2f}), difficulty {_field(prediction, 'difficulty')}"
                + placed + gate
            )
        else:
            trace.append(f"{name}: no classification for this request: each model's overall accuracy")
        bar = tier.quality_bar
        choice = select(
            scoring.scored, bar.kind, bar.value, tier.selection, request.previous_model, tier.switch_cost_factor
        )
        cache = (
            f", {scoring.cached_tokens} prompt tokens at the cached price for {request.previous_model}"
            if scoring.cached_tokens else ""
        )
        trace.append(
            f"{name}: {tier.selection}, {bar.kind} bar {bar.value:g}, "
            f"~{scoring.prompt_tokens}+{scoring.output_tokens} tokens{cache} -> {describe(choice)}"
        )
        details = {
            "classification": {k: _field(prediction, k) for k in ("route_key", "difficulty", "confidence")}
            if scoring.classified else None,
            "difficulty_scale": None if scoring.difficulty is None else round(scoring.difficulty, 3),
            "estimated_tokens": {"prompt": scoring.prompt_tokens, "output": scoring.output_tokens,
                                 "cached_prompt": scoring.cached_tokens},
            "threshold": round(choice.threshold, 4),
            "candidates": [
                {"model": s.model, "expected_accuracy": round(s.accuracy, 4), "cost_usd": round(s.cost, 6),
                 "adequate": s.accuracy >= choice.threshold}
                for s in (choice.winner, *choice.fallbacks)
            ],
        }
        return Proposal((choice.winner.model, *(s.model for s in choice.fallbacks)), tier.params, details)


STRATEGIES: dict[str, Strategy] = {
    "rules": RuleStrategy(),
    "sticky": StickyStrategy(),
    "efficient": EfficientStrategy(),
}


def dedupe(models: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(models))

