"""What every tier's candidates go through, and the state `route()` reads: input
modality, availability and context-window filters over a config snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from router.availability import EVERYTHING_AVAILABLE, Availability
from router.catalog import Model
from router.config import RouterConfig
from router.contract import RoutingRequest
from router.errors import NoModelAvailableError, UnsupportedInputError
from router.policy import policy_filter

MODALITY_CAPABILITY = {"image": "vision"}


@dataclass(frozen=True, slots=True)
class RouterState:
    """What `route()` reads besides the request: a config snapshot and availability."""

    config: RouterConfig
    availability: Availability = EVERYTHING_AVAILABLE


def _accepts(model: Model, modalities: frozenset[str]) -> bool:
    caps = model.capabilities
    return all(getattr(caps, MODALITY_CAPABILITY.get(m, m), False) for m in modalities)


def filter_candidates(
    tier: str, candidates: tuple[str, ...], request: RoutingRequest, state: RouterState, trace: list[str]
) -> tuple[str, ...]:
    """Apply the filters every tier shares, in order: the caller's policy, input modality,
    availability, context window (when all are too small the largest wins)."""
    catalog = state.config.catalog
    if request.policy is not None:
        candidates = policy_filter(request.policy, tier, candidates, trace)
    modalities = request.required_modalities
    if modalities:
        kept = tuple(m for m in candidates if _accepts(catalog[m], modalities))
        for dropped in (m for m in candidates if m not in kept):
            trace.append(f"skip {dropped}: does not accept {', '.join(sorted(modalities))} input")
        if not kept:
            raise UnsupportedInputError(
                f"no {tier} model accepts {', '.join(sorted(modalities))} input"
            )
        candidates = kept
    availability = state.availability
    kept = tuple(m for m in candidates if availability.is_available(m))
    for dropped in (m for m in candidates if m not in kept):
        trace.append(f"skip {dropped}: {availability.describe(dropped)}")
    if not kept:
        raise NoModelAvailableError(
            tier, f"every {tier} model is unavailable right now ({', '.join(candidates)}); retry shortly"
        )
    candidates = kept
    tokens = request.estimated_prompt_tokens
    if tokens:
        fits = tuple(m for m in candidates if (catalog[m].context_window or tokens) >= tokens)
        if not fits:
            largest = max(candidates, key=lambda m: catalog[m].context_window or 0)
            trace.append(f"no candidate fits ~{tokens} tokens: largest window wins ({largest})")
            return (largest,)
        for dropped in (m for m in candidates if m not in fits):
            window = catalog[dropped].context_window
            trace.append(f"skip {dropped}: context window {window} < ~{tokens} tokens")
        candidates = fits
    return candidates
