"""Durability of the usage ledger: a response is acknowledged only after its row is
committed. Non-streaming: the row is committed before the reply is sent. Streaming: the
stream's final event (`data: [DONE]`, `message_stop`, `response.completed`) leaves only
after the commit. So killing the gateway with SIGKILL in the middle of a load run loses
no row of any response a client fully received; checked on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from router.gateway.accounts import Ledger
from tests.gateway.conftest import start_gateway

MESSAGES = [{"role": "user", "content": "hello"}]



@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[tuple[str, ...], str]:
    """(gateway flags, ledger location) for a fresh ledger of each kind."""
    if request.param == "sqlite":
        return (), str(tmp_path / "gateway.db")  # start_gateway's --db
    database = request.getfixturevalue("pg").create_database(f"durable_{os.getpid()}_{id(tmp_path)}")
    return ("--database-url", database), database


@pytest.fixture
def paced_mock(mock_upstream):
    """Every model answers after ~20 ms and streams an event every 3 ms, so requests overlap."""
    mock_upstream.configure({"default": {"latency_ms": 20, "chunk_delay_ms": 3}})
    yield mock_upstream
    mock_upstream.reset()


def _rows(location: str) -> list[dict[str, Any]]:
    ledger = Ledger(location)
    try:
        return ledger.usage(1_000_000)
    finally:
        ledger.close()


def _request(client: httpx.Client, url: str, kind: int, session: str) -> bool:
    """One request; True when the client received all of a 200 answer."""
    headers = {"x-session-id": session}
    stream = kind != 0
    path = "/v1/messages" if kind == 2 else "/v1/chat/completions"
    body: dict[str, Any] = {"model": "kilo-auto/free", "messages": MESSAGES, "stream": stream, "max_tokens": 16}
    r = client.post(url + path, json=body, headers=headers)
    if r.status_code != 200:
        return False
    if kind == 0:
        return bool(r.json().get("choices"))
    text = r.text
    if kind == 1:
        return text.rstrip().endswith("data: [DONE]") and '"error"' not in text
    return "event: message_stop" in text and "event: error" not in text


@pytest.mark.slow
def test_sigkill_mid_load_loses_no_acknowledged_row(mock_upstream_process, paced_mock, ledger_store, tmp_path):
    flags, location = ledger_store
    flags = (*flags, "--anonymous-per-hour", "1000000")
    acked: list[str] = []
    interrupted: list[str] = []
    stop = threading.Event()

    with start_gateway(mock_upstream_process, tmp_path, *flags) as gw:
        def worker(w: int) -> None:
            with httpx.Client(timeout=30) as client:
                n = 0
                while not stop.is_set():
                    session = f"dur-{w}-{n}"
                    try:
                        (acked if _request(client, gw.url, n % 3, session) else interrupted).append(session)
                    except httpx.HTTPError:
                        interrupted.append(session)
                    n += 1

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(worker, w) for w in range(6)]
            deadline = time.monotonic() + 20
            while len(acked) < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            os.killpg(gw.process.process.pid, signal.SIGKILL)
            gw.process.process.wait(10)
            stop.set()
            for f in futures:
                f.result()
        acknowledged = list(acked)

    assert len(acknowledged) >= 60, "the load did not get going"
    assert interrupted, "SIGKILL should have caught requests in flight"
    # Restart on the same ledger: it opens (SQLite recovers its WAL) and serves.
    with start_gateway(mock_upstream_process, tmp_path, *flags) as gw:
        assert gw.post("/v1/chat/completions", {"model": "kilo-auto/free", "messages": MESSAGES}).status_code == 200
        rows = _rows(location)
    ok = {r["session_id"] for r in rows if r["status"] == 200}
    missing = sorted(set(acknowledged) - ok)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged responses have no ledger row"


class _WriteLock:
    """Holds the ledger's write lock from outside, as a slow disk or a busy database would."""

    def __init__(self, location: str):
        if location.startswith("postgresql://"):
            self.conn: Any = psycopg.connect(location, autocommit=True)
            self.conn.execute("BEGIN")
            self.conn.execute("LOCK TABLE usage IN EXCLUSIVE MODE")
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> float:
        self.conn.execute("ROLLBACK")
        self.conn.close()
        return time.monotonic()


@pytest.mark.slow
def test_the_final_event_waits_for_the_commit(mock_upstream_process, mock_upstream, ledger_store, tmp_path):
    """Ordered by events, not by wall-clock margins: with the ledger's write lock held from
    outside, a stream runs up to its last event before the final one (seen by the client),
    and the final event is received only after the lock is being released."""
    flags, location = ledger_store
    with start_gateway(mock_upstream_process, tmp_path, *flags, "--anonymous-per-hour", "1000000") as gw:
        assert gw.post("/v1/chat/completions", {"model": "kilo-auto/free", "messages": MESSAGES}).status_code == 200
        cases = [("/v1/chat/completions", '"usage"', "data: [DONE]"),
                 ("/v1/messages", '"message_delta"', "event: message_stop")]
        for i, (path, penultimate, final) in enumerate(cases):
            releasing = threading.Event()
            before_final = threading.Event()
            seen: list[tuple[bool, str]] = []  # (was the lock being released when the line arrived?, line)

            def stream(path: str = path, penultimate: str = penultimate, session: str = f"order-{i}",
                       seen: list[tuple[bool, str]] = seen, releasing: threading.Event = releasing,
                       before_final: threading.Event = before_final) -> None:
                body = {"model": "kilo-auto/free", "messages": MESSAGES, "max_tokens": 16, "stream": True}
                with httpx.stream("POST", gw.url + path, json=body, timeout=30,
                                  headers={"x-session-id": session}) as r:
                    for line in r.iter_lines():
                        if line.strip():
                            seen.append((releasing.is_set(), line))
                            if penultimate in line:
                                before_final.set()

            lock = _WriteLock(location)
            with ThreadPoolExecutor(1) as pool:
                future = pool.submit(stream)
                assert before_final.wait(30), f"{path}: the stream itself should not wait for the ledger"
                assert not any(line.startswith(final) for _, line in seen), f"{path}: final event before the commit"
                releasing.set()  # set before releasing: a final line seen while it is unset is a violation
                lock.release()
                future.result()
            finals = [was_releasing for was_releasing, line in seen if line.startswith(final)]
            assert finals == [True], f"{path}: final event sent before the row was committed"
            assert any(r["session_id"] == f"order-{i}" and r["status"] == 200 for r in _rows(location))

        mock_upstream.reset()
        lock = _WriteLock(location)
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(gw.post, "/v1/chat/completions", {"model": "kilo-auto/free", "messages": MESSAGES},
                                 headers={"x-session-id": "order-plain"})
            deadline = time.monotonic() + 30
            while not mock_upstream.stats()["models"] and time.monotonic() < deadline:
                time.sleep(0.02)  # until the upstream has been called: the gateway is at its ledger write
            assert mock_upstream.stats()["models"], "the request never reached the upstream"
            assert not future.done(), "the reply left before its row was committed"
            lock.release()
            assert future.result().status_code == 200
        assert any(r["session_id"] == "order-plain" for r in _rows(location))
