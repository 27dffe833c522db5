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
    and session stickiness between gateway processes (None: in this process only).
    `live_refresh_s` is how often the shared cooldowns are re-read; `session_ttl_s` how long
    an idle session is remembered in Redis.

    Times are seconds; `max_body_bytes` bounds request bodies (413 above it)."""

    data_dir: Path | None = None
    db_path: Path = Path("autotier.db")
    database_url: str | None = None
    redis_url: str | None = None
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
    reload_poll_s: float = 1.0
    reason_header_max: int = 1024
    log_prompts: bool = False
    classifier: str | None = None  # efficient tier: artefact folder or models:/ URI; None: shipped default
