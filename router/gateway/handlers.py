"""One proxied request end to end: parse, authenticate, route, enforce payment and rate
limits, call the upstream along the decision's chain, answer in the client's format,
write the ledger row. `route()` decides; this module only carries the decision out."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from router.catalog import Model
from router.classification import LazyClassifier, needs_classification
from router.contract import ApiKind, RoutingDecision, RoutingRequest
from router.core import RouterState, route
from router.errors import AutotierError, NoModelAvailableError
from router.gateway import billing, feedback, intake, outbound, wire
from router.gateway.accounts import Hold, Ledger, UsageRow
from router.gateway.capture import CapturePolicy, store
from router.gateway.database import Transaction
from router.gateway.decision_record import DecisionRecord, decision_record
from router.gateway.live_state import LiveState
from router.gateway.metrics import GatewayMetrics
from router.gateway.reload import ConfigHolder
from router.gateway.settings import GatewaySettings
from router.gateway.streaming import StreamOutcome, relay, to_dict
from router.gateway.upstream import Failure, Served, Upstream, UpstreamUnavailable, call_chain
from router.reasoning import strip_foreign_reasoning

log = logging.getLogger("autotier.gateway")


def header_safe(text: str, limit: int) -> str:
    """ASCII, no control characters, at most `limit` characters."""
    # Printable ASCII is exactly 32..126, the common case, checked in C.
    clean = text if text.isascii() and text.isprintable() else "".join(
        c if 32 <= ord(c) < 127 else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def merge_params(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The body with the decision's params merged in; the decision wins, objects merge."""
    out = dict(body)
    for key, value in params.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def first_event(item: Any) -> dict[str, Any]:
    """A stream's first item as a dict (raw SSE bytes from a pass-through: their first event)."""
    if isinstance(item, (bytes, bytearray, str)):
        events = wire.SSEParser().feed(item.encode() if isinstance(item, str) else bytes(item))
        return events[0][1] if events else {}
    return to_dict(item)


class ErrorReply(Exception):
    """An AutotierError plus the headers its reply needs (e.g. Retry-After)."""

    def __init__(self, error: AutotierError, headers: dict[str, str] | None = None):
        super().__init__(error.message)
        self.error = error
        self.headers = headers or {}


@dataclasses.dataclass
class Trace:
    """What the ledger needs, filled in as the request goes."""

    api: ApiKind
    started: float
    account_id: int | None = None
    decision: RoutingDecision | None = None
    mode: str | None = None
    session_id: str | None = None
    requested: str | None = None
    client_ip: str | None = None
    ip_key: str = "unknown"  # the client's IP, or its /64 for IPv6: what per-address limits count
    caller: str = "unknown"  # who counts for cooldowns and anonymous limits: account, else ip_key
    hold: Hold | None = None
    provider_fields: tuple[str, ...] | None = None
    estimated_input: int = 0  # billed when a cut stream never reports usage
    record: DecisionRecord | None = None
    # The reply's id (x-autotier-response-id): always the gateway's own, unique.
    response_id: str = dataclasses.field(default_factory=feedback.new_response_id)
    provider_response_id: str | None = None
    failures: dict[str, int] = dataclasses.field(default_factory=dict)  # model -> status it failed with
    body: dict[str, Any] | None = None  # set once routed: what implicit feedback and capture read


class Gateway:
    """Everything a request needs, held by the app for its lifetime."""

    def __init__(self, settings: GatewaySettings, config: ConfigHolder, ledger: Ledger,
                 live: LiveState, metrics: GatewayMetrics, upstream: Upstream | None = None):
        self.settings = settings
        self.config = config
        self.ledger = ledger
        self.live = live
        self.metrics = metrics
        self.upstream = upstream
        # The efficient tier's classifier runs on its own thread so that a request's
        # inference never holds up the event loop serving the others.
        self.classifier = LazyClassifier(settings.classifier)
        self.capture = CapturePolicy.from_settings(settings.capture_rate, settings.capture_retention_days,
                                                   settings.capture_context, settings.capture_redact)
        self._classify_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autotier-classify")
        # Limit keys (IP or /64) over their failed-request budget -> until when (this process).
        self._blocked: OrderedDict[str, float] = OrderedDict()
        # Holds of this process's requests still running -> when taken: renewed by the sweep
        # (app.py) so that a stream outliving the hold lifetime keeps its hold, up to
        # `settings.max_request_s`.
        self.live_holds: dict[int, float] = {}

    async def classify(self, body: dict[str, Any], mode: str | None) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._classify_pool, self.classifier.predict, body, mode)

    # ---- deciding ---------------------------------------------------------------------
    async def routing_request(self, api: ApiKind, request: Request, body: dict[str, Any],
                              trace: Trace) -> tuple[RoutingRequest, intake.Caller]:
        trace.requested = body.get("model")
        caller = await intake.authenticate(request, self.ledger)
        kilo = intake.kilo_headers(request)
        trace.account_id, trace.mode, trace.session_id = caller.account_id, kilo.mode, kilo.session_id
        if caller.account_id is not None:
            trace.caller = f"account:{caller.account_id}"
        previous = await self.live.session_model(kilo.session_id) if kilo.session_id else None
        user_id = f"account:{caller.account_id}" if caller.account_id else kilo.machine_id
        classification = None
        if needs_classification(self.config.config, body.get("model")):
            classification = await self.classify(body, kilo.mode)
        routing = RoutingRequest(
            requested_model=body.get("model"), api_kind=api, mode=kilo.mode,
            session_id=kilo.session_id, user_id=user_id,
            client_ip=trace.client_ip,
            account=caller.account, estimated_prompt_tokens=wire.estimated_tokens(api, body),
            required_modalities=wire.modalities(api, body), previous_model=previous,
            classification=classification,
            # The key's policy (data/policies.yaml); PolicyError for a name the file lacks.
            policy=self.config.config.policies.effective(caller.row.policy) if caller.row else None,
        )
        return routing, caller

    def decide(self, routing: RoutingRequest, explain: bool = False) -> RoutingDecision:
        """`route()` with the live availability. When every model of a free-only tier is
        cooling down, it is asked again with cooldowns lifted: a free model that may
        work beats "model unavailable". `explain`: for POST /v1/route, counted apart."""
        config = self.config.config
        now = time.time()
        availability = self.live.availability(now)
        try:
            decision = route(routing, RouterState(config, availability))
        except NoModelAvailableError as exc:
            tier = config.tiers.tiers.get(exc.tier)
            if tier is None or not tier.free_only:
                waits = [s.until - now for s in availability.statuses.values() if s.until]
                wait = max(1, round(min(waits))) if waits else 1
                raise ErrorReply(exc, {"retry-after": str(wait)}) from None
            decision = route(routing, RouterState(config))
            decision = dataclasses.replace(
                decision, reason=(*decision.reason, "every free model is cooling down: trying them anyway")
            )
        if decision.tier is None:
            left = self.live.cooldown_left(decision.model, now)
            if left > 0:
                raise ErrorReply(AutotierError(
                    f"{decision.model} is cooling down after upstream errors; retry in {left:.0f}s",
                    code="model_cooling_down", status=503), {"retry-after": str(max(1, round(left)))})
        if explain:
            self.metrics.explains.labels(decision.tier or "none").inc()
        else:
            self.metrics.decisions.labels(decision.tier or "none", decision.model).inc()
        return decision

    async def admit(self, api: ApiKind, body: dict[str, Any], decision: RoutingDecision,
                    caller: intake.Caller, trace: Trace) -> list[Model]:
        """Payment and rate-limit checks; returns the models the caller may be served by.
        For paid models the request's cost bound is held first (trace.hold)."""
        catalog = self.config.config.catalog
        account = caller.account
        if not decision.free and not account.authenticated:
            raise ErrorReply(AutotierError(
                f"{decision.model} is a paid model: send an API key (Authorization: Bearer ...) "
                "or use kilo-auto/free", code="PAID_MODEL_AUTH_REQUIRED", status=401))
        if not account.authenticated and decision.free:
            wait = await self.live.hit(f"anon:{trace.caller}", self.settings.anonymous_per_hour,
                                       self.settings.rate_window_s, time.time())
            if wait is not None:
                raise ErrorReply(AutotierError(
                    f"anonymous limit of {self.settings.anonymous_per_hour} requests per hour on free "
                    "models reached; retry later or use an API key",
                    code="rate_limit_exceeded", status=429), {"retry-after": str(max(1, round(wait)))})
        allowed = [catalog[m] for m in decision.chain if m in catalog]
        paid = [m for m in allowed if not m.free]  # every one has a price: the catalog refuses others
        if paid and caller.account_id is not None:
            trace.hold = await self.hold(api, body, paid, caller.account_id)
        if paid and trace.hold is None:
            allowed = [m for m in allowed if m.free]
            if not allowed:
                raise ErrorReply(self.unaffordable(api, body, paid, account.balance))
        return allowed

    async def hold(self, api: ApiKind, body: dict[str, Any], paid: list[Model], account_id: int) -> Hold | None:
        tokens_in = billing.input_token_bound(api, body)
        cap = billing.client_output_cap(api, body)

        def plan(balance: float) -> tuple[float, int | None] | None:
            found = billing.plan_hold(paid, tokens_in, cap, balance, self.settings.min_output_tokens)
            return (found.amount, found.max_output_tokens) if found else None

        hold = await asyncio.to_thread(self.ledger.reserve, account_id, plan)
        if hold is not None:
            self.live_holds[hold.id] = time.time()
        return hold

    def unaffordable(self, api: ApiKind, body: dict[str, Any], paid: list[Model], balance: float) -> AutotierError:
        tokens_in = billing.input_token_bound(api, body)
        least = billing.plan_hold(paid, tokens_in, self.settings.min_output_tokens, float("inf"),
                                  self.settings.min_output_tokens)
        needed = f"; it needs at least {least.amount:.4f} USD held" if least else ""
        return AutotierError(
            f"{paid[0].id} is a paid model and the account balance is {balance:.4f} USD{needed} "
            f"(up to {tokens_in} input tokens and {self.settings.min_output_tokens}+ output tokens); "
            "top up or use kilo-auto/free", code="INSUFFICIENT_BALANCE", status=402)

    # ---- serving ----------------------------------------------------------------------
    async def handle(self, api: ApiKind, request: Request) -> Response:
        trace = Trace(api=api, started=time.monotonic())
        try:
            self.identify(request, trace)
            self.check_blocked(trace.ip_key)
            body = await intake.read_json(request, self.settings.max_body_bytes, self.settings.body_timeout_s,
                                          lambda value: wire.validate(api, value))
            routing, caller = await self.routing_request(api, request, body, trace)
            allowed_fields = caller.row.allowed_fields if caller.row else frozenset()
            outbound.check_tools(body, allowed_fields)
            decision = self.decide(routing)
            trace.decision = decision
            trace.record = decision_record(decision, routing, self.config.config)
            trace.body = body
            chain = await self.admit(api, body, decision, caller, trace)
            return await self.serve(api, body, routing, decision, chain, trace, allowed_fields)
        except ErrorReply as reply:
            return await self.error(api, reply.error, trace, reply.headers)
        except UpstreamUnavailable as exc:
            headers = {"retry-after": str(max(1, round(exc.retry_after)))} if exc.retry_after else {}
            return await self.error(api, exc, trace, headers, tried=getattr(exc, "tried", ()))
        except AutotierError as exc:
            return await self.error(api, exc, trace)
        except Exception as exc:  # noqa: BLE001 - a bug must still settle the hold and leave a row
            log.error("unexpected %s serving %s", type(exc).__name__, api.value, exc_info=exc)
            return await self.error(api, AutotierError("internal error; see the gateway log",
                                                       code="internal_error", status=500), trace)

    def identify(self, request: Request, trace: Trace) -> None:
        trace.client_ip = intake.client_ip(request, self.settings.trusted_proxies)
        trace.ip_key = trace.caller = intake.limit_key(trace.client_ip)

    def check_blocked(self, key: str) -> None:
        until = self._blocked.get(key)
        if until is None:
            return
        left = until - time.time()
        if left <= 0:
            del self._blocked[key]
            return
        raise ErrorReply(AutotierError(
            f"too many failed requests from this address; retry in {left:.0f}s",
            code="too_many_failed_requests", status=429), {"retry-after": str(max(1, round(left)))})

    async def count_failure(self, key: str) -> None:
        """A failed request (4xx) from `key`; past the budget the key is blocked for the
        rest of the minute."""
        now = time.time()
        wait = await self.live.hit(f"failed:{key}", self.settings.failures_per_minute, 60.0, now)
        if wait is not None:
            self._blocked[key] = now + wait
            self._blocked.move_to_end(key)
            while len(self._blocked) > 100_000:
                self._blocked.popitem(last=False)

    async def serve(self, api: ApiKind, body: dict[str, Any], routing: RoutingRequest,
                    decision: RoutingDecision, chain: list[Model], trace: Trace,
                    allowed_fields: frozenset[str]) -> Response:
        assert self.upstream is not None, "the gateway was built without an upstream"
        catalog = self.config.config.catalog
        previous = catalog.get(routing.previous_model or "")
        produced_by = previous.family if previous else None
        stream = bool(body.get("stream"))
        sendable, dropped = outbound.provider_body(api, body, allowed_fields)
        cap = trace.hold.max_output_tokens if trace.hold else None
        trace.estimated_input = billing.estimated_input_tokens(api, body)

        def body_for(model: Model) -> dict[str, Any]:
            stripped = strip_foreign_reasoning(sendable, api, produced_by, model.family)
            sent = billing.with_output_cap(api, merge_params(stripped, decision.params), cap)
            trace.provider_fields = tuple(sorted(sent))
            return sent

        async def on_failure(model: Model, failure: Failure) -> None:
            self.metrics.fallbacks.labels(model.id, str(failure.status)).inc()
            trace.failures[model.id] = failure.status
            if failure.from_provider and await self.trips_cooldown(model.id, trace.caller):
                seconds = failure.retry_after if failure.retry_after is not None else self.settings.cooldown_s
                self.live.cool_down(model.id, min(seconds, self.settings.max_cooldown_s), time.time())

        served = await call_chain(self.upstream, api, chain, body_for, stream, on_failure)
        self.metrics.upstream_latency.labels(served.model.id).observe(served.latency_s)
        if routing.session_id:
            await self.live.remember_session(routing.session_id, served.model.id)
        payload = first_event(served.first) if stream else to_dict(served.result)
        # The header always carries the gateway's own id (unique); the provider's id, which the
        # client sees in the body and which can repeat (a provider restarting its counter), is
        # kept beside it: feedback accepts either.
        trace.provider_response_id = feedback.provider_response_id(api, payload)
        headers = self.decision_headers(decision, served)
        headers["x-autotier-response-id"] = trace.response_id
        if dropped:
            headers["x-autotier-dropped-fields"] = header_safe(",".join(dropped), 512)
        if stream:
            return self.stream_reply(api, served, trace, headers)
        payload["model"] = served.model.id
        reported = wire.usage_tokens(api, payload["usage"]) if payload.get("usage") else None
        usage = billing.reply_usage(api, payload, reported, trace.estimated_input)
        await self.record(trace, 200, served.model, served.tried, usage, empty=not feedback.has_output(api, payload))
        return Response(wire.dumps(payload), media_type="application/json", headers=headers)

    async def trips_cooldown(self, model_id: str, caller: str) -> bool:
        """Count a provider failure of `model_id` seen by `caller`; True once failures from
        `cooldown_after_failures` distinct callers fall in one window, so that nothing one
        client sends can take a model offline for the others."""
        now, window = time.time(), self.settings.cooldown_window_s
        if await self.live.hit(f"fail:{model_id}:{caller}", 1, window, now) is not None:
            return False  # this caller already counted in this window
        needed = max(1, self.settings.cooldown_after_failures)
        return await self.live.hit(f"fail:{model_id}", needed - 1, window, now) is not None

    def stream_reply(self, api: ApiKind, served: Served, trace: Trace, headers: dict[str, str]) -> Response:
        outcome = StreamOutcome()
        recorded = False

        async def commit(status: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            usage = outcome.usage(trace.estimated_input)
            await asyncio.shield(self.record(trace, status, served.model, served.tried, usage,
                                             empty=outcome.delivered_chars == 0))

        async def left_early() -> None:
            if not recorded:
                log.info("client left the %s stream from %s before its end", api.value, served.model.id)
                await commit(CLIENT_CLOSED)

        async def body() -> Any:
            # Once the stream has its final event (or an error), events are held back one
            # step so the very last one leaves only after the usage row is committed: a client
            # that saw the stream's end has its ledger row (docs/gateway.md, "Durability").
            # A client that leaves early is billed for what it was sent (status 499).
            held: list[bytes] = []
            try:
                async for chunk in relay(api, served, served.model.id, outcome):
                    if held:
                        yield held.pop()
                    if outcome.completed or outcome.error is not None:
                        held.append(chunk)
                    else:
                        yield chunk
                await commit(200 if outcome.error is None else 502)
                if held:
                    yield held.pop()
            finally:
                await left_early()

        headers = {**headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
        # `left_early` also runs when the client left before the body started (a generator
        # never started runs no `finally`): the row is written and the hold settled either way.
        return ClosingStreamingResponse(body(), media_type="text/event-stream", headers=headers, on_close=left_early)

    def decision_headers(self, decision: RoutingDecision, served: Served) -> dict[str, str]:
        reason = list(decision.reason)
        if served.tried:
            reason.append(f"fell back past {', '.join(served.tried)} to {served.model.id}")
        headers = {
            "x-autotier-tier": decision.tier or "none",
            "x-autotier-model": served.model.id,
            "x-autotier-reason": header_safe(" | ".join(reason), self.settings.reason_header_max),
        }
        if served.tried:
            headers["x-autotier-fallbacks"] = header_safe(",".join(served.tried), 512)
        return headers

    # ---- bookkeeping ------------------------------------------------------------------
    async def record(self, trace: Trace, status: int, model: Model | None,
                     tried: tuple[str, ...], usage: tuple[int, int] = (0, 0), empty: bool = False) -> None:
        """Write the usage row and settle the request's hold, once; with it the implicit
        feedback and, when sampled, the capture. `empty`: a reply without text or tool call."""
        api_label = trace.api.value
        self.metrics.requests.labels(api_label, str(status)).inc()
        decision = trace.decision
        cost = model.cost_usd(*usage) if model is not None else 0.0
        row = UsageRow(
            account_id=trace.account_id, api=api_label, tier=decision.tier if decision else None,
            requested_model=trace.requested if isinstance(trace.requested, str) else None,
            resolved_model=model.id if model else None, fallbacks_tried=tuple(tried),
            tokens_in=usage[0], tokens_out=usage[1], cost_usd=cost,
            latency_ms=(time.monotonic() - trace.started) * 1000, status=status,
            mode=trace.mode, session_id=trace.session_id, provider_fields=trace.provider_fields,
            decision=trace.record, response_id=trace.response_id,
            provider_response_id=trace.provider_response_id,
        )
        hold, trace.hold = trace.hold, None
        if hold is not None:
            self.live_holds.pop(hold.id, None)  # settled below (or, if that fails, released when stale)
        chosen = decision.model if decision is not None and decision.tier is None else None
        seen = feedback.Observed(chosen, empty, self.settings.retry_window_s, dict(trace.failures))
        try:
            await asyncio.to_thread(self.write_row, trace, row, hold, seen)
        except Exception:  # noqa: BLE001 - a ledger failure must not fail the reply
            log.exception("could not write the usage row")

    def write_row(self, trace: Trace, row: UsageRow, hold: Hold | None, seen: feedback.Observed) -> None:
        """On a worker thread (parsing the body and redacting take CPU): the usage row with
        its request hash, implicit feedback and capture, in one transaction."""
        snapshot = None
        try:  # bookkeeping: whatever it meets, the usage row is still written
            session = feedback.session_of(trace.body)
            if session is not None:
                row = dataclasses.replace(row, request_hash=feedback.request_hash(
                    trace.caller, row.requested_model, session))
            if row.status < 400:  # a refused request (402, 429, ...) is not worth keeping
                snapshot = self.capture.snapshot(session, row.response_id)
        except Exception:  # noqa: BLE001
            log.exception("could not read the request for feedback and capture")

        def beside(tx: Transaction, usage_id: int) -> None:
            tx.attempt("implicit feedback", lambda: feedback.record_implicit(tx, usage_id, row, seen))
            if snapshot is not None:
                tx.attempt("a request capture", lambda: store(tx, usage_id, row, snapshot, self.capture.retention_s))

        self.ledger.record(row, hold, beside)

    async def error(self, api: ApiKind, exc: AutotierError, trace: Trace,
                    headers: dict[str, str] | None = None, tried: tuple[str, ...] = ()) -> Response:
        status = exc.status if 400 <= exc.status < 600 else 500
        self.metrics.errors.labels(api.value, exc.code).inc()
        await self.record(trace, status, None, tried)
        if 400 <= status < 500 and status not in (402, 429):
            await self.count_failure(trace.ip_key)
        extra = {**(headers or {}), "x-autotier-response-id": trace.response_id}
        if trace.decision is not None:
            extra["x-autotier-tier"] = trace.decision.tier or "none"
        return JSONResponse(wire.error_body(api, status, exc.code, exc.message), status_code=status,
                            headers=extra)


# nginx's code for "client closed request": the client left before the answer ended.
CLIENT_CLOSED = 499


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its body generator as soon as the response ends,
    also when the client disconnected mid-stream: the generator's `finally` (settling the
    bill) then runs now, not whenever the garbage collector gets to it. `on_close` runs
    after that in every case, also when the body never started."""

    def __init__(self, *args: Any, on_close: Callable[[], Awaitable[None]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except OSError:  # the client's connection broke while sending
            log.info("client connection lost while streaming")
        finally:
            closer = getattr(self.body_iterator, "aclose", None)
            if closer is not None:
                await closer()
            if self.on_close is not None:
                await self.on_close()
