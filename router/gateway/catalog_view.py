"""The `/models` listing: OpenRouter's schema plus the Kilo extensions its CLI reads
(`isFree`, `preferredIndex`, `autoRouting.models`, `opencode.family`,
`opencode.ai_sdk_provider`), for every virtual tier and every catalog model, or, for a
key with a policy (router.policy), only what that key may use."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from router.catalog import Model
from router.config import RouterConfig
from router.contract import ApiKind
from router.gateway.accounts import Ledger
from router.gateway.intake import ANONYMOUS_KEYS, api_key
from router.policy import Policy
from router.tiers import EfficientTier, RuleTier, StickyTier

CREATED = 1767225600  # 2026-01-01: a fixed stamp, so the listing is stable
BASE_PARAMETERS = ["max_tokens", "temperature", "top_p", "stop", "response_format"]


def _per_token(per_million: float | None) -> str:
    return "0" if not per_million else f"{per_million / 1e6:.10f}".rstrip("0").rstrip(".")


def _parameters(model: Model) -> list[str]:
    params = list(BASE_PARAMETERS)
    if model.capabilities.tools:
        params += ["tools", "tool_choice"]
    if model.capabilities.reasoning:
        params += ["reasoning", "include_reasoning"]
    return params


def _sdk_provider(model: Model) -> str | None:
    """Which SDK Kilo should use: the Messages API for models that speak it, Responses
    for models that speak it, else chat completions (no entry)."""
    if ApiKind.MESSAGES in model.api_kinds:
        return "anthropic"
    if ApiKind.RESPONSES in model.api_kinds:
        return "openai"
    return None


def _data_note(models: list[Model]) -> str:
    if any(m.data_policy.may_train for m in models):
        return "Data: some of these providers may log prompts and train on them."
    if any(m.data_policy.may_train is None for m in models):
        return "Data: depends on the provider serving the request; check its terms for sensitive code."
    return "Data: providers do not train on prompts by default; retained for abuse monitoring."


def tier_models(config: RouterConfig, name: str) -> list[str]:
    """Every model a tier may resolve to, first choices first."""
    tier = config.tiers.tiers[name]
    if isinstance(tier, RuleTier):
        first = [r.model for r in tier.routes.values()]
        rest = [m for r in tier.routes.values() for m in r.fallbacks]
        ids = first + rest
    elif isinstance(tier, StickyTier):
        ids = [c.model for c in tier.candidates] + list(tier.last_resort)
    elif isinstance(tier, EfficientTier):
        ids = list(tier.candidates)
    else:
        ids = []
    return [m for m in dict.fromkeys(ids) if m in config.catalog]


def _model_entry(model: Model, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": model.id,
        "name": model.name,
        "created": CREATED,
        "description": f"{model.name} ({model.provider}). {model.data_policy.note}",
        "context_length": model.context_window or 128000,
        "architecture": {
            "modality": "text+image->text" if model.capabilities.vision else "text->text",
            "input_modalities": ["text", "image"] if model.capabilities.vision else ["text"],
            "output_modalities": ["text"],
            "tokenizer": model.family,
        },
        "pricing": {
            "prompt": _per_token(model.pricing.input),
            "completion": _per_token(model.pricing.output),
            "input_cache_read": _per_token(model.pricing.cache_read),
            "request": "0",
            "image": "0",
        },
        "top_provider": {
            "context_length": model.context_window,
            "max_completion_tokens": model.max_output,
            "is_moderated": False,
        },
        "supported_parameters": _parameters(model),
        "isFree": model.free,
        "preferredIndex": index,
        "data_policy": model.data_policy.model_dump(),
        "opencode": {"family": model.family},
    }
    provider = _sdk_provider(model)
    if provider:
        entry["opencode"]["ai_sdk_provider"] = provider
    return entry


def _tier_entry(config: RouterConfig, name: str, index: int, ids: list[str]) -> dict[str, Any]:
    tier = config.tiers.tiers[name]
    models = [config.catalog[m] for m in ids]
    first = models[0]
    windows = [m.context_window for m in models if m.context_window]
    free = all(m.free for m in models)
    tier_id = config.tiers.spellings[0].format(tier=name)
    return {
        "id": tier_id,
        "name": f"Kilo Auto {name.capitalize()}",
        "created": CREATED,
        "description": f"{tier.description} {_data_note(models)}",
        "context_length": min(windows) if windows else 128000,
        "architecture": {
            "modality": "text+image->text", "input_modalities": ["text", "image"],
            "output_modalities": ["text"], "tokenizer": "router",
        },
        "pricing": {
            "prompt": "0" if free else _per_token(first.pricing.input),
            "completion": "0" if free else _per_token(first.pricing.output),
            "request": "0", "image": "0",
        },
        "top_provider": {"context_length": min(windows) if windows else None, "max_completion_tokens": None,
                         "is_moderated": False},
        "supported_parameters": sorted({p for m in models for p in _parameters(m)}),
        "isFree": free,
        "preferredIndex": index,
        "autoRouting": {"models": ids, "strategy": tier.strategy},
        "opencode": {"family": "kilo-auto"},
    }


def models_listing(config: RouterConfig, policy: Policy | None = None) -> dict[str, Any]:
    """`{"object": "list", "data": [...]}`: tiers first (in file order), then the catalog.
    With a policy: only the models it allows, and only tiers left with one (`policy` names it)."""
    allowed = policy.allowed if policy is not None else None
    tiers = [(name, [m for m in tier_models(config, name) if allowed is None or m in allowed])
             for name in config.tiers.tiers]
    data = [_tier_entry(config, name, i, ids) for i, (name, ids) in enumerate(t for t in tiers if t[1])]
    offset = len(data)
    models = [m for m in config.catalog if allowed is None or m.id in allowed]
    data += [_model_entry(m, offset + i) for i, m in enumerate(models)]
    listing: dict[str, Any] = {"object": "list", "data": data}
    if policy is not None:
        listing["policy"] = policy.name
    return listing


async def caller_policy(request: Request, ledger: Ledger, config: RouterConfig) -> Policy | None:
    """The policy of the key a listing request sends; None when it sends none, an unknown
    one (the listing is public) or a key without a policy. PolicyError for a key whose
    policy the file does not define."""
    key = api_key(request)
    if key.lower() in ANONYMOUS_KEYS:
        return None
    row = await asyncio.to_thread(ledger.lookup, key)
    return config.policies.effective(row.policy) if row is not None else None
