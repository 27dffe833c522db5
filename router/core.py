"""`route()`: the one pure decision function shared by the gateway, the LiteLLM plug-in
and the offline benchmarks. No network, no clock, no globals."""

from __future__ import annotations

from router.config import RouterConfig
from router.contract import RoutingDecision, RoutingRequest
from router.errors import UnknownModelError
from router.filters import RouterState, filter_candidates
from router.params import translate
from router.policy import check_model, policy_tier
from router.strategies import STRATEGIES, dedupe

__all__ = ["RouterState", "filter_candidates", "resolve_tier", "route"]

def resolve_tier(request: RoutingRequest, config: RouterConfig, trace: list[str]) -> str | None:
    """The tier a requested id names; None for a catalog model passed through.
    Raises UnknownModelError for anything else."""
    requested = (request.requested_model or "").strip()
    defaults = config.tiers.defaults
    if not requested or requested.lower() in defaults.generic_ids:
        paid = request.account.has_paid_balance
        tier = defaults.with_balance if paid else defaults.otherwise
        who = "authenticated account with balance" if paid else "no paid balance"
        trace.append(f"default: {'no model' if not requested else repr(requested)} and {who} -> {tier}")
        return tier
    named = config.tier_of(requested)
    if named is not None:
        trace.append(f"requested {requested!r} -> tier {named}")
        return named
    if requested in config.catalog:
        trace.append(f"requested {requested!r} is a catalog model: passed through")
        return None
    raise UnknownModelError(
        f"model {requested!r} is neither a kilo-auto tier nor a catalog model; "
        "GET /v1/models lists the valid ids"
    )


def route(request: RoutingRequest, state: RouterState) -> RoutingDecision:
    """Decide which catalog model serves `request`. Raises UnknownModelError,
    NoModelAvailableError, UnsupportedInputError or PolicyError (all RoutingError) when it
    cannot."""
    config = state.config
    trace: list[str] = []
    tier_name = resolve_tier(request, config, trace)
    policy = request.policy
    if tier_name is None:
        model = config.catalog[request.requested_model.strip()]  # type: ignore[union-attr]
        if policy is not None:
            check_model(policy, model.id)
        return RoutingDecision(
            requested_model=request.requested_model, tier=None, model=model.id,
            litellm_model=model.litellm_model, fallbacks=(), params={},
            reason=tuple(trace), free=model.free,
        )
    if policy is not None:
        tier_name = policy_tier(policy, tier_name, request.mode, trace)
    tier = config.tiers.tiers[tier_name]
    proposal = STRATEGIES[tier.strategy].propose(tier_name, tier, request, state, trace)
    chain = filter_candidates(tier_name, dedupe(proposal.candidates), request, state, trace)
    model = config.catalog[chain[0]]
    if chain[0] != proposal.candidates[0]:
        trace.append(f"first available: {model.id}")
    params = translate(proposal.params, request.api_kind, model)
    if params:
        trace.append(f"params for {request.api_kind.value}: {params}")
    return RoutingDecision(
        requested_model=request.requested_model, tier=tier_name, model=model.id,
        litellm_model=model.litellm_model, fallbacks=chain[1:], params=params,
        reason=tuple(trace), free=model.free, details=proposal.details,
    )
