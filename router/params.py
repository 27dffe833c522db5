"""Translate API-neutral tier parameters into the body fields of each wire API.

chat (OpenRouter-style chat completions): `reasoning: {effort | enabled}`, `verbosity`.
responses (OpenAI Responses): `reasoning: {effort}`, `text: {verbosity}`.
messages (Anthropic): `thinking: {type: adaptive}` plus `output_config: {effort}`; the
Messages API has no verbosity control, so verbosity is dropped there.
"""

from __future__ import annotations

from typing import Any

from router.catalog import Model
from router.contract import ApiKind
from router.tiers import TierParams


def translate(params: TierParams, api: ApiKind, model: Model) -> dict[str, Any]:
    """Body fields to merge into the upstream request. Reasoning fields are left out for a
    model without the reasoning capability."""
    body: dict[str, Any] = {}
    reasoning = model.capabilities.reasoning and (
        params.reasoning_effort is not None or params.reasoning_enabled
    )
    effort = params.reasoning_effort
    if api is ApiKind.CHAT:
        if reasoning:
            body["reasoning"] = {"effort": effort} if effort else {"enabled": True}
        if params.verbosity:
            body["verbosity"] = params.verbosity
    elif api is ApiKind.RESPONSES:
        if reasoning and effort:
            body["reasoning"] = {"effort": effort}
        if params.verbosity:
            body["text"] = {"verbosity": params.verbosity}
    else:
        if reasoning:
            body["thinking"] = {"type": "adaptive"}
            if effort:
                body["output_config"] = {"effort": effort}
    return body
