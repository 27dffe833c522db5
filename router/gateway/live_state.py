"""Live, mutable gateway state behind one small interface: model cooldowns, rate-limit
counters and session stickiness. `InProcessState` keeps it in this process; a shared
implementation (Redis) can replace it for several gateway processes."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Protocol

from router.availability import Availability, ModelState, ModelStatus


class LiveState(Protocol):
    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        """Keep `model_id` out of routing until `now + seconds` (a longer cooldown wins)."""

    def availability(self, now: float) -> Availability:
        """A read-only snapshot for `route()`."""

    def cooldown_left(self, model_id: str, now: float) -> float:
        """Seconds until `model_id` is back; 0 when available."""

    def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
        """Count one request for `key`; None if within `limit` per window, else the
        seconds until the window resets (the request is not counted)."""

    def session_model(self, session_id: str) -> str | None:
        """The catalog id that served this session's previous turn, if remembered."""

    def remember_session(self, session_id: str, model_id: str) -> None: ...


class InProcessState:
    """`LiveState` in memory. Not thread-safe: use from the event loop only. Sessions and
    rate-limit buckets are bounded (least recently used dropped first)."""

    def __init__(self, max_sessions: int = 100_000, max_buckets: int = 100_000):
        self._cooldowns: dict[str, float] = {}
        self._sessions: OrderedDict[str, str] = OrderedDict()
        self._buckets: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_sessions = max_sessions
        self._max_buckets = max_buckets

    def cool_down(self, model_id: str, seconds: float, now: float) -> None:
        until = now + max(0.0, seconds)
        if until > self._cooldowns.get(model_id, 0.0):
            self._cooldowns[model_id] = until

    def availability(self, now: float) -> Availability:
        for model_id in [m for m, until in self._cooldowns.items() if until <= now]:
            del self._cooldowns[model_id]
        statuses = {
            m: ModelStatus(ModelState.COOLING_DOWN, until) for m, until in self._cooldowns.items()
        }
        return Availability(statuses, now)

    def cooldown_left(self, model_id: str, now: float) -> float:
        return max(0.0, self._cooldowns.get(model_id, 0.0) - now)

    def hit(self, key: str, limit: int, window_s: float, now: float) -> float | None:
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

    def session_model(self, session_id: str) -> str | None:
        model = self._sessions.get(session_id)
        if model is not None:
            self._sessions.move_to_end(session_id)
        return model

    def remember_session(self, session_id: str, model_id: str) -> None:
        self._sessions[session_id] = model_id
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
