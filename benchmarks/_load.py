"""An open-loop HTTP/1.1 load generator for the gateway benchmarks (one process, one core).

    python benchmarks/_load.py SPEC.json        # prints "MARK start", "MARK end", then one JSON line

Requests are sent at fixed times (`rate` per second) whether or not earlier ones have
answered, and each latency is measured from the request's *scheduled* send time, so a
stalled server or a busy generator shows up as latency instead of silently lowering the
rate (no coordinated omission). The client is a minimal keep-alive HTTP/1.1 client on raw
asyncio protocols (uvloop when installed): one request per connection at a time, a pool
of up to `max_connections`, requests that find no free connection wait in a queue (their
clock is already running). It parses Content-Length and chunked bodies and nothing more:
it is for loopback servers of this project, not for the internet.

SPEC (JSON): {"host", "port", "rate", "warmup_s", "duration_s", "templates": [{"path",
"headers": {...}, "bodies": [obj, ...], "variants": int, "stream": bool, "weight": float}],
"disconnect_rate", "max_connections", "abort_after_s", "drain_s", "seed"}. A request whose
stream should be dropped by the client (`disconnect_rate`) is closed after its first body bytes.

Result: sent / ok / errors by kind / disconnected, latency percentiles (ms; `latency_ms` over
all measured requests with failures counted as infinitely slow, so a p99 is finite only while
fewer than 1% fail; `latency_ok_ms` over the successful ones), time to response headers
(successful requests), send lag (how late the generator wrote
each request: its own saturation), the generator's CPU time, and whether the step was
aborted because some request waited longer than `abort_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import resource
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

INF = math.inf


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..1); NaN when empty."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def summarise_ms(values: list[float]) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max/mean of seconds, in ms; inf or NaN become None (JSON null)."""
    ordered = sorted(values)
    finite = [v for v in ordered if v != INF]

    def ms(v: float) -> float | None:
        return None if v == INF or v != v else round(v * 1000, 3)

    return {
        "p50": ms(percentile(ordered, 0.50)), "p90": ms(percentile(ordered, 0.90)),
        "p99": ms(percentile(ordered, 0.99)), "p999": ms(percentile(ordered, 0.999)),
        "max": ms(ordered[-1]) if ordered else None,
        "mean_ok": ms(sum(finite) / len(finite)) if finite else None,
    }


@dataclass(slots=True)
class Request:
    payload: bytes
    scheduled: float
    stream: bool
    measured: bool
    disconnect: bool = False
    written: float = 0.0
    headers_at: float = 0.0
    done_at: float = 0.0
    status: int = 0
    outcome: str = ""  # "ok", "disconnected", or an error kind


@dataclass
class Template:
    payloads: list[bytes]
    stream: bool
    weight: float = 1.0
    next_index: int = 0

    def payload(self) -> bytes:
        self.next_index = (self.next_index + 1) % len(self.payloads)
        return self.payloads[self.next_index]


def build_payload(host: str, port: int, path: str, headers: dict[str, str], body: Any) -> bytes:
    """The raw bytes of one POST with a JSON body."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    lines = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", "content-type: application/json",
             f"content-length: {len(raw)}", "connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + raw


def _content_length(head: bytes) -> int:
    """Content-Length from a lower-cased response head; 0 when absent."""
    marker = head.find(b"content-length:")
    if marker < 0:
        return 0
    end = head.find(b"\r\n", marker)
    return int(head[marker + 15: end if end > 0 else len(head)].strip() or 0)


def _payloads(host: str, port: int, template: dict[str, Any]) -> list[bytes]:
    """max(len(bodies), variants) requests, used in turn; "{i}" in a header value becomes the
    request's index (e.g. a different session id per variant)."""
    bodies, headers = template["bodies"], template.get("headers", {})
    count = max(len(bodies), int(template.get("variants", 1)))
    return [build_payload(host, port, template["path"], {k: v.replace("{i}", str(i)) for k, v in headers.items()},
                          bodies[i % len(bodies)]) for i in range(count)]


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    __slots__ = ("pool", "transport", "request", "buffer", "state", "remaining", "chunked", "close_after", "body")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.request: Request | None = None
        self.buffer = bytearray()
        self.state = 0  # 0 head, 1 fixed-length body, 2 chunked body
        self.remaining = 0
        self.chunked = False
        self.close_after = False
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, request: Request) -> None:
        assert self.transport is not None
        self.request = request
        self.buffer.clear()
        self.body.clear()
        self.state = 0
        request.written = time.perf_counter()
        self.transport.write(request.payload)

    def data_received(self, data: bytes) -> None:
        request = self.request
        if request is None:
            return
        self.buffer += data
        if self.state == 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            del self.buffer[: end + 4]
            request.headers_at = time.perf_counter()
            try:
                request.status = int(head[9:12])
            except ValueError:
                request.status = 0
            self.chunked = b"transfer-encoding: chunked" in head
            self.close_after = b"connection: close" in head
            if self.chunked:
                self.state = 2
            else:
                self.state = 1
                self.remaining = _content_length(head)
        if request.disconnect and self.buffer:
            self.finish("disconnected", close=True)
            return
        if self.state == 1:
            take = min(self.remaining, len(self.buffer))
            self.body += self.buffer[:take]
            del self.buffer[:take]
            self.remaining -= take
            if self.remaining == 0:
                self.finish(None, close=self.close_after)
            return
        while True:  # chunked
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(self.buffer[:line_end]).split(b";")[0], 16)
            if size == 0:
                if len(self.buffer) < line_end + 4:
                    return
                del self.buffer[: line_end + 4]
                self.finish(None, close=self.close_after)
                return
            if len(self.buffer) < line_end + 2 + size + 2:
                return
            self.body += self.buffer[line_end + 2: line_end + 2 + size]
            del self.buffer[: line_end + 2 + size + 2]

    def finish(self, outcome: str | None, close: bool) -> None:
        request = self.request
        assert request is not None
        request.done_at = time.perf_counter()
        if outcome is None:
            if request.status != 200:
                outcome = f"http_{request.status}"
            elif request.stream and (b'data: {"error":' in self.body or b"event: error" in self.body):
                outcome = "stream_error_event"
            else:
                outcome = "ok"
        request.outcome = outcome
        self.request = None
        self.pool.completed(request)
        if close:
            self.pool.forget(self)
            if self.transport is not None:
                self.transport.abort() if outcome == "disconnected" else self.transport.close()
        else:
            self.pool.release(self)

    def connection_lost(self, exc: Exception | None) -> None:
        request = self.request
        self.request = None
        self.pool.forget(self)
        if request is not None:
            request.done_at = time.perf_counter()
            request.outcome = "connection_lost"
            self.pool.completed(request)


class Pool:
    """Keep-alive connections to one server; requests that find none free wait in `pending`."""

    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port, self.max_connections = host, port, max_connections
        self.connections: set[Connection] = set()
        self.idle: list[Connection] = []
        self.pending: deque[Request] = deque()
        self.connecting = 0
        self.opened_total = 0
        self.connect_errors = 0
        self.outstanding = 0
        self.done: list[Request] = []
        self.drained = asyncio.Event()

    def submit(self, request: Request) -> None:
        self.outstanding += 1
        if self.idle:
            self.idle.pop().send(request)
            return
        self.pending.append(request)
        self._grow()

    def _grow(self) -> None:
        if (self.pending and self.connecting < len(self.pending)
                and len(self.connections) + self.connecting < self.max_connections):
            self.connecting += 1
            asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        """Open one connection and give it work (or park it idle)."""
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: Connection(self), self.host, self.port)
        except OSError:
            self.connecting -= 1
            self.connect_errors += 1
            if self.pending:
                request = self.pending.popleft()
                request.done_at = time.perf_counter()
                request.outcome = "connect_error"
                self.completed(request)
            return
        self.connecting -= 1
        self.opened_total += 1
        self.connections.add(conn)
        self.release(conn)

    def release(self, conn: Connection) -> None:
        if self.pending:
            conn.send(self.pending.popleft())
        else:
            self.idle.append(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        self._grow()

    def completed(self, request: Request) -> None:
        self.outstanding -= 1
        self.done.append(request)
        if self.outstanding == 0:
            self.drained.set()

    def fail_pending(self, outcome: str) -> None:
        """Give up on every queued request (the step is being aborted)."""
        now = time.perf_counter()
        while self.pending:
            request = self.pending.popleft()
            request.done_at, request.outcome = now, outcome
            self.completed(request)

    def oldest_waiting(self, now: float) -> float:
        """Seconds the oldest queued request has waited (the queue only forms when every
        connection is busy, i.e. when the server has stopped keeping up)."""
        return now - self.pending[0].scheduled if self.pending else 0.0

    def close(self) -> None:
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        self.connections.clear()
        self.idle.clear()


async def run(spec: dict[str, Any], mark: Any = None) -> dict[str, Any]:
    """One open-loop step as described by `spec`; `mark(name)` is called at the start and
    the end of the measured window."""
    host, port = spec.get("host", "127.0.0.1"), int(spec["port"])
    rate = float(spec["rate"])
    warmup_s, duration_s = float(spec.get("warmup_s", 1.0)), float(spec["duration_s"])
    rng = random.Random(spec.get("seed", 0))
    templates = [Template(_payloads(host, port, t), bool(t.get("stream")), float(t.get("weight", 1.0)))
                 for t in spec["templates"]]
    weights = [t.weight for t in templates]
    disconnect_rate = float(spec.get("disconnect_rate", 0.0))
    abort_after_s = float(spec.get("abort_after_s", 3.0))
    pool = Pool(host, port, int(spec.get("max_connections", 512)))
    # Warm the pool: enough connections for the expected concurrency at light latency.
    warm = min(pool.max_connections, max(4, int(rate * 0.02) + 4))
    pool.connecting += warm
    await asyncio.gather(*(pool.connect() for _ in range(warm)))

    interval = 1.0 / rate
    n_warm = int(round(warmup_s * rate))
    n_total = n_warm + int(round(duration_s * rate))
    start = time.perf_counter() + 0.02
    aborted = False
    marked = False
    i = 0
    cpu0 = wall0 = 0.0
    while i < n_total:
        now = time.perf_counter()
        while i < n_total and start + i * interval <= now:
            if i == n_warm and not marked:
                marked = True
                cpu0, wall0 = _cpu_self(), now
                if mark:
                    mark("start")
            template = templates[0] if len(templates) == 1 else rng.choices(templates, weights)[0]
            disconnect = template.stream and disconnect_rate > 0 and rng.random() < disconnect_rate
            pool.submit(Request(template.payload(), start + i * interval, template.stream, i >= n_warm, disconnect))
            i += 1
        if pool.oldest_waiting(now) > abort_after_s:
            aborted = True
            pool.fail_pending("overloaded")
            break
        # Timers have millisecond resolution: sleeping less would spin and steal a core from
        # the servers; requests due meanwhile go out together (their lag is in the result).
        await asyncio.sleep(max(0.001, start + i * interval - time.perf_counter()))
    if not marked:
        cpu0, wall0 = _cpu_self(), time.perf_counter()
        if mark:
            mark("start")
    unsent = n_total - i
    drain_s = float(spec.get("drain_s", max(5.0, abort_after_s)))
    if aborted:
        drain_s = min(drain_s, 2.0)
    if pool.outstanding:
        pool.drained.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pool.drained.wait(), drain_s)
    end = time.perf_counter()
    cpu1 = _cpu_self()
    if mark:
        mark("end")
    unfinished = pool.outstanding
    pool.close()

    measured = [r for r in pool.done if r.measured]
    latencies: list[float] = []
    ttfb: list[float] = []
    lags: list[float] = []
    errors: dict[str, int] = {}
    ok = disconnected = 0
    for r in measured:
        if r.written:
            lags.append(r.written - r.scheduled)
        if r.outcome == "ok":
            ok += 1
            latencies.append(r.done_at - r.scheduled)
            ttfb.append(r.headers_at - r.scheduled)
        elif r.outcome == "disconnected":
            disconnected += 1
        else:
            errors[r.outcome] = errors.get(r.outcome, 0) + 1
            latencies.append(INF)
    n_measured_planned = n_total - n_warm
    missing = n_measured_planned - len(measured)  # unsent (aborted) or unfinished at the drain deadline
    if missing > 0:
        errors["not_completed"] = missing
        latencies += [INF] * missing
    failed = sum(errors.values())
    counted = ok + failed
    wall = max(1e-9, end - wall0)
    return {
        "rate": rate, "duration_s": duration_s, "warmup_s": warmup_s,
        "planned": n_measured_planned, "ok": ok, "disconnected": disconnected, "errors": errors,
        "error_rate": round(failed / counted, 5) if counted else 0.0,
        "aborted": aborted, "unsent": unsent, "unfinished_at_drain": unfinished,
        "achieved_rps": round(ok / max(1e-9, min(wall, duration_s + drain_s)), 1),
        "latency_ms": summarise_ms(latencies),
        "latency_ok_ms": summarise_ms([v for v in latencies if v != INF]),
        "ttfb_ms": summarise_ms(ttfb),
        "send_lag_ms": summarise_ms(lags),
        "connections_opened": pool.opened_total, "connect_errors": pool.connect_errors,
        "generator_cpu_s": round(cpu1 - cpu0, 4), "generator_cpu_util": round((cpu1 - cpu0) / wall, 3),
        "window_s": round(wall, 3),
    }


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _install_fast_loop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    loop_name = _install_fast_loop()

    def mark(name: str) -> None:
        print(f"MARK {name}", flush=True)

    result = asyncio.run(run(spec, mark))
    result["loop"] = loop_name
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
