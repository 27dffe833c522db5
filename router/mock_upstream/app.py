"""The FastAPI app: the three provider APIs, /v1/models, and the /_mock control endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from router.mock_upstream import chat, messages, responses
from router.mock_upstream.config import MockConfig, MockConfigError
from router.mock_upstream.errors import ApiShape, error_response
from router.mock_upstream.replies import plan_reply
from router.mock_upstream.sse import EventStream, dumps, silence_cut_notices
from router.mock_upstream.state import MockState

HANG_LIMIT_S = 3600.0  # a `timeout` fault hangs this long at most if the client never leaves
_REQUIRED = {"chat": "messages", "responses": "input", "messages": "messages"}


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, headers=headers, media_type="application/json")


async def _until_disconnect(request: Request, limit_s: float) -> None:
    async def wait() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wait(), limit_s)


async def _parse(api: ApiShape, request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error_response(api, 400, message="Request body is not valid JSON.")
    if not isinstance(body, dict):
        return error_response(api, 400, message="Request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return error_response(api, 400, message="model: required, a non-empty string.")
    field = _REQUIRED[api]
    if not isinstance(body.get(field), list if field == "messages" else (list, str)):
        return error_response(api, 400, message=f"{field}: required.")
    return body


async def _answer(state: MockState, api: ApiShape, request: Request) -> Response:
    body = await _parse(api, request)
    if isinstance(body, Response):
        return body
    model: str = body["model"]
    stream = body.get("stream") is True
    key, behaviour = state.behaviour(model)
    status = 404 if behaviour.unavailable else state.fault_status(key, behaviour)
    if status is None and behaviour.timeout:
        status = 0
    state.record(api, model, body, request.headers, stream, 200 if status is None else status)
    serial = next(state.serials)
    wait_s = state.latency_s(behaviour)
    if wait_s:
        await asyncio.sleep(wait_s)
    if status == 0:
        await _until_disconnect(request, HANG_LIMIT_S)
        return error_response(api, 504, model=model)  # nobody is listening any more
    if status:
        return error_response(api, status, model=model, retry_after_s=behaviour.retry_after_s)
    reply = plan_reply(api, model, body, serial, behaviour.tool_script, behaviour.answers)
    created = int(time.time())
    headers = {"x-request-id": f"req_mock{serial}"}
    if not stream:
        if api == "chat":
            return _json(chat.completion(reply, created), headers=headers)
        if api == "responses":
            return _json(responses.response_object(reply, body, created), headers=headers)
        return _json(messages.message(reply), headers=headers)
    if api == "chat":
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = chat.chunks(reply, created, include_usage)
    elif api == "responses":
        events = responses.events(reply, body, created)
    else:
        events = messages.events(reply)
    return EventStream(events, first_delay_s=behaviour.ttft_ms / 1000, delay_s=behaviour.chunk_delay_ms / 1000,
                       cut_after=behaviour.cut_mid_stream_after, headers=headers)


def _models_list(state: MockState, anthropic: bool) -> dict[str, Any]:
    names = [k for k in state.config.models if not any(c in k for c in "*?[")]
    names += [m for m in state.models if m not in state.config.models]
    names = [n for n in names if not state.behaviour(n)[1].unavailable]
    if anthropic:
        data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"} for n in names]
        return {"data": data, "has_more": False, "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None}
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": 1735689600, "owned_by": "autotier-mock"} for n in names]}


def create_app(config: MockConfig | None = None) -> FastAPI:
    """A fresh mock upstream app; its MockState is at `app.state.mock`."""
    silence_cut_notices()
    state = MockState(config or MockConfig())
    app = FastAPI(title="autotier mock upstream", docs_url=None, redoc_url=None)
    app.state.mock = state

    def provider_route(path: str, api: ApiShape) -> None:
        async def handler(request: Request) -> Response:
            return await _answer(state, api, request)
        handler.__name__ = f"{api}_endpoint"
        for prefix in ("/v1", ""):  # clients differ on whether api_base ends in /v1
            app.add_api_route(prefix + path, handler, methods=["POST"], include_in_schema=prefix == "/v1")

    provider_route("/chat/completions", "chat")
    provider_route("/responses", "responses")
    provider_route("/messages", "messages")

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        return _json(_models_list(state, "anthropic-version" in request.headers))

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/_mock/config")
    async def get_config() -> Response:
        return _json(state.config.model_dump())

    async def change_config(request: Request, merge: bool) -> Response:
        try:
            data = json.loads(await request.body() or b"{}")
            if not isinstance(data, dict):
                raise MockConfigError("config must be a JSON object")
            if merge:
                state.patch(data)
            else:
                state.replace(MockConfig.from_dict(data))
        except (ValueError, MockConfigError) as exc:
            return _json({"error": {"message": str(exc), "type": "invalid_request_error", "code": "bad_config"}}, 400)
        return _json(state.config.model_dump())

    @app.post("/_mock/config")
    async def replace_config(request: Request) -> Response:
        """Replace the live config (and re-arm fail_next counters, reseed)."""
        return await change_config(request, merge=False)

    @app.patch("/_mock/config")
    async def patch_config(request: Request) -> Response:
        """Merge into the live config per model key; a model set to null is removed."""
        return await change_config(request, merge=True)

    @app.get("/_mock/stats")
    async def get_stats() -> Response:
        return _json(state.stats())

    @app.delete("/_mock/stats")
    async def clear_stats() -> Response:
        state.clear_stats()
        return _json({"ok": True})

    @app.post("/_mock/reset")
    async def reset() -> Response:
        """Back to the start-up config with empty stats."""
        state.reset()
        return _json({"ok": True})

    return app
