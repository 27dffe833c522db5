"""Gateway tests run real processes on loopback: `autotier serve --mock-upstream URL`
against the session's mock upstream (tests/conftest.py). Helpers here start extra
gateways with their own flags, data folder and SQLite file."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.gateway.accounts import Ledger
from tests.support.config_copy import copy_config
from tests.support.mock_control import MockUpstreamHandle
from tests.support.processes import LISTENING_URL, RunningProcess, running_process
from tests.support.stores import PostgresHandle, StoreUnavailable, postgres_server, redis_server

GATEWAY_LINE = LISTENING_URL


@dataclass
class GatewayHandle:
    url: str
    db: Path
    data_dir: Path
    process: RunningProcess

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    def create_account(self, balance: float) -> str:
        ledger = Ledger(self.db)
        try:
            return ledger.create_account(balance)[1]
        finally:
            ledger.close()

    def balance(self, key: str) -> float:
        ledger = Ledger(self.db)
        try:
            row = ledger.lookup(key)
            assert row is not None
            return row.balance
        finally:
            ledger.close()

    def ledger_rows(self) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db)
        try:
            cur = conn.execute("SELECT * FROM usage ORDER BY id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            conn.close()

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30.0, **kwargs)


@contextmanager
def start_gateway(mock: MockUpstreamHandle, folder: Path, *flags: str) -> Iterator[GatewayHandle]:
    """A gateway process with its own copy of data/ (for hot-reload tests) and database."""
    data_dir = folder / "data"
    if not data_dir.exists():
        copy_config(data_dir)
    db = folder / "gateway.db"
    command = [sys.executable, "-m", "router.cli", "serve", "--host", "127.0.0.1", "--port", "0",
               "--mock-upstream", mock.url, "--db", str(db), "--data-dir", str(data_dir),
               "--log-level", "warning", "--workers", "1", *flags]  # one process unless flags say otherwise
    with running_process(command, url_pattern=GATEWAY_LINE, health_path="/readyz",
                         start_timeout_s=60) as proc:
        yield GatewayHandle(proc.url, db, data_dir, proc)


@pytest.fixture(scope="session")
def gateway(mock_upstream_process: MockUpstreamHandle, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[GatewayHandle]:
    """The shared gateway: generous anonymous limit; tests must not rely on its cooldowns."""
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("gateway"),
                       "--anonymous-per-hour", "100000") as handle:
        yield handle


@pytest.fixture(scope="session")
def funded_key(gateway: GatewayHandle) -> str:
    return gateway.create_account(100.0)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole session (skips without one)."""
    try:
        with redis_server() as url:
            yield url
    except StoreUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresHandle]:
    """A real PostgreSQL server on a free loopback port for the whole session (skips without one)."""
    try:
        with postgres_server() as handle:
            yield handle
    except StoreUnavailable as exc:
        pytest.skip(str(exc))
