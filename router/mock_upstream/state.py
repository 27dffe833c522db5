"""The mock's run-time state: live config, fault counters, the seeded RNG and request stats."""

from __future__ import annotations

import itertools
import random
from collections import deque
from typing import Any

from router.mock_upstream.config import MockConfig, ModelBehaviour
from router.mock_upstream.errors import ApiShape

RECENT_LIMIT = 1000


class MockState:
    """Everything that changes while the mock runs; one per app, used from one event loop."""

    def __init__(self, config: MockConfig) -> None:
        self.initial = config
        self.serials = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Back to the start-up config, with fresh counters, RNG and stats."""
        self.replace(self.initial)
        self.clear_stats()

    def replace(self, config: MockConfig) -> None:
        """Make `config` live: reseed the RNG and arm every fail_next counter."""
        self.config = config
        self.rng = random.Random(config.seed)
        self._keys: dict[str, str] = {}
        self.fail_left = {k: b.fail_next for k, b in self._behaviours(config) if b.fail_next}

    def patch(self, patch: dict[str, Any]) -> None:
        """Merge `patch` into the live config; re-arm fail_next only where the patch sets it."""
        config = self.config.merged(patch)
        fail_left = self.fail_left
        self.config, self._keys = config, {}
        if "seed" in patch:
            self.rng = random.Random(config.seed)
        touched = {"default"} if "fail_next" in (patch.get("default") or {}) else set()
        touched |= {k for k, v in (patch.get("models") or {}).items() if isinstance(v, dict) and "fail_next" in v}
        keys = {k for k, _ in self._behaviours(config)}
        self.fail_left = {k: n for k, n in fail_left.items() if k in keys and k not in touched}
        self.fail_left.update({k: config.behaviour(k).fail_next for k in touched})

    def clear_stats(self) -> None:
        """Forget request counts, last bodies and the recent-request log."""
        self.total = 0
        self.models: dict[str, dict[str, Any]] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_LIMIT)

    def behaviour(self, model: str) -> tuple[str, ModelBehaviour]:
        """The config key governing `model` and its behaviour (the key lookup is cached)."""
        key = self._keys.get(model)
        if key is None:
            key = self._keys[model] = self.config.key_for(model)
        return key, self.config.behaviour(key)

    def fault_status(self, key: str, behaviour: ModelBehaviour) -> int | None:
        """The status this request fails with (fail_next first, then error_rate), or None."""
        left = self.fail_left.get(key)
        if left:
            self.fail_left[key] = left - 1
            return behaviour.fail_next_status or behaviour.error_status
        if behaviour.error_rate and self.rng.random() < behaviour.error_rate:
            return behaviour.error_status
        return None

    def latency_s(self, behaviour: ModelBehaviour) -> float:
        """Seconds to wait before answering: latency_ms +/- jitter_ms, never negative."""
        ms = behaviour.latency_ms
        if behaviour.jitter_ms:
            ms += self.rng.uniform(-behaviour.jitter_ms, behaviour.jitter_ms)
        return max(0.0, ms) / 1000

    def record(self, api: ApiShape, model: str, body: dict[str, Any], headers: Any,
               stream: bool, status: int) -> None:
        """Count one request; keep its body and headers as the model's last request."""
        self.total += 1
        entry = self.models.get(model)
        if entry is None:
            entry = self.models[model] = {"requests": 0, "errors": 0, "streams": 0,
                                          "by_api": {"chat": 0, "responses": 0, "messages": 0}}
        entry["requests"] += 1
        entry["errors"] += status != 200
        entry["streams"] += stream
        entry["by_api"][api] += 1
        entry["last_api"] = api
        entry["last_request"] = body
        entry["last_headers"] = headers
        self.recent.append({"model": model, "api": api, "stream": stream, "status": status})

    def stats(self) -> dict[str, Any]:
        """A JSON-able snapshot for GET /_mock/stats."""
        models = {m: {**e, "last_headers": dict(e["last_headers"])} for m, e in self.models.items()}
        return {"total_requests": self.total, "models": models, "recent": list(self.recent)}

    @staticmethod
    def _behaviours(config: MockConfig) -> list[tuple[str, ModelBehaviour]]:
        return [("default", config.default), *config.models.items()]
