"""The upstream call: LiteLLM for all three APIs, the decision's fallback chain walked
in order, failing models put in cooldown. Only retryable failures (429, 5xx, timeouts,
connection errors, a model the provider refuses) move on; a request the provider
rejects as invalid (400/413/422) goes back to the client unchanged."""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from router.catalog import Model
from router.contract import ApiKind
from router.errors import AutotierError
from router.gateway import openai_compat

log = logging.getLogger("autotier.gateway")

CLIENT_ERROR_STATUSES = frozenset({400, 413, 422})

# OpenAI chat parameters LiteLLM maps per provider; anything else goes in `extra_body`
# untouched (OpenRouter's `reasoning`, `verbosity`, `usage`, `provider`, ...).
CHAT_PARAMS = frozenset({
    "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "stop", "n", "presence_penalty", "frequency_penalty", "seed",
    "response_format", "user", "logprobs", "top_logprobs", "logit_bias", "reasoning_effort",
    "functions", "function_call", "modalities", "audio", "prediction", "service_tier",
})
RESPONSES_PARAMS = frozenset({
    "include", "instructions", "max_output_tokens", "metadata", "parallel_tool_calls",
    "previous_response_id", "reasoning", "store", "temperature", "text", "tool_choice",
    "tools", "top_p", "truncation", "user", "prompt", "background", "max_tool_calls",
    "service_tier", "prompt_cache_key", "safety_identifier", "top_logprobs", "conversation",
})


def load_litellm() -> Any:
    """Import LiteLLM (seconds; call once at start-up) with its bundled price map, no
    network at import, and quiet."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm

    litellm.drop_params = True
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    return litellm


class UpstreamClientError(AutotierError):
    """The provider rejected the request itself (400-class): returned, never retried."""

    code = "upstream_invalid_request"
    status = 400


class UpstreamUnavailable(AutotierError):
    """Every model of the chain failed with a retryable error."""

    code = "upstream_unavailable"
    status = 503

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.tried: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """`from_provider`: the provider answered or could not be reached (cool the model
    down); False for a local failure, which moves on without a cooldown."""

    retryable: bool
    status: int
    message: str
    retry_after: float | None
    from_provider: bool = True


def _header(exc: BaseException, name: str) -> str | None:
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    ):
        try:
            value = headers.get(name) if headers is not None else None
        except Exception:  # noqa: BLE001 - foreign header objects
            value = None
        if value:
            return str(value)
    return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After value (delta seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


# Exceptions that mean the provider answered or could not be reached (by class name along
# the MRO, so that neither openai, httpx nor aiohttp is imported here).
PROVIDER_CAUSES = frozenset({"APIStatusError", "APIConnectionError", "APITimeoutError", "HTTPStatusError",
                             "TransportError", "ClientError", "ProviderError"})
# Errors of this process (bad text, a bug, an unserialisable value) that LiteLLM wraps in a
# 500 of its own: they say nothing about the provider and must not cool a model down.
LOCAL_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, AssertionError,
                RecursionError, MemoryError, NotImplementedError, ImportError)


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 12 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def from_provider(exc: BaseException) -> bool:
    """Did the provider fail (answered with an error, or could not be reached)? False for
    an error raised inside this process, whatever status LiteLLM gave it."""
    if not isinstance(getattr(exc, "status_code", None), int):
        return False
    chain = _causes(exc)
    for cause in chain[1:] if type(exc).__name__ != "ProviderError" else chain:
        if isinstance(cause, (OSError, TimeoutError)) or any(
                c.__name__ in PROVIDER_CAUSES for c in type(cause).__mro__):
            return True
        if isinstance(cause, LOCAL_ERRORS):
            return False
    return True


def classify(exc: BaseException, now: float) -> Failure:
    """Is this upstream failure worth trying the next model for?"""
    status = getattr(exc, "status_code", None)
    provider = from_provider(exc)
    status = status if isinstance(status, int) else 502
    name = type(exc).__name__
    if name in ("ContextWindowExceededError", "ContentPolicyViolationError"):
        status = 400
    message = str(getattr(exc, "message", None) or exc)[:500]
    retry_after = parse_retry_after(_header(exc, "retry-after"), now)
    return Failure(status not in CLIENT_ERROR_STATUSES, status, message, retry_after, provider)


@dataclass
class Served:
    """A model that answered. For streams, `first` is the first item already read from
    `stream` (so failures before it could still fall back)."""

    model: Model
    result: Any
    tried: tuple[str, ...]
    latency_s: float
    first: Any = None
    stream: AsyncIterator[Any] | None = None
    failures: list[str] = field(default_factory=list)


class Upstream:
    """Calls one model. With `mock_base`, every catalog model is served by that
    OpenAI-compatible server as `openai/<catalog id>` at `<base>/v1`, for all three APIs:
    LiteLLM turns a Messages call into an OpenAI-side call, exactly as it does for the
    real `openrouter/...` models. (LiteLLM's native `anthropic/` streaming path imports
    its proxy's logging stack, which needs packages serving does not install.) Without
    it, each model's `litellm_model` is called with keys from the environment.

    `client="auto"`: chat completions to a provider that speaks them natively go through
    `openai_compat.ChatClient` (LiteLLM resolves the provider; no per-chunk objects);
    everything else, and everything with `client="litellm"`, through LiteLLM."""

    def __init__(self, litellm: Any, mock_base: str | None = None, timeout_s: float = 600.0,
                 client: str = "auto"):
        if client not in ("auto", "litellm"):
            raise ValueError(f"upstream client must be 'auto' or 'litellm', not {client!r}")
        self.litellm = litellm
        self.mock_base = mock_base.rstrip("/") if mock_base else None
        self.timeout_s = timeout_s
        self._registered: set[str] = set()
        self.chat_client = openai_compat.ChatClient(timeout_s) if client == "auto" else None
        self._chat_targets: dict[tuple[str, str | None], openai_compat.Target | None] = {}

    def placement(self, model: Model) -> dict[str, Any]:
        """LiteLLM's model string for `model`, with the mock's base URL and key in demo mode."""
        if self.mock_base is None:
            return {"model": model.litellm_model}
        return {"model": f"openai/{model.id}", "api_base": f"{self.mock_base}/v1", "api_key": "mock"}

    def chat_target(self, model: Model) -> openai_compat.Target | None:
        """Where the OpenAI-compatible client sends `model`'s chat completions; None when
        LiteLLM must make the call (resolved once per model)."""
        key = (model.id, model.litellm_model)
        if key not in self._chat_targets:
            self._chat_targets[key] = openai_compat.resolve(self.litellm, **self.placement(model))
        return self._chat_targets[key]

    async def close(self) -> None:
        if self.chat_client is not None:
            await self.chat_client.close()

    def litellm_target(self, model: Model) -> dict[str, Any]:
        """`placement`, with a mock model registered with LiteLLM on first use."""
        placed = self.placement(model)
        if self.mock_base is not None and placed["model"] not in self._registered:
            self._register(placed["model"], model)
        return placed

    def _register(self, name: str, model: Model) -> None:
        """Tell LiteLLM the mock model streams natively: for a model missing from its cost
        map, LiteLLM's Responses path otherwise fakes the stream from one plain call."""
        self.litellm.register_model({name: {
            "litellm_provider": "openai", "mode": "chat", "supports_native_streaming": True,
            "input_cost_per_token": (model.pricing.input or 0) / 1e6,
            "output_cost_per_token": (model.pricing.output or 0) / 1e6,
        }})
        self._registered.add(name)

    async def call(self, api: ApiKind, model: Model, body: dict[str, Any], stream: bool) -> Any:
        """One upstream call; `body` is the client's body with the decision's params merged."""
        fields = {k: v for k, v in body.items() if k not in ("model", "stream", "stream_options")}
        if api is ApiKind.CHAT and self.chat_client is not None:
            target = self.chat_target(model)
            if target is not None:
                return await self.chat_client.call(target, fields, stream)
        kwargs: dict[str, Any] = {
            **self.litellm_target(model), "timeout": self.timeout_s, "_skip_mcp_handler": True,
        }
        if api is ApiKind.CHAT:
            extra = {k: v for k, v in fields.items() if k not in CHAT_PARAMS and k != "messages"}
            known = {k: v for k, v in fields.items() if k in CHAT_PARAMS or k == "messages"}
            if stream:
                known["stream_options"] = {"include_usage": True}
            return await self.litellm.acompletion(
                **kwargs, **known, extra_body=extra or None, stream=stream, num_retries=0, max_retries=0
            )
        if api is ApiKind.RESPONSES:
            extra = {k: v for k, v in fields.items() if k not in RESPONSES_PARAMS and k != "input"}
            known = {k: v for k, v in fields.items() if k in RESPONSES_PARAMS or k == "input"}
            return await self.litellm.aresponses(**kwargs, **known, extra_body=extra or None, stream=stream)
        return await self.litellm.anthropic.messages.acreate(**kwargs, **fields, stream=stream)


async def call_chain(
    upstream: Upstream,
    api: ApiKind,
    chain: list[Model],
    body_for: Callable[[Model], dict[str, Any]],
    stream: bool,
    on_failure: Callable[[Model, Failure], Awaitable[None] | None],
) -> Served:
    """Try each model of `chain` in order until one answers (for a stream: yields its
    first item). `on_failure` is told about every retryable failure (to cool the model
    down and count the fallback). Raises UpstreamClientError or UpstreamUnavailable."""
    tried: list[str] = []
    failures: list[str] = []
    retry_afters: list[float] = []
    for model in chain:
        started = time.monotonic()
        try:
            result = await upstream.call(api, model, body_for(model), stream)
            first = None
            iterator = None
            if stream:
                iterator = aiter(result)
                try:
                    first = await anext(iterator)
                except StopAsyncIteration:
                    raise UpstreamEmpty("the upstream stream ended before any data") from None
            return Served(model, result, tuple(tried), time.monotonic() - started, first, iterator, failures)
        except Exception as exc:  # noqa: BLE001 - every provider error is classified below
            failure = classify(exc, time.time())
            if not failure.retryable:
                raise UpstreamClientError(failure.message, status=failure.status) from exc
            log.warning("upstream %s failed (%s): %s", model.id, failure.status, type(exc).__name__)
            tried.append(model.id)
            failures.append(f"{model.id}: {failure.status}")
            if failure.retry_after is not None:
                retry_afters.append(failure.retry_after)
            outcome = on_failure(model, failure)
            if outcome is not None:
                await outcome
    error = UpstreamUnavailable(
        f"every model tried failed ({'; '.join(failures) or 'no model allowed'}); retry shortly",
        min(retry_afters) if retry_afters else None,
    )
    error.tried = tuple(tried)
    raise error


class UpstreamEmpty(Exception):
    status_code = 502
