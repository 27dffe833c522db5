"""What a paid request may cost before it is sent, and what it cost once it ended.

Before the provider is called the gateway holds an upper bound of the request's cost
(accounts.Ledger.reserve): every input token the prompt could possibly be, plus every output
token the request may produce, at the dearest price of the models it may be served by. The
bound on input is the prompt's UTF-8 size in bytes (no tokenizer turns n bytes into more
than n tokens) plus a per-message allowance for the chat template; the bound on output is an
explicit cap sent to the provider: the client's own, or lower when the balance cannot cover
it. After the call the hold is settled to the real cost: the provider's usage when it
arrived, else the input estimate plus the output actually streamed (`delivered_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.catalog import Model
from router.contract import ApiKind, estimate_tokens
from router.gateway.wire import dumps, prompt_material

# Chat templates add a few tokens per message (role markers, separators); images are
# priced by the provider per image, not by the bytes of their URL.
TOKENS_PER_MESSAGE = 16
TOKENS_PER_IMAGE = 6_000
# When neither the client nor the catalog says how long an answer may be.
DEFAULT_MAX_OUTPUT = 32_768
IMAGE_TAGS = (b'"image_url"', b'"input_image"', b'"type":"image"')

# Where each API carries the output cap; chat accepts either name, and the client's own
# spelling is kept when it sent one.
OUTPUT_FIELDS = {
    ApiKind.CHAT: ("max_completion_tokens", "max_tokens"),
    ApiKind.RESPONSES: ("max_output_tokens",),
    ApiKind.MESSAGES: ("max_tokens",),
}


class PriceUnknown(Exception):
    """A paid model has no input or output price: it cannot be billed, so it is not called."""


def input_token_bound(api: ApiKind, body: dict[str, Any]) -> int:
    """An upper bound of the prompt's tokens (tools and system prompt included)."""
    material = dumps([prompt_material(api, body), body.get("tools")])
    turns = body.get("input") if api is ApiKind.RESPONSES else body.get("messages")
    count = len(turns) if isinstance(turns, list) else 1
    images = sum(material.count(tag) for tag in IMAGE_TAGS)
    return len(material) + TOKENS_PER_MESSAGE * (count + 1) + TOKENS_PER_IMAGE * images


def client_output_cap(api: ApiKind, body: dict[str, Any]) -> int | None:
    """The output cap the client asked for, if any."""
    for name in OUTPUT_FIELDS[api]:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _prices(model: Model) -> tuple[float, float]:
    if model.free:
        return 0.0, 0.0
    if model.pricing.input is None or model.pricing.output is None:
        raise PriceUnknown(f"{model.id} is a paid model without a price in catalog.yaml")
    return model.pricing.input / 1e6, model.pricing.output / 1e6


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """What to hold for a request on `models` (its allowed chain): `amount` USD and the
    output cap to send (None: leave the client's body as it is)."""

    amount: float
    max_output_tokens: int | None


def plan_hold(models: list[Model], tokens_in: int, client_cap: int | None, balance: float,
              min_output_tokens: int) -> HoldPlan | None:
    """The hold that covers the dearest model of `models` for `tokens_in` input tokens and
    as many output tokens as the client asked for (or the model allows), lowered to what
    `balance` covers; None when the balance cannot cover `min_output_tokens` of output.
    Raises PriceUnknown for a paid model without a price."""
    prices = [(_prices(m), m.max_output or DEFAULT_MAX_OUTPUT) for m in models]
    longest = max(cap for _, cap in prices)
    limit = min(client_cap, longest) if client_cap else longest

    def cost(out: int) -> float:
        return max(p_in * tokens_in + p_out * min(out, cap) for (p_in, p_out), cap in prices)

    if cost(limit) <= balance:
        explicit = client_cap is None and any(m.max_output is None for m in models)
        return HoldPlan(cost(limit), limit if explicit else None)
    # The largest cap the balance covers on every model (the dearest output price decides).
    spare = balance - max(p_in * tokens_in for (p_in, _), _ in prices)
    out_price = max(p_out for (_, p_out), _ in prices)
    out = int(spare / out_price) if out_price > 0 else limit
    out = min(out, limit)
    if out < min_output_tokens:
        return None
    return HoldPlan(cost(out), out)


def with_output_cap(api: ApiKind, body: dict[str, Any], cap: int | None) -> dict[str, Any]:
    """`body` with its output cap lowered to `cap` (set when the client sent none)."""
    if cap is None:
        return body
    names = OUTPUT_FIELDS[api]
    present = [n for n in names if n in body]
    out = dict(body)
    for name in present or names[-1:]:
        value = out.get(name)
        out[name] = min(value, cap) if isinstance(value, int) and value > 0 else cap
    return out


def estimated_input_tokens(api: ApiKind, body: dict[str, Any]) -> int:
    """The ledger's input count when the provider's usage never arrived (a cut stream)."""
    return estimate_tokens(dumps([prompt_material(api, body), body.get("tools")]).decode("utf-8", "replace"))


def _strings(value: Any, depth: int = 0) -> int:
    """Characters of every string inside `value` (a streamed delta)."""
    if isinstance(value, str):
        return len(value)
    if depth > 6:
        return 0
    if isinstance(value, dict):
        return sum(_strings(v, depth + 1) for k, v in value.items() if k not in ("type", "role", "index", "id"))
    if isinstance(value, list):
        return sum(_strings(v, depth + 1) for v in value)
    return 0


def reply_usage(api: ApiKind, payload: dict[str, Any], usage: tuple[int, int] | None,
                estimated_input: int) -> tuple[int, int]:
    """(tokens in, tokens out) to bill for a complete (non-streamed) reply: the provider's
    usage, else the input estimate and the reply's generated characters / 4."""
    if usage is not None and any(usage):
        return usage
    if api is ApiKind.CHAT:
        generated = sum(_strings(c.get("message")) for c in payload.get("choices") or () if isinstance(c, dict))
    else:
        generated = _strings(payload.get("output" if api is ApiKind.RESPONSES else "content"))
    return estimated_input, (generated + 3) // 4


def delivered_chars(api: ApiKind, event: dict[str, Any]) -> int:
    """Characters of generated output (text, reasoning, tool-call arguments) in one
    streamed event, for billing a stream that ends before its usage arrives."""
    if api is ApiKind.CHAT:
        return sum(_strings(c.get("delta")) for c in event.get("choices") or () if isinstance(c, dict))
    if api is ApiKind.RESPONSES:
        delta = event.get("delta")
        return len(delta) if isinstance(delta, str) else 0
    if event.get("type") == "content_block_delta":
        return _strings(event.get("delta"))
    return 0
