"""Every knob of the gateway, with its default. Built by the CLI from flags and
environment variables; tests build it by hand."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """'10.0.0.0/8', '127.0.0.1' ... -> networks; raises ValueError naming a bad entry."""
    out = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if part:
                try:
                    out.append(ipaddress.ip_network(part, strict=False))
                except ValueError as exc:
                    raise ValueError(f"trusted proxy {part!r}: {exc}") from exc
    return tuple(out)


@dataclass(frozen=True)
class GatewaySettings:
    """`mock_upstream`: base URL of an OpenAI/Anthropic-compatible server every catalog
    model is pointed at (demo mode); None calls real providers with each model's
    `litellm_model` and keys from the environment.

    Scale-out: `database_url` (postgresql://...) puts accounts and the ledger in PostgreSQL
    instead of the SQLite file `db_path`; `redis_url` shares cooldowns, rate-limit counters
    and session stickiness between gateway processes; without it, `live_db_path` shares them
    between the processes of one machine through a SQLite file (both None: this process only).
    `live_refresh_s` is how often the shared cooldowns are re-read; `session_ttl_s` how long
    an idle session is remembered in Redis.

    Money (docs/security.md): a paid request holds its cost bound first; `min_output_tokens`
    is the smallest output cap worth serving when the balance cannot cover the client's
    (below it: 402); holds older than `hold_ttl_s` (a process died mid-request) are given
    back at start-up and then every `hold_ttl_s / 4`.

    Abuse: a model cools down only after failures from `cooldown_after_failures` distinct
    callers within `cooldown_window_s`; one IP (IPv6: its /64) gets 429 for the rest of a
    minute after `failures_per_minute` failed requests (4xx); headers are bounded to
    `max_header_bytes` in all and `max_headers` fields (431 above), and must arrive within
    `header_timeout_s`, the body within `body_timeout_s` (408).

    Feedback and capture (docs/gateway.md): a request sent again within `retry_window_s`
    marks the earlier reply `retried`; `capture_rate` (0..1, 0: off) of proxied requests
    keep their redacted user text for `capture_retention_days`, with the session's first
    user text too when `capture_context`; `capture_redact` is an operator's extra
    redaction hook, `module:function`.

    Times are seconds; `max_body_bytes` bounds request bodies (413 above it)."""

    data_dir: Path | None = None
    db_path: Path = Path("autotier.db")
    database_url: str | None = None
    redis_url: str | None = None
    live_db_path: Path | None = None  # SQLite file shared by the workers of one machine (no Redis)
    live_refresh_s: float = 0.5
    session_ttl_s: float = 86_400.0
    mock_upstream: str | None = None
    anonymous_per_hour: int = 200
    rate_window_s: float = 3600.0
    trusted_proxies: tuple[Network, ...] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    upstream_timeout_s: float = 600.0
    upstream_client: str = "auto"  # "litellm": every call through LiteLLM (upstream.Upstream)
    cooldown_s: float = 30.0  # after a 429/5xx without Retry-After
    max_cooldown_s: float = 3600.0
    cooldown_after_failures: int = 3
    cooldown_window_s: float = 60.0
    failures_per_minute: int = 120
    min_output_tokens: int = 256
    hold_ttl_s: float = 3600.0
    # A running request's hold is renewed for at most this long (a request that somehow never
    # settles must not lock a balance for ever): past it, it is released like any stale hold.
    max_request_s: float = 6 * 3600.0
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout_s: float = 30.0
    body_timeout_s: float = 60.0
    reload_poll_s: float = 1.0
    reason_header_max: int = 1024
    log_prompts: bool = False
    classifier: str | None = None  # efficient tier: artefact folder or models:/ URI; None: shipped default
    retry_window_s: float = 120.0
    feedback_per_minute: int = 60  # feedback calls per API key per minute, counted once authenticated (429 past it)
    capture_rate: float = 0.0
    capture_retention_days: float = 30.0
    capture_context: bool = False
    capture_redact: str | None = None
