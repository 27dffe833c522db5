"""Chat completions to OpenAI-compatible providers without LiteLLM's response objects.

LiteLLM turns every reply into its own pydantic objects and, for a stream, every chunk
too; per request that costs more CPU than everything else the gateway does together
(benchmarks/RESULTS.md, "Gateway overhead"). When the client speaks chat completions and
LiteLLM resolves the model to a provider whose wire format *is* chat completions
(`openai/...`, `openrouter/...`: every model of the shipped catalog), the gateway sends
the body itself and relays the provider's JSON as plain dicts. LiteLLM still says which
provider, base URL and key a model has (`litellm.get_llm_provider`, the same
environment variables); everything else (Responses, Messages, every other provider)
goes through LiteLLM as before. `--upstream-client litellm` turns this path off.

Failures are raised as `ProviderError`, which `upstream.classify` reads like LiteLLM's
exceptions: `status_code`, `message`, `headers` (Retry-After)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from router.gateway.wire import SSEParser, dumps, loads

# LiteLLM providers whose chat endpoint speaks OpenAI's wire format as it is.
PROVIDERS = frozenset({"openai", "openrouter"})
OPENROUTER_BASE = "https://openrouter.ai/api/v1"
OPENAI_BASE = "https://api.openai.com/v1"
USER_AGENT = "autotier-gateway"


class ProviderError(Exception):
    """A provider's refusal or an unreachable provider, shaped like LiteLLM's errors."""

    def __init__(self, status_code: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Target:
    """Where one model's chat completions go: the full URL, the provider's own model
    name and the request headers (authorization included)."""

    url: str
    model: str
    headers: Mapping[str, str]


def resolve(litellm: Any, model: str, api_base: str | None = None, api_key: str | None = None) -> Target | None:
    """The target of a LiteLLM model string when its provider speaks chat completions
    natively, else None (LiteLLM must translate). Base URLs and keys come from the same
    places LiteLLM reads them: the explicit values, then the provider's environment
    variables, then the provider's public endpoint."""
    try:
        name, provider, key, base = litellm.get_llm_provider(model, api_base=api_base, api_key=api_key)
    except Exception:  # noqa: BLE001 - a model LiteLLM cannot place is LiteLLM's to report
        return None
    if provider not in PROVIDERS:
        return None
    env = os.environ.get
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if provider == "openrouter":
        base = base or env("OPENROUTER_API_BASE") or OPENROUTER_BASE
        key = key or env("OPENROUTER_API_KEY") or env("OR_API_KEY")
        headers["http-referer"] = env("OR_SITE_URL") or "https://github.com/autotier/autotier"
        headers["x-title"] = env("OR_APP_NAME") or "autotier"
    else:
        base = base or env("OPENAI_BASE_URL") or env("OPENAI_API_BASE") or OPENAI_BASE
        key = key or env("OPENAI_API_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    return Target(f"{base.rstrip('/')}/chat/completions", name, headers)


def _error_message(raw: bytes, status: int) -> str:
    try:
        body = loads(raw)
    except json.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        if isinstance(error, str):
            return error[:500]
    text = raw.decode("utf-8", "replace").strip()
    return (text or f"HTTP {status}")[:500]


def _in_body_error(data: dict[str, Any]) -> ProviderError | None:
    """OpenRouter reports some failures inside a 200 (a body or stream chunk whose only
    content is `error`)."""
    error = data.get("error")
    if error is None or data.get("choices"):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    message = error.get("message") if isinstance(error, dict) else error
    return ProviderError(status, f"provider error: {message}"[:500])


class ChatClient:
    """One aiohttp session (keep-alive pool) for every OpenAI-compatible call of this
    process; made on first use inside the running loop, closed with the app."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, target: Target, body: dict[str, Any], stream: bool) -> Any:
        """The reply as a dict, or for a stream an async iterator of chunk dicts (the
        usage chunk included). Raises ProviderError before returning when the provider
        refuses or cannot be reached."""
        payload = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        payload["model"] = target.model
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        timeout = aiohttp.ClientTimeout(total=None if stream else self.timeout_s,
                                        sock_connect=min(self.timeout_s, 30.0), sock_read=self.timeout_s)
        try:
            response = await self._client().post(target.url, data=dumps(payload),
                                                 headers=target.headers, timeout=timeout)
        except TimeoutError as exc:
            raise ProviderError(504, f"no answer from {target.url} within {self.timeout_s:.0f}s") from exc
        except aiohttp.ClientError as exc:
            raise ProviderError(502, f"could not reach {target.url}: {type(exc).__name__}") from exc
        if response.status >= 400:
            try:
                raw = await response.read()
            except (TimeoutError, aiohttp.ClientError):
                raw = b""
            finally:
                response.release()
            raise ProviderError(response.status, _error_message(raw, response.status), response.headers)
        if stream:
            return self._chunks(response)
        try:
            data = loads(await response.read())
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError) as exc:
            raise ProviderError(502, f"unreadable reply from the provider: {type(exc).__name__}") from exc
        finally:
            response.release()
        error = _in_body_error(data) if isinstance(data, dict) else ProviderError(502, "reply is not a JSON object")
        if error is not None:
            raise error
        return data

    async def _chunks(self, response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
        parser = SSEParser()
        try:
            async for raw in response.content.iter_any():
                for _, data in parser.feed(raw):
                    error = _in_body_error(data)
                    if error is not None:
                        raise error
                    yield data
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ProviderError(502, f"the provider's stream broke: {type(exc).__name__}") from exc
        finally:
            # A stream left before its end (client gone, error) must not go back to the pool.
            if response.content.at_eof():
                response.release()
            else:
                response.close()
