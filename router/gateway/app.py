"""The FastAPI app: the same handlers under `/v1`, `/api/openrouter`, `/api/gateway` and
`/api/gateway/v1` (the proxy routes and feedback), plus health, readiness, metrics and the
explain endpoint. Every error
leaves in the client API's error shape; no stack trace ever reaches a client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from router.contract import ApiKind
from router.errors import AutotierError
from router.gateway import capture, feedback, wire
from router.gateway.accounts import Ledger
from router.gateway.catalog_view import caller_policy, models_listing
from router.gateway.changelog import TierChangelog, add_changelog_routes
from router.gateway.dashboard import add_dashboard_routes
from router.gateway.handlers import ErrorReply, Gateway, Trace
from router.gateway.intake import authenticate, read_json
from router.gateway.live_state import LiveState, LiveStateUnavailable, live_state_for
from router.gateway.metrics import GatewayMetrics
from router.gateway.reload import ConfigHolder
from router.gateway.schemas import REQUEST_SCHEMAS, ROUTE_SCHEMA
from router.gateway.settings import GatewaySettings
from router.gateway.upstream import Upstream, load_litellm

log = logging.getLogger("autotier.gateway")
PREFIXES = ("/v1", "/api/openrouter", "/api/gateway", "/api/gateway/v1")
ENDPOINTS = {"chat/completions": ApiKind.CHAT, "responses": ApiKind.RESPONSES, "messages": ApiKind.MESSAGES}


def api_of_path(path: str) -> ApiKind:
    return ApiKind.MESSAGES if path.rstrip("/").endswith("/messages") else ApiKind.CHAT


def create_app(settings: GatewaySettings, *, live: LiveState | None = None,
               upstream: Upstream | None = None, watch: bool = True) -> FastAPI:
    """The gateway app. LiteLLM is imported at start-up (lifespan) unless `upstream` is given.

    The ledger is PostgreSQL when `settings.database_url` is set, else the SQLite file
    `settings.db_path` (LedgerUnavailable here if it cannot be opened). The live state is
    `live`, else Redis when `settings.redis_url` is set, else the SQLite file
    `settings.live_db_path` when set (workers on one machine), else in-process; an unreachable
    Redis fails the start-up (LiveStateUnavailable, also left in `app.state.startup_error`)."""
    holder = ConfigHolder(settings.data_dir)
    live = live or live_state_for(settings.redis_url, settings.live_db_path, refresh_s=settings.live_refresh_s,
                                  session_ttl_s=settings.session_ttl_s)
    gateway = Gateway(settings, holder, Ledger(settings.database_url or settings.db_path), live,
                      GatewayMetrics(), upstream)
    changelog = TierChangelog(gateway.ledger, holder)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await gateway.live.start()
        except LiveStateUnavailable as exc:
            app.state.startup_error = str(exc)
            log.error("%s", exc)
            gateway.ledger.close()
            raise
        if gateway.upstream is None:
            litellm = await asyncio.to_thread(load_litellm)
            gateway.upstream = Upstream(litellm, settings.mock_upstream, settings.upstream_timeout_s,
                                        settings.upstream_client)
        changelog.watch_reloads()
        await changelog.record_async("deploy")  # a no-op unless the mapping differs from the last recorded
        watcher = asyncio.create_task(holder.watch(settings.reload_poll_s)) if watch else None
        sweeper = asyncio.create_task(_sweep(gateway))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, holder.reload, "SIGHUP")
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            sweeper.cancel()
            if watcher is not None:
                watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)
            await gateway.live.close()
            if gateway.upstream is not None:
                await gateway.upstream.close()
            gateway.ledger.close()

    app = FastAPI(title="autotier gateway", version="0.1.0", lifespan=lifespan,
                  description="OpenAI / Anthropic / Responses-compatible router for coding assistants.")
    app.state.gateway = gateway
    app.state.ready = False
    app.state.startup_error = None
    _add_error_handlers(app, gateway)
    _add_proxy_routes(app, gateway)
    _add_service_routes(app, gateway)
    add_changelog_routes(app, changelog, PREFIXES)
    add_dashboard_routes(app, gateway)  # /dashboard, admin only (docs/gateway.md#dashboard)
    return app


async def _sweep(gateway: Gateway) -> None:
    """At start-up, then every quarter of a hold's lifetime: `sweep_once`."""
    while True:
        await sweep_once(gateway)
        await asyncio.sleep(gateway.settings.hold_ttl_s / 4)


async def sweep_once(gateway: Gateway) -> None:
    """Clear request hashes past the retry window, renew the holds of this process's running
    requests, give back holds left by processes that died mid-request (docs/security.md),
    and delete expired request captures. A step that fails is logged and retried next round."""
    settings, ledger = gateway.settings, gateway.ledger
    await _logged("clear old request hashes", ledger.forget_request_hashes, time.time() - settings.retry_window_s)
    now = time.time()
    for hold_id, taken in list(gateway.live_holds.items()):
        if now - taken > settings.max_request_s:
            del gateway.live_holds[hold_id]  # no longer renewed: released once stale
    await _logged("renew the holds of running requests", ledger.renew_holds, set(gateway.live_holds))
    if released := await _logged("release stale holds", ledger.release_stale_holds, settings.hold_ttl_s):
        log.warning("released %d hold(s) older than %gs (a gateway process died mid-request?)",
                    released, settings.hold_ttl_s)
    if deleted := await _logged("delete expired captures", capture.delete_expired, ledger):
        log.info("deleted %d expired request capture(s)", deleted)


async def _logged(what: str, fn: Callable[..., int], *args: Any) -> int | None:
    """`fn(*args)` on a worker thread; None (logged) if it raised."""
    try:
        return await asyncio.to_thread(fn, *args)
    except Exception:  # noqa: BLE001 - the sweep goes on; the next round retries
        log.exception("could not %s", what)
        return None


def _add_proxy_routes(app: FastAPI, gateway: Gateway) -> None:
    for prefix in PREFIXES:
        for path, api in ENDPOINTS.items():
            app.add_api_route(
                f"{prefix}/{path}", _proxy(gateway, api), methods=["POST"],
                name=f"{api.value}{prefix.replace('/', '_')}", tags=[api.value],
                openapi_extra={"requestBody": {"required": True, "content": {
                    "application/json": {"schema": REQUEST_SCHEMAS[api]}}}},
            )
        app.add_api_route(f"{prefix}/models", _models(gateway), methods=["GET"],
                          name=f"models{prefix.replace('/', '_')}", tags=["models"])
        app.add_api_route(f"{prefix}/feedback", _feedback(gateway), methods=["POST"],
                          name=f"feedback{prefix.replace('/', '_')}", tags=["feedback"],
                          openapi_extra={"requestBody": {"required": True, "content": {
                              "application/json": {"schema": feedback.SCHEMA}}}})


def _proxy(gateway: Gateway, api: ApiKind) -> Any:
    async def endpoint(request: Request) -> Response:
        return await gateway.handle(api, request)

    endpoint.__doc__ = f"Route and proxy one {api.value} request (stream or not)."
    return endpoint


def _feedback(gateway: Gateway) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        """Outcome feedback on one of the caller's replies, named by `response_id` (the
        x-autotier-response-id header) or `session_id` + `turn`: `rating` (up|down),
        `outcome` (accepted|reverted), `solved` (bool), `note` (docs/gateway.md, "Feedback")."""
        trace = Trace(api=ApiKind.CHAT, started=0.0)
        try:
            gateway.identify(request, trace)
            gateway.check_blocked(trace.ip_key)
            caller = await authenticate(request, gateway.ledger)
            if caller.account_id is None:
                raise AutotierError("feedback needs an API key (Authorization: Bearer ...)",
                                    code="invalid_api_key", status=401)
            wait = await gateway.live.hit(f"feedback:{caller.account_id}", gateway.settings.feedback_per_minute,
                                          60.0, time.time())
            if wait is not None:
                raise ErrorReply(AutotierError(
                    f"feedback limit of {gateway.settings.feedback_per_minute} calls per minute for this key "
                    "reached", code="rate_limit_exceeded", status=429), {"retry-after": str(max(1, round(wait)))})
            body = await read_json(request, feedback.MAX_BODY_BYTES, gateway.settings.body_timeout_s,
                                   feedback.parse_feedback)
            given = await asyncio.to_thread(feedback.give, gateway.ledger, caller.account_id, body)
            if given is None:
                raise AutotierError("no reply with that id (or session turn) for this API key",
                                    code="response_not_found", status=404)
        except ErrorReply as reply:
            err = reply.error
            gateway.metrics.errors.labels("feedback", err.code).inc()
            return JSONResponse(wire.error_body(ApiKind.CHAT, err.status, err.code, err.message),
                                status_code=err.status, headers=reply.headers)
        except AutotierError as err:
            if 400 <= err.status < 500:  # failures count: ids cannot be probed at length
                await gateway.count_failure(trace.ip_key)
            gateway.metrics.errors.labels("feedback", err.code).inc()
            return JSONResponse(wire.error_body(ApiKind.CHAT, err.status, err.code, err.message),
                                status_code=err.status)
        for item in given["feedback"]:
            gateway.metrics.feedback.labels(item["signal"], item["value"]).inc()
        return JSONResponse(given)

    return endpoint


def _models(gateway: Gateway) -> Any:
    async def endpoint(request: Request) -> JSONResponse:
        """Every virtual tier and catalog model (OpenRouter schema + Kilo extensions); for a
        key with a policy, only what it may use."""
        holder = gateway.config
        config, version = holder.config, holder.mapping_version  # one config, before any await
        policy = await caller_policy(request, gateway.ledger, config)
        body = {**models_listing(config, policy), "mapping_version": version}
        return JSONResponse(body, headers={"x-autotier-mapping-version": version})

    return endpoint


def _add_service_routes(app: FastAPI, gateway: Gateway) -> None:
    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    async def readyz() -> JSONResponse:
        """Ready to serve: config loaded and the upstream layer imported. `live_state`:
        in-process, redis, redis-degraded (Redis unreachable; still serving, see docs), sqlite
        or sqlite-degraded (`--workers N`); `pid`: the worker process that answered."""
        ready = bool(app.state.ready) and gateway.upstream is not None
        body = {"status": "ready" if ready else "starting", "config_version": gateway.config.version,
                "config_error": gateway.config.last_error, "live_state": gateway.live.health(),
                "pid": os.getpid()}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["service"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)

    @app.post("/v1/route", tags=["service"], openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": ROUTE_SCHEMA}}}})
    async def explain(request: Request) -> Response:
        """The routing decision for a request body, without calling any provider. The body is
        a chat, Responses or Messages body; `api` (chat|responses|messages) says which."""
        trace = Trace(api=ApiKind.CHAT, started=0.0)
        try:
            gateway.identify(request, trace)
            body = await read_json(request, gateway.settings.max_body_bytes, gateway.settings.body_timeout_s)
            if not isinstance(body, dict):
                raise wire.bad_request("request body must be a JSON object", "invalid_body")
            api_name = body.get("api", "chat")
            if api_name not in {a.value for a in ApiKind}:
                raise wire.bad_request("'api' must be one of chat, responses, messages", "invalid_value")
            if body.get("model") is not None and not isinstance(body["model"], str):
                raise wire.bad_request("field 'model' must be a string", "invalid_type")
            api = ApiKind(api_name)
            routing, _ = await gateway.routing_request(api, request, body, trace)
            return JSONResponse(gateway.decide(routing, explain=True).to_dict())
        except ErrorReply as reply:
            err = reply.error
            return JSONResponse(wire.error_body(ApiKind.CHAT, err.status, err.code, err.message),
                                status_code=err.status, headers=reply.headers)
        except AutotierError as err:
            return JSONResponse(wire.error_body(ApiKind.CHAT, err.status, err.code, err.message),
                                status_code=err.status)


def _add_error_handlers(app: FastAPI, gateway: Gateway) -> None:
    def reply(request: Request, status: int, code: str, message: str) -> JSONResponse:
        gateway.metrics.errors.labels(api_of_path(request.url.path).value, code).inc()
        body = wire.error_body(api_of_path(request.url.path), status, code, message)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return reply(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return reply(request, 400, "invalid_request", "invalid request")

    @app.exception_handler(AutotierError)
    async def autotier_error(request: Request, exc: AutotierError) -> JSONResponse:
        return reply(request, exc.status, exc.code, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return reply(request, 500, "internal_error", "internal error; see the gateway log")
