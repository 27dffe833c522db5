"""A handle on a running mock upstream: its URL plus its /_mock control endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class MockUpstreamHandle:
    """`url` is the server root; OpenAI-style clients want `url + "/v1"`, Anthropic ones `url`."""

    url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0), repr=False, compare=False)

    @property
    def openai_base(self) -> str:
        """Base URL for OpenAI clients and litellm `openai/...` models (ends in /v1)."""
        return self.url + "/v1"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.request(method, self.url + path, json=body)
        response.raise_for_status()
        return dict(response.json())

    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole config (seed, default, models); returns the live config."""
        return self._call("POST", "/_mock/config", config)

    def patch(self, **models: dict[str, Any] | None) -> dict[str, Any]:
        """Merge per-model behaviour, e.g. patch(**{"gpt-x": {"fail_next": 2}}); None removes a model."""
        return self._call("PATCH", "/_mock/config", {"models": models})

    def stats(self) -> dict[str, Any]:
        """GET /_mock/stats: total_requests, models{requests, errors, last_request, ...}, recent."""
        return self._call("GET", "/_mock/stats")

    def last_request(self, model: str) -> dict[str, Any]:
        """The body the mock last received for `model` (KeyError if none)."""
        return dict(self.stats()["models"][model]["last_request"])

    def reset(self) -> None:
        """Back to the start-up config with empty stats."""
        self._call("POST", "/_mock/reset")
