"""Live, mutable gateway state behind one small interface: model cooldowns, rate-limit
counters and session stickiness. `InProcessState` keeps it in this process (the embedded
default); `RedisState` shares it between several gateway processes through one Redis.

Reads that `route()` needs on every request (`availability`, `cooldown_left`) are
synchronous and served from a local snapshot; everything that must be exact across
processes (`hit`) or is written per request (`session_model`, `remember_session`) is a
coroutine, so a network round trip never blocks the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from router.availability import Availability, ModelState, ModelStatus

log = logging.getLogger("autotier.gateway")
_DOWN = object()  # what RedisState._call returns when Redis was not (or could not be) asked


class LiveStateUnavailable(RuntimeError):
    """The shared state store cannot be reached at start-up; the message names it and why."""


class LiveState(Protocol):
    async def start(self) -> None:
        """Connect and load what is shared (a second call does nothing); raises
        LiveStateUnavailable if the store is unreachable."""

    async def close(self) -> None: ...

    def health(self) -> str:
        """'in-process', 'redis', 'redis-degraded' (Redis unreachable: local fallback),
        'sqlite' or 'sqlite-degraded' (shared_state.SqliteState)."""

    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        """Keep `model_id` out of routing until `now + seconds` (a longer cooldown wins).
        Takes effect here at once; a shared store propagates it in the background."""

    def availability(self, now: float) -> Availability:
        """A read-only snapshot for `route()`."""

    def cooldown_left(self, model_id: str, now: float) -> float:
        """Seconds until `model_id` is back; 0 when available."""

    async def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        """Count one request for `key`; None if within `limit` per fixed window of
        `window_s` seconds, else the seconds until the window resets (the request is not
        counted)."""

    async def session_model(self, session_id: str) -> str | None:
        """The catalog id that served this session's previous turn, if remembered."""

    async def remember_session(self, session_id: str, model_id: str) -> None: ...


class InProcessState:
    """`LiveState` in memory. Not thread-safe: use from the event loop only. Sessions and
    rate-limit buckets are bounded (least recently used dropped first)."""

    def __init__(self, max_sessions: int = 100_000, max_buckets: int = 100_000):
        self._cooldowns: dict[str, float] = {}
        self._sessions: OrderedDict[str, str] = OrderedDict()
        self._buckets: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_buckets = max_buckets

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def health(self) -> str:
        return "in-process"

    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        until = now + max(0.0, seconds)
        if until > self._cooldowns.get(model_id, 0.0):
            self._cooldowns[model_id] = until

    def cooldowns(self, now: float) -> dict[str, float]:
        """model -> until, for models still cooling down at `now` (expired ones are dropped)."""
        for model_id in [m for m, until in self._cooldowns.items() if until <= now]:
            del self._cooldowns[model_id]
        return dict(self._cooldowns)

    def availability(self, now: float) -> Availability:
        return snapshot(self.cooldowns(now), now)

    def cooldown_left(self, model_id: str, now: float) -> float:
        return max(0.0, self._cooldowns.get(model_id, 0.0) - now)

    async def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        return self.hit_now(key, limit, window_s, now)

    def hit_now(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        window_start = math.floor(now / window_s) * window_s
        start, count = self._buckets.pop(key, (window_start, 0))
        if start != window_start:
            start, count = window_start, 0
        if count >= limit:
            self._buckets[key] = (start, count)
            return max(1.0, start + window_s - now)
        self._buckets[key] = (start, count + 1)
        while len(self._buckets) > self._max_buckets:
            self._buckets.popitem(last=False)
        return None

    async def session_model(self, session_id: str) -> str | None:
        return self.session_now(session_id)

    def session_now(self, session_id: str) -> str | None:
        model = self._sessions.get(session_id)
        if model is not None:
            self._sessions.move_to_end(session_id)
        return model

    async def remember_session(self, session_id: str, model_id: str) -> None:
        self.remember_now(session_id, model_id)

    def remember_now(self, session_id: str, model_id: str) -> None:
        self._sessions[session_id] = model_id
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)


def snapshot(cooldowns: dict[str, float], now: float) -> Availability:
    statuses = {m: ModelStatus(ModelState.COOLING_DOWN, until) for m, until in cooldowns.items() if until > now}
    return Availability(statuses, now)


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# Count one request in the fixed window KEYS[1] unless it already holds ARGV[1] (the
# limit); the first count sets the key to expire with its window. Returns the count
# after this request, or -1 when the limit was already reached (not counted).
_HIT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return -1 end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
"""

# In the hash KEYS[1] (model -> until, epoch seconds), set ARGV[1] to ARGV[2] unless a
# later cooldown is there already, and drop entries that ended before ARGV[3] (now).
_COOL_DOWN = """
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) <= tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], entries[i]) end
end
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
"""


class SharedCooldowns:
    """The cooldown reads of a state shared between processes: the copy of the shared
    cooldowns last read (`_shared`, model -> until) merged with this process's own
    (`local`), so that `route()` reads stay synchronous and local."""

    _shared: dict[str, float]
    local: InProcessState

    def _merged(self, now: float) -> dict[str, float]:
        merged = {m: u for m, u in self._shared.items() if u > now}
        for model_id, until in self.local.cooldowns(now).items():
            merged[model_id] = max(until, merged.get(model_id, 0.0))
        return merged

    def availability(self, now: float) -> Availability:
        return snapshot(self._merged(now), now)

    def cooldown_left(self, model_id: str, now: float) -> float:
        return max(0.0, self._merged(now).get(model_id, 0.0) - now)


class RedisState(SharedCooldowns):
    """`LiveState` shared through Redis (`redis.asyncio`), for several gateway processes.

    - Rate limits: one counter per key and fixed window (`{prefix}rate:{key}:{window}`),
      checked and incremented atomically by a Lua script, so N processes enforce one limit
      exactly. Windows come from the caller's clock: keep the hosts' clocks in sync.
    - Cooldowns: a hash `{prefix}cooldowns` of model -> until (epoch seconds), a longer
      cooldown wins. `cool_down` applies locally at once and writes Redis in the
      background; `availability` reads a local copy of the hash refreshed every
      `refresh_s`, so another process sees a cooldown within about `refresh_s`.
    - Sessions: `{prefix}session:{id}` -> model, expiring `session_ttl_s` after the last turn.

    If Redis cannot be reached at `start()`, LiveStateUnavailable is raised (the gateway
    refuses to start). If it fails later, each call falls back to an in-process state (rate
    limits then count per process, cooldowns and sessions stay local) and Redis is tried
    again after `retry_s`; `health()` says 'redis-degraded' meanwhile."""

    def __init__(self, url: str, *, prefix: str = "autotier:", refresh_s: float = 0.5,
                 session_ttl_s: float = 86_400.0, timeout_s: float = 0.5, retry_s: float = 2.0,
                 local: InProcessState | None = None):
        self.url = url
        self.prefix = prefix
        self.refresh_s = refresh_s
        self.session_ttl_s = session_ttl_s
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.local = local or InProcessState()
        self._client: Any = None
        self._hit: Any = None
        self._cool: Any = None
        self._shared: dict[str, float] = {}
        self._down_until = 0.0  # monotonic; Redis is skipped until then after a failure
        self._degraded = False
        self._refresher: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    # ---- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        if self._client is not None:
            return  # already started
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # One immediate retry covers a pooled connection that Redis closed (e.g. a restart);
        # not a timeout, after which the script may have run and a retry would count twice.
        self._client = redis.asyncio.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))
        self._hit = self._client.register_script(_HIT)
        self._cool = self._client.register_script(_COOL_DOWN)
        try:
            async with asyncio.timeout(self._deadline_s):
                await self._client.ping()
                # Loaded once here, so a first burst of requests does not all miss EVALSHA.
                for script in (self._hit, self._cool):
                    await self._client.script_load(script.script)
                await self._refresh()
        except BaseException as exc:  # any failure (or cancellation) here means "cannot use Redis"
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self._deadline_s)
            if not isinstance(exc, Exception):
                raise
            raise LiveStateUnavailable(
                f"cannot reach Redis at {redacted(self.url)} (AUTOTIER_REDIS_URL / --redis-url): "
                f"{self._describe(exc)}") from None
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self._pending:
            _, late = await asyncio.wait(self._pending, timeout=self._deadline_s)
            for task in late:  # cannot happen while each call is bounded; never outlive the client
                task.cancel()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self._deadline_s)

    @property
    def _deadline_s(self) -> float:
        """The most one Redis operation may take, retries included: socket timeouts bound
        each read, this bounds the whole (a stuck pool or a lost reply never hangs a request)."""
        return self.timeout_s * 4

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError) and not str(exc):
            return f"no reply within {self._deadline_s:g}s"
        return f"{type(exc).__name__}: {exc}"

    def health(self) -> str:
        return "redis-degraded" if self._degraded else "redis"

    # ---- cooldowns --------------------------------------------------------------------
    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        self.local.cool_down(model_id, seconds, now)
        until = now + max(0.0, seconds)
        try:
            task = asyncio.get_running_loop().create_task(self._share_cooldown(model_id, until, now))
        except RuntimeError:  # no event loop: nothing to share with
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _share_cooldown(self, model_id: str, until: float, now: float) -> None:
        done = await self._call(self._cool, keys=[self.prefix + "cooldowns"], args=[model_id, repr(until), repr(now)])
        if done is not _DOWN and until > self._shared.get(model_id, 0.0):
            self._shared[model_id] = until

    async def _refresh(self) -> None:
        entries = await self._client.hgetall(self.prefix + "cooldowns")
        self._shared = {m: float(u) for m, u in entries.items()}

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            # A failed refresh keeps the last copy: its entries are absolute times, still right.
            await self._call(self._refresh)

    # ---- rate limits and sessions -----------------------------------------------------
    async def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        window = math.floor(now / window_s)
        ttl_ms = max(1, math.ceil(window_s * 1000)) + 1000
        count = await self._call(self._hit, keys=[f"{self.prefix}rate:{key}:{window}"], args=[limit, ttl_ms])
        if count is _DOWN:
            return self.local.hit_now(key, limit, window_s, now)
        if int(count) < 0:
            return max(1.0, (window + 1) * window_s - now)
        return None

    async def session_model(self, session_id: str) -> str | None:
        shared = await self._call(self._client.get, self.prefix + "session:" + session_id)
        return shared if isinstance(shared, str) else self.local.session_now(session_id)

    async def remember_session(self, session_id: str, model_id: str) -> None:
        self.local.remember_now(session_id, model_id)
        await self._call(self._client.set, self.prefix + "session:" + session_id, model_id,
                         ex=max(1, round(self.session_ttl_s)))

    # ---- failure handling -------------------------------------------------------------
    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`await fn(...)`, or `_DOWN` without trying while Redis is marked down; a failure
        marks it down for `retry_s` (the caller then uses its local fallback)."""
        import redis.exceptions

        if time.monotonic() < self._down_until:
            return _DOWN
        try:
            async with asyncio.timeout(self._deadline_s):
                result = await fn(*args, **kwargs)
        except (redis.exceptions.RedisError, OSError) as exc:  # TimeoutError is an OSError
            self._down_until = time.monotonic() + self.retry_s
            if not self._degraded:
                log.warning("Redis at %s failed (%s): using in-process state; retrying every %gs",
                            redacted(self.url), self._describe(exc), self.retry_s)
            self._degraded = True
            return _DOWN
        if self._degraded:
            log.warning("Redis at %s is reachable again: shared state restored", redacted(self.url))
            self._degraded = False
        return result


def live_state_for(redis_url: str | None, shared_path: Any = None, **options: Any) -> LiveState:
    """`RedisState(redis_url, **options)` when a URL is given; else, with `shared_path` (a
    file, for several processes on one machine), `shared_state.SqliteState`; else
    `InProcessState()`."""
    if redis_url:
        return RedisState(redis_url, **options)
    if shared_path is not None:
        from router.gateway.shared_state import SqliteState

        return SqliteState(shared_path, **options)
    return InProcessState()
