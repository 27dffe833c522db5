"""Per-model behaviour of the mock upstream: latency, streaming pace and injected faults."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Statuses a fault may use; each maps to the provider's own error type in errors.py.
FAULT_STATUSES = frozenset({400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529})


class MockConfigError(ValueError):
    """A mock-upstream config file or body is invalid; the message names the key and reason."""


class ScriptedCall(BaseModel):
    """One tool call of a `tool_script`: a tool name and, optionally, its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="tool to call; skipped when the request does not offer it")
    arguments: dict[str, Any] | None = Field(
        default=None, description="the call's arguments; None: an example built from the tool's schema")


class ScriptedAnswer(BaseModel):
    """A text answer for requests whose latest user message contains `match`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(min_length=1, description="substring of the latest user message (case-sensitive)")
    text: str = Field(description="the whole answer text")


class ModelBehaviour(BaseModel):
    """How one model (or every model matching a pattern) answers. Times are milliseconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(default=0.0, ge=0, description="delay before the response starts (ms)")
    jitter_ms: float = Field(default=0.0, ge=0, description="uniform +/- jitter added to latency_ms (ms)")
    ttft_ms: float = Field(default=0.0, ge=0, description="streams: delay from headers to the first event (ms)")
    chunk_delay_ms: float = Field(default=0.0, ge=0, description="streams: delay between events (ms)")
    error_rate: float = Field(default=0.0, ge=0, le=1, description="probability (0..1) a request fails")
    error_status: int = Field(default=500, description="status used by error_rate (and fail_next by default)")
    retry_after_s: float = Field(default=1.0, ge=0, description="Retry-After sent with 429 replies (s)")
    fail_next: int = Field(default=0, ge=0, description="the next N requests fail (counted per config key)")
    fail_next_status: int | None = Field(default=None, description="status for fail_next; None: error_status")
    timeout: bool = Field(default=False, description="hang until the client disconnects")
    cut_mid_stream_after: int | None = Field(
        default=None, ge=0, description="streams: drop the connection after N events (0: right after the headers)")
    unavailable: bool = Field(default=False, description="answer 404 model_not_found")
    tool_script: tuple[ScriptedCall, ...] = Field(
        default=(), description="agent sessions: after each user turn, answer with these tool calls in order "
        "(one per request, counted by the tool results since that turn; calls to tools the request does not "
        "offer are skipped), then with text")
    answers: tuple[ScriptedAnswer, ...] = Field(
        default=(), description="text answers: the first whose `match` occurs in the latest user message is "
        "the reply's text (evals against the mock); otherwise the usual quote")

    @field_validator("error_status", "fail_next_status")
    @classmethod
    def _known_status(cls, status: int | None) -> int | None:
        if status is not None and status not in FAULT_STATUSES:
            raise ValueError(f"must be one of {sorted(FAULT_STATUSES)}, got {status}")
        return status


class MockConfig(BaseModel):
    """The whole mock: a seed, a default behaviour and per-model overrides.

    Keys of `models` are model ids exactly as requested (e.g. "gpt-4o", "anthropic/claude-x")
    or fnmatch patterns ("*-mini"); an exact key wins over patterns, patterns match in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    default: ModelBehaviour = Field(default_factory=ModelBehaviour)
    models: dict[str, ModelBehaviour] = Field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> MockConfig:
        """Validate a parsed config; raises MockConfigError naming the bad key."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise MockConfigError(_describe(exc)) from None

    @classmethod
    def from_file(cls, path: str | Path) -> MockConfig:
        """Read a YAML or JSON file; raises MockConfigError with the file name on any problem."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise MockConfigError(f"{path}: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise MockConfigError(f"{path}: must be a mapping, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except MockConfigError as exc:
            raise MockConfigError(f"{path}: {exc}") from None

    def merged(self, patch: dict[str, Any]) -> MockConfig:
        """A copy with `patch` applied field by field (models merge per key, not replace)."""
        data = self.model_dump(exclude_unset=True)
        if "seed" in patch:
            data["seed"] = patch["seed"]
        if isinstance(patch.get("default"), dict):
            data["default"] = {**data.get("default", {}), **patch["default"]}
        models = data.setdefault("models", {})
        for key, fields in (patch.get("models") or {}).items():
            if fields is None:
                models.pop(key, None)
            elif isinstance(fields, dict):
                models[key] = {**models.get(key, {}), **fields}
            else:
                raise MockConfigError(f"models.{key}: must be a mapping or null")
        unknown = set(patch) - {"seed", "default", "models"}
        if unknown:
            raise MockConfigError(f"{sorted(unknown)[0]}: unknown key (use seed, default, models)")
        return MockConfig.from_dict(data)

    def key_for(self, model: str) -> str:
        """The config key that governs `model`: itself, the first matching pattern, or "default"."""
        if model in self.models:
            return model
        for key in self.models:
            if any(c in key for c in "*?[") and fnmatch.fnmatchcase(model, key):
                return key
        return "default"

    def behaviour(self, key: str) -> ModelBehaviour:
        """The behaviour stored under a key returned by key_for."""
        return self.default if key == "default" else self.models[key]


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"
