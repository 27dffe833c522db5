"""autotier as a LiteLLM proxy plug-in: `route()` resolves `kilo-auto/*` before LiteLLM routes.

In the proxy's config.yaml (docs/litellm_plugin.md has the whole guide):

    litellm_settings:
      callbacks: router.litellm_hook.proxy_handler_instance

The proxy calls `async_pre_call_hook` after its own auth and before its router. For a
virtual model the hook builds a `RoutingRequest` from the request (body, Kilo headers,
the key's budget), asks `route()` with every catalog model that is not a model group of
this proxy marked unavailable, and rewrites the request: `model` becomes the decision's
catalog id (operators name their model groups by catalog ids), `fallbacks` its chain, the
decision's params are merged in. `async_post_call_response_headers_hook` returns the
decision as `x-autotier-*` response headers.

Imports nothing heavy beyond LiteLLM, which the proxy has loaded already; the routing
data is read when the proxy loads this module, the classifier on the first efficient
request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

if "litellm" not in sys.modules:  # imported outside the proxy (tests, tools): no price-map download
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

from router.availability import Availability, ModelState, ModelStatus
from router.classification import LazyClassifier, needs_classification
from router.config import RouterConfig
from router.contract import Account, ApiKind, RoutingDecision, RoutingRequest
from router.core import RouterState, route
from router.errors import AutotierError, NoModelAvailableError
from router.gateway import intake, wire
from router.gateway.handlers import header_safe, merge_params
from router.gateway.live_state import InProcessState
from router.gateway.reload import ConfigHolder
from router.gateway.upstream import CHAT_PARAMS
from router.reasoning import strip_foreign_reasoning

log = logging.getLogger("autotier.litellm")

# LiteLLM's call types for the three wire APIs; other calls (embeddings, ...) pass untouched.
API_BY_CALL_TYPE = {
    "completion": ApiKind.CHAT, "acompletion": ApiKind.CHAT,
    "responses": ApiKind.RESPONSES, "aresponses": ApiKind.RESPONSES,
    "anthropic_messages": ApiKind.MESSAGES,
}
# Request fields the classifier reads (it must not see LiteLLM's own keys in `data`).
PROMPT_FIELDS = ("messages", "input", "instructions", "system", "prompt", "tools")
# Any unknown id under these prefixes is answered with a clear error, not handed to LiteLLM.
VIRTUAL_PREFIXES = ("kilo-auto/", "kilo/")
DECISION_KEY = "autotier_decision"  # in LiteLLM's metadata dict of the request
REASON_HEADER_LIMIT = 1024
RELOAD_CHECK_S = 5.0


class RequestHeaders:
    """Duck-types the `.headers` of a Starlette request so `intake.kilo_headers` reads a dict."""

    def __init__(self, headers: Mapping[str, str]):
        self.headers = headers


def request_headers(data: Mapping[str, Any]) -> dict[str, str]:
    """The client's HTTP headers as LiteLLM stored them in `data`, names lower-cased.
    LiteLLM keeps them in `proxy_server_request.headers` (and a copy in its metadata)."""
    sources = [(data.get("proxy_server_request") or {}).get("headers")]
    sources += [(data.get(key) or {}).get("headers") for key in ("litellm_metadata", "metadata")
                if isinstance(data.get(key), dict)]
    for headers in sources:
        if isinstance(headers, Mapping) and headers:
            return {str(k).lower(): str(v) for k, v in headers.items()}
    return {}


def litellm_metadata(data: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's own metadata dict of this request: `litellm_metadata` on the Responses and
    Messages routes (where `metadata` is a provider field), `metadata` elsewhere."""
    for key in ("litellm_metadata", "metadata"):
        value = data.get(key)
        if isinstance(value, dict) and "headers" in value:
            return value
    if isinstance(data.get("litellm_metadata"), dict):
        return data["litellm_metadata"]
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    return data["metadata"]


def account_of(key: Any) -> Account:
    """The proxy already authenticated the key; its balance is what is left of its budget
    (unlimited without one), so paid tiers and `kilo-auto/small`'s paid model apply."""
    if key is None:
        return Account(authenticated=False)
    budget = getattr(key, "max_budget", None)
    spend = getattr(key, "spend", None) or 0.0
    balance = math.inf if budget is None else float(budget) - float(spend)
    return Account(authenticated=True, balance=balance)


def is_routed(model: Any, config: RouterConfig, groups: Collection[str]) -> bool:
    """True when autotier decides this request: a tier id (any spelling or alias) or any id
    under kilo-auto/ or kilo/, always (a model group of that name is only a placeholder for
    LiteLLM's access checks and model listing); a generic id (`auto`, ...) unless the proxy
    has a model group of that name."""
    if not isinstance(model, str):
        return False
    lowered = model.strip().lower()
    if config.tier_of(lowered) is not None or lowered.startswith(VIRTUAL_PREFIXES):
        return True
    return lowered in config.tiers.defaults.generic_ids and model not in groups


@lru_cache(maxsize=64)
def unconfigured(catalog_ids: frozenset[str], groups: frozenset[str]) -> Availability:
    """Availability for `route()`: catalog models without a model group here are unavailable."""
    missing = catalog_ids - groups
    return Availability({m: ModelStatus(ModelState.UNAVAILABLE) for m in missing})


def routing_request(data: Mapping[str, Any], api: ApiKind, key: Any = None, *,
                    previous_model: str | None = None, classification: Any = None) -> RoutingRequest:
    """The `RoutingRequest` for a LiteLLM proxy request `data` (the body plus LiteLLM's keys)."""
    headers = request_headers(data)
    kilo = intake.kilo_headers(RequestHeaders(headers))  # type: ignore[arg-type]
    meta = next((m for m in (data.get("litellm_metadata"), data.get("metadata")) if isinstance(m, dict)), {})
    user = getattr(key, "user_id", None) or getattr(key, "token", None) or kilo.machine_id
    return RoutingRequest(
        requested_model=data.get("model"), api_kind=api, mode=kilo.mode, session_id=kilo.session_id,
        user_id=user, client_ip=meta.get("requester_ip_address") or None, account=account_of(key),
        estimated_prompt_tokens=wire.estimated_tokens(api, dict(data)),
        required_modalities=wire.modalities(api, dict(data)), previous_model=previous_model,
        classification=classification,
    )


def apply_decision(data: dict[str, Any], decision: RoutingDecision, api: ApiKind,
                   produced_by: str | None, serving_family: str | None) -> dict[str, Any]:
    """Rewrite `data` in place for the decision: model group, per-request fallbacks, params
    (chat: fields LiteLLM does not map go in `extra_body`, as the gateway sends them) and
    reasoning from another model family stripped. Returns `data`."""
    if serving_family is not None:
        stripped = strip_foreign_reasoning(data, api, produced_by, serving_family)
        data.update({k: stripped[k] for k in ("messages", "input") if k in stripped})
    params = decision.params
    if api is ApiKind.CHAT:
        extra = {k: v for k, v in params.items() if k not in CHAT_PARAMS}
        params = {k: v for k, v in params.items() if k in CHAT_PARAMS}
        if extra:
            current = data.get("extra_body")
            data["extra_body"] = merge_params(current if isinstance(current, dict) else {}, extra)
    data.update(merge_params({k: data[k] for k in params if k in data}, params))
    data["model"] = decision.model
    if decision.fallbacks:
        # The dict form: a list of plain names makes LiteLLM 1.106 try only the last one.
        data["fallbacks"] = [{decision.model: list(decision.fallbacks)}]
    litellm_metadata(data)[DECISION_KEY] = decision.to_dict()
    return data


def decision_headers(decision: Mapping[str, Any]) -> dict[str, str]:
    """The gateway's `x-autotier-*` headers for a decision dict (`RoutingDecision.to_dict()`)."""
    return {
        "x-autotier-tier": str(decision.get("tier") or "none"),
        "x-autotier-model": str(decision.get("model")),
        "x-autotier-reason": header_safe(" | ".join(decision.get("reason") or ()), REASON_HEADER_LIMIT),
    }


def proxy_error(error: AutotierError) -> Exception:
    """The exception LiteLLM's proxy answers with `error.status` and an OpenAI-shaped body
    (`{"error": {"message", "type", "param", "code"}}`, autotier's code alongside)."""
    from litellm.proxy._types import ProxyException

    kind = wire.OPENAI_ERROR_TYPES.get(error.status, "server_error" if error.status >= 500 else "invalid_request_error")
    return ProxyException(message=error.message, type=kind, param="model", code=error.status,
                          provider_specific_fields={"autotier_code": error.code})


def proxy_model_groups() -> frozenset[str]:
    """The model group names of the running proxy's router (empty before it has one)."""
    from litellm.proxy import proxy_server

    router = getattr(proxy_server, "llm_router", None)
    return frozenset(router.get_model_names()) if router is not None else frozenset()


class AutotierHook(CustomLogger):
    """The plug-in. `model_groups` returns the proxy's model group names (tests pass their
    own); the routing data comes from `data_dir` (default `AUTOTIER_DATA_DIR`, else the
    repository's data/) and is re-read when its files change."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, classifier: str | None = None,
                 model_groups: Callable[[], frozenset[str]] = proxy_model_groups, max_sessions: int = 100_000):
        super().__init__()
        self.config_holder = ConfigHolder(Path(data_dir) if data_dir else None)
        self.classifier = LazyClassifier(classifier or os.environ.get("AUTOTIER_CLASSIFIER") or None)
        self.model_groups = model_groups
        # Each session's last model (bounded, least recently used dropped first), as the
        # gateway keeps it; this proxy process's event loop is its only user.
        self.sessions = InProcessState(max_sessions=max_sessions)
        self._next_reload_check = time.monotonic() + RELOAD_CHECK_S

    @property
    def config(self) -> RouterConfig:
        now = time.monotonic()
        if now >= self._next_reload_check:
            self._next_reload_check = now + RELOAD_CHECK_S
            if self.config_holder.changed():
                self.config_holder.reload()
        return self.config_holder.config

    def decide(self, routing: RoutingRequest, config: RouterConfig, groups: frozenset[str]) -> RoutingDecision:
        """`route()` over the models this proxy has; AutotierError when it cannot."""
        availability = unconfigured(frozenset(m.id for m in config.catalog), groups)
        try:
            return route(routing, RouterState(config, availability))
        except NoModelAvailableError as exc:
            raise AutotierError(
                f"{routing.requested_model!r}: none of the {exc.tier} tier's models is a model group on this "
                f"proxy; add one to model_list named by its catalog id (docs/litellm_plugin.md). {exc.message}",
                code=f"no_{exc.tier}_models_configured", status=404) from None

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> Any:
        api = API_BY_CALL_TYPE.get(str(call_type))
        if api is None:
            return data
        config = self.config
        groups = self.model_groups()
        if not is_routed(data.get("model"), config, groups):
            return data
        try:
            routing = routing_request(data, api, user_api_key_dict)
            if routing.session_id:
                previous_model = await self.sessions.session_model(routing.session_id)
                routing = dataclasses.replace(routing, previous_model=previous_model)
            if needs_classification(config, routing.requested_model):
                body = {k: data[k] for k in PROMPT_FIELDS if k in data}
                # Inference (and the first-use model load) must not block the proxy's event loop.
                prediction = await asyncio.to_thread(self.classifier.predict, body, routing.mode)
                routing = dataclasses.replace(routing, classification=prediction)
            decision = self.decide(routing, config, groups)
        except AutotierError as exc:
            raise proxy_error(exc) from None
        catalog = config.catalog
        previous = catalog.get(routing.previous_model or "")
        apply_decision(data, decision, api, previous.family if previous else None, catalog[decision.model].family)
        if routing.session_id:
            await self.sessions.remember_session(routing.session_id, decision.model)
        log.debug("autotier: %s -> %s (%s)", routing.requested_model, decision.model, decision.tier)
        return data

    async def async_post_call_response_headers_hook(self, data: dict, user_api_key_dict: Any, response: Any,
                                                    request_headers: dict[str, str] | None = None,
                                                    litellm_call_info: dict[str, object] | None = None
                                                    ) -> dict[str, str] | None:
        for key in ("litellm_metadata", "metadata"):
            meta = data.get(key)
            if isinstance(meta, dict) and isinstance(meta.get(DECISION_KEY), dict):
                return decision_headers(meta[DECISION_KEY])
        return None


proxy_handler_instance = AutotierHook()
