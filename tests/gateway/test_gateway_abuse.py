"""Abuse safety (issue: money and abuse safety): bad text is a 400 that cools nothing down;
a model cools down only on failures from several callers; headers, ids, bodies and failing
clients are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import time
from urllib.parse import urlsplit

import httpx
import pytest

from router.gateway.intake import limit_key
from router.gateway.openai_compat import ProviderError
from router.gateway.upstream import from_provider
from tests.gateway.conftest import start_gateway

CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def strict(mock_upstream_process, tmp_path_factory):
    """A gateway of its own with the default cooldown rule (3 distinct callers), a small
    failure budget and short header/body timeouts."""
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("strict"), "--anonymous-per-hour", "100000",
                       "--failures-per-minute", "20", "--header-timeout", "1", "--body-timeout", "1") as handle:
        yield handle


def _raw(url: str, data: bytes, read_timeout: float = 5.0) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=read_timeout) as sock:
        with contextlib.suppress(OSError):  # the server may close before all is sent; its answer is there
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_lone_surrogate_is_a_400_and_cools_nothing_down(strict, mock_upstream):
    raw = b'{"model": "kilo-auto/free", "messages": [{"role": "user", "content": "hi \\udfff"}]}'
    for _ in range(5):
        r = httpx.post(strict.url + "/v1/chat/completions", content=raw,
                       headers={"content-type": "application/json", "x-forwarded-for": "1.2.3.4"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_text"
    assert mock_upstream.stats()["models"] == {}
    ok = strict.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"}, headers={"x-session-id": "s1"})
    assert ok.status_code == 200 and "x-autotier-fallbacks" not in ok.headers
    # a paired surrogate escape is valid text (an emoji) and passes
    emoji = b'{"model": "kilo-auto/free", "messages": [{"role": "user", "content": "hi \\ud83d\\ude00"}]}'
    assert httpx.post(strict.url + "/v1/chat/completions", content=emoji,
                      headers={"content-type": "application/json"}).status_code == 200


def test_local_errors_are_not_provider_failures():
    try:
        "\udfff".encode()
    except UnicodeEncodeError as exc:
        local = exc
    wrapped = RuntimeError("litellm.InternalServerError")
    wrapped.status_code = 500  # type: ignore[attr-defined]
    wrapped.__cause__ = local
    assert not from_provider(wrapped)
    refused = RuntimeError("connection error")
    refused.status_code = 500  # type: ignore[attr-defined]
    refused.__cause__ = ConnectionRefusedError()
    assert from_provider(refused)
    assert from_provider(ProviderError(503, "busy"))


def test_one_caller_cannot_cool_a_model_down_for_others(strict, mock_upstream):
    # open/code: minimax first. Failures from one account never cool it; from 3 accounts they do.
    body = {**CHAT, "model": "kilo-auto/open"}
    one = strict.create_account(10.0)
    mock_upstream.configure({"models": {"minimax/minimax-m2.7": {"fail_next": 4, "fail_next_status": 500}}})
    for _ in range(4):
        r = strict.post("/v1/chat/completions", body, headers={"authorization": f"Bearer {one}",
                                                                 "x-kilocode-mode": "code"})
        assert r.status_code == 200 and r.headers["x-autotier-fallbacks"] == "minimax/minimax-m2.7"
    fine = strict.post("/v1/chat/completions", body, headers={"authorization": f"Bearer {one}",
                                                                "x-kilocode-mode": "code"})
    assert fine.headers["x-autotier-model"] == "minimax/minimax-m2.7"  # not cooling down
    mock_upstream.configure({"models": {"minimax/minimax-m2.7": {"fail_next": 3, "fail_next_status": 500}}})
    for _ in range(3):
        other = strict.create_account(10.0)
        strict.post("/v1/chat/completions", body, headers={"authorization": f"Bearer {other}",
                                                           "x-kilocode-mode": "code"})
    after = strict.post("/v1/chat/completions", body, headers={"authorization": f"Bearer {one}",
                                                                 "x-kilocode-mode": "code"})
    assert after.headers["x-autotier-model"] == "deepseek/deepseek-v3.2"
    assert "cooling down" in after.headers["x-autotier-reason"]


def test_a_64_kib_header_gets_431(strict):
    r = httpx.post(strict.url + "/v1/chat/completions", json={**CHAT, "model": "kilo-auto/free"},
                   headers={"x-kilocode-taskid": "a" * (64 * 1024)})
    assert r.status_code == 431
    many = "".join(f"x-h{i}: v\r\n" for i in range(150))
    reply = _raw(strict.url, f"GET /healthz HTTP/1.1\r\nhost: x\r\n{many}\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 431")
    assert httpx.get(strict.url + "/healthz").status_code == 200  # the server is fine


def test_slow_headers_and_bodies_time_out(strict):
    reply = _raw(strict.url, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n", read_timeout=5.0)
    assert reply.startswith(b"HTTP/1.1 408")
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 1000\r\n\r\n{\"model\":")
    reply = _raw(strict.url, head, read_timeout=5.0)
    assert b" 408 " in reply.split(b"\r\n", 1)[0] and b"request_timeout" in reply


def test_long_ids_are_refused_and_long_model_ids_stored_short(strict):
    r = strict.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                    headers={"x-kilocode-taskid": "t" * 300, "x-forwarded-for": "9.9.9.1"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "header_too_long"
    r = strict.post("/v1/chat/completions", {**CHAT, "model": "m" * 100_000})
    assert r.status_code == 404
    row = strict.ledger_rows()[-1]
    assert row["status"] == 404 and len(row["requested_model"]) == 200


def test_a_401_row_names_the_requested_model(strict):
    r = strict.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                    headers={"authorization": "Bearer at-not-a-key"})
    assert r.status_code == 401
    row = strict.ledger_rows()[-1]
    assert row["status"] == 401 and row["requested_model"] == "kilo-auto/frontier"


def test_failing_clients_are_limited_per_address(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--failures-per-minute", "10",
                       "--anonymous-per-hour", "100000") as gw:
        statuses = [gw.post("/v1/chat/completions", {**CHAT, "model": "no/such-model"}).status_code
                    for _ in range(15)]
        assert statuses[:10] == [404] * 10 and set(statuses[11:]) == {429}, statuses
        r = gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_failed_requests"
        assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("address, key", [
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("203.0.113.7", "203.0.113.7"),
    (None, "unknown"),
])
def test_ipv6_clients_are_limited_per_64(address, key):
    assert limit_key(address) == key


def test_a_client_disconnect_is_logged_without_a_traceback(strict, mock_upstream):
    mock_upstream.patch(**{"*": {"chunk_delay_ms": 100}})
    key = strict.create_account(5.0)
    body = {"model": "kilo-auto/frontier", "stream": True, "messages": [{"role": "user", "content": "one two " * 30}]}
    with httpx.Client(timeout=30) as client, client.stream(
            "POST", strict.url + "/v1/chat/completions", json=body,
            headers={"authorization": f"Bearer {key}", "x-kilocode-mode": "code"}) as r:
        next(r.iter_lines())
    time.sleep(1.0)
    assert strict.ledger_rows()[-1]["status"] == 499
    assert "Traceback" not in strict.process.output()


def test_a_body_of_100k_messages_is_served(strict, mock_upstream):
    body = {"model": "kilo-auto/free", "messages": [{"role": "user", "content": "x" * 4}] * 100_000}
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert 3_000_000 < len(raw) < 4 * 1024 * 1024
    r = httpx.post(strict.url + "/v1/chat/completions", content=raw, timeout=60,
                   headers={"content-type": "application/json", "x-session-id": "big"})
    assert r.status_code == 200


@pytest.mark.slow
def test_a_thousand_404s_with_4_mb_model_ids_barely_grow_the_database(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--anonymous-per-hour", "100000") as gw:
        gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"})
        before = _size(gw.db)
        raw = json.dumps({**CHAT, "model": "m" * (4 * 1024 * 1024 - 100)}).encode()

        async def flood() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as client:
                out = []
                for _ in range(1000):
                    r = await client.post(gw.url + "/v1/chat/completions", content=raw,
                                          headers={"content-type": "application/json"})
                    out.append(r.status_code)
                return out

        statuses = asyncio.run(flood())
        assert set(statuses) <= {404, 429} and 404 in statuses
        assert len([r for r in gw.ledger_rows() if r["status"] in (404, 429)]) == 1000
        grown = _size(gw.db) - before
        assert grown < 1024 * 1024, grown


def _size(db) -> int:
    """The database's size with its write-ahead log folded in (the WAL file itself keeps
    its high-water size, whatever the data)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return os.path.getsize(db)
