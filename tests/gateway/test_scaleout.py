"""Scale-out: several gateway processes sharing one real redis-server (rate limits,
cooldowns, sessions) and one real PostgreSQL (accounts and the ledger).

The first tests drive `RedisState` and the PostgreSQL `Ledger` directly (fast); the
`slow` ones start three `autotier serve` processes on loopback and check the same
guarantees end to end."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress

import httpx
import pytest
import redis

from router.gateway.accounts import Ledger, UsageRow
from router.gateway.live_state import LiveStateUnavailable, RedisState
from tests.gateway.conftest import GatewayHandle, start_gateway
from tests.support.processes import free_port
from tests.support.stores import StoreUnavailable, redis_server

CHAT = {"messages": [{"role": "user", "content": "hello"}]}




@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


# ---- the shared state itself ------------------------------------------------------------
def test_one_rate_limit_is_exact_across_states_sharing_redis(fresh_redis):
    async def run() -> list[float | None]:
        # Generous timeouts: this checks counting, and a loaded machine must not trip a fallback.
        states = [RedisState(fresh_redis, timeout_s=5.0) for _ in range(3)]
        for state in states:
            await state.start()
        try:
            now = time.time()
            waits = await asyncio.gather(*(states[i % 3].hit("ip", 7, 3600, now) for i in range(40)))
            assert [s.health() for s in states] == ["redis"] * 3  # a timeout would fall back, not miscount
            return waits
        finally:
            for state in states:
                await state.close()

    waits = asyncio.run(run())
    assert waits.count(None) == 7
    assert all(0 < w <= 3600 for w in waits if w is not None)


def test_a_redis_call_that_never_returns_falls_back_within_the_deadline(fresh_redis):
    async def run() -> None:
        state = RedisState(fresh_redis, timeout_s=0.05, retry_s=60)
        await state.start()
        try:
            async def stuck(*args, **kwargs):  # e.g. a pool whose lock is never released
                await asyncio.sleep(3600)

            state._hit = stuck
            # Without the deadline this sleeps for an hour (pytest-timeout stops it at 300 s).
            waits = [await state.hit("ip", 1, 3600, time.time()) for _ in range(2)]
            assert waits[0] is None and 0 < waits[1] <= 3600  # counted locally: the second is refused
            assert state.health() == "redis-degraded"
        finally:
            await asyncio.wait_for(state.close(), 30)

    asyncio.run(run())


def test_cooldowns_and_sessions_are_shared(fresh_redis):
    async def run() -> None:
        a, b = RedisState(fresh_redis, refresh_s=0.05), RedisState(fresh_redis, refresh_s=0.05)
        await a.start()
        await b.start()
        try:
            now = time.time()
            a.cool_down("m", 30, now)
            a.cool_down("m", 5, now)  # a shorter cooldown never shortens a longer one
            assert not a.availability(now).is_available("m")  # at once where it happened
            for _ in range(100):
                if b.cooldown_left("m", time.time()) > 0:
                    break
                await asyncio.sleep(0.02)
            assert b.cooldown_left("m", now) == pytest.approx(30, abs=0.01)
            assert not b.availability(now).is_available("m") and b.availability(now + 31).is_available("m")
            assert await b.session_model("s1") is None
            await a.remember_session("s1", "model-a")
            assert await b.session_model("s1") == "model-a"
            assert 0 < redis.Redis.from_url(fresh_redis).ttl("autotier:session:s1") <= 86_400
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_unreachable_redis_fails_start_and_a_lost_redis_degrades_to_local_state():
    async def unreachable() -> None:
        state = RedisState(f"redis://127.0.0.1:{free_port()}/0")
        with pytest.raises(LiveStateUnavailable, match="cannot reach Redis at redis://127.0.0.1"):
            await state.start()

    asyncio.run(unreachable())

    async def lost(url: str) -> None:
        state = RedisState(url, retry_s=60)
        await state.start()
        try:
            assert state.health() == "redis"
            with suppress(redis.exceptions.ConnectionError), redis.Redis.from_url(url) as client:
                client.shutdown(nosave=True)
            # Counting goes on per process, sessions and cooldowns locally.
            waits = [await state.hit("ip", 2, 3600, time.time()) for _ in range(3)]
            assert waits[:2] == [None, None] and waits[2] is not None
            assert state.health() == "redis-degraded"
            await state.remember_session("s", "m")
            assert await state.session_model("s") == "m"
            state.cool_down("x", 10, time.time())
            assert state.cooldown_left("x", time.time()) > 0
        finally:
            await state.close()

    try:
        with redis_server() as url:
            asyncio.run(lost(url))
    except StoreUnavailable as exc:
        pytest.skip(str(exc))


def test_postgres_ledger_is_the_sqlite_code_path(pg, tmp_path):
    for location in (pg.create_database("ledger_unit"), tmp_path / "ledger.db"):
        ledger, other = Ledger(location), Ledger(location)  # two processes' worth of connections
        try:
            account, key = ledger.create_account(2.0)
            assert other.lookup(key) == account and other.lookup("at-nope") is None
            row = UsageRow(account.id, "chat", "free", "kilo-auto/free", "m", ("a", "b"), 10, 20, 0.25, 1.5, 200,
                           "plan", "s1")
            ledger.record(row)
            ledger.record(UsageRow(None, "messages", None, None, None, (), 0, 0, None, 0.1, 429))
            rows = other.usage()
            assert [(r["session_id"], r["status"], r["fallbacks_tried"]) for r in rows] == [
                ("s1", 200, "a,b"), (None, 429, "")]
            assert other.usage(limit=1)[0]["status"] == 429
            assert other.accounts()[0].balance == pytest.approx(1.75)
        finally:
            ledger.close()
            other.close()


def test_cli_accounts_against_postgres(pg):
    url = pg.create_database("ledger_cli")
    run = [sys.executable, "-m", "router.cli", "accounts", "--database-url", url]
    key = subprocess.run([*run, "create", "--balance", "3"], capture_output=True, text=True, check=True).stdout.strip()
    assert key.startswith("at-")
    ledger = Ledger(url)
    try:
        assert ledger.lookup(key) is not None
    finally:
        ledger.close()
    bad = subprocess.run([sys.executable, "-m", "router.cli", "accounts", "--database-url",
                          f"postgresql://nobody:secret@127.0.0.1:{free_port()}/x", "list"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot open the database" in bad.stderr and "secret" not in bad.stderr


# ---- three gateway processes ------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(mock_upstream_process, tmp_path_factory, redis_url, pg) -> Iterator[list[GatewayHandle]]:
    """Three gateways sharing one Redis and one PostgreSQL database; anonymous limit 5/hour;
    one caller's provider failure cools a model down (`--cooldown-after 1`)."""
    redis.Redis.from_url(redis_url).flushdb()
    database = pg.create_database("cluster")
    folder = tmp_path_factory.mktemp("cluster")
    flags = ("--redis-url", redis_url, "--database-url", database, "--anonymous-per-hour", "5",
             "--trusted-proxy", "127.0.0.1/32", "--cooldown-after", "1")
    with ExitStack() as stack:
        handles = [stack.enter_context(start_gateway(mock_upstream_process, folder, *flags)) for _ in range(3)]
        for handle in handles:
            handle.database = database  # type: ignore[attr-defined]
        yield handles


def _pg_rows(database: str) -> list[dict[str, object]]:
    ledger = Ledger(database)
    try:
        return ledger.usage(100_000)
    finally:
        ledger.close()


def _funded_key(database: str) -> str:
    ledger = Ledger(database)
    try:
        return ledger.create_account(100.0)[1]
    finally:
        ledger.close()


def _away_from_window_edge(window_s: float = 3600.0, margin_s: float = 10.0) -> None:
    """Fixed windows reset on the hour: do not straddle a reset."""
    left = (math.floor(time.time() / window_s) + 1) * window_s - time.time()
    if left < margin_s:
        time.sleep(left + 0.5)


@pytest.mark.slow
def test_one_anonymous_limit_across_three_processes(cluster):
    _away_from_window_edge()
    ip = "203.0.113.50"

    def send(i: int) -> int:
        headers = {"x-forwarded-for": ip, "x-session-id": f"rl-{i}"}
        return cluster[i % 3].post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                                   headers=headers).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(send, range(15)))
    assert sorted(statuses) == [200] * 5 + [429] * 10, statuses
    # each process enforces it: all three now refuse
    for gw in cluster:
        assert gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                       headers={"x-forwarded-for": ip}).status_code == 429
    # every answer, refused or not, has its row in PostgreSQL, from whichever process served it
    rows = {r["session_id"]: r["status"] for r in _pg_rows(cluster[0].database) if str(r["session_id"]).startswith("rl-")}
    assert rows == {f"rl-{i}": s for i, s in enumerate(statuses)}


@pytest.mark.slow
def test_a_cooldown_in_one_process_is_seen_by_the_others(cluster, mock_upstream):
    model = "x-ai/grok-code-fast-1"
    key = _funded_key(cluster[0].database)
    auth = {"authorization": f"Bearer {key}"}
    mock_upstream.patch(**{model: {"fail_next": 1, "fail_next_status": 429, "retry_after_s": 120}})
    first = cluster[0].post("/v1/chat/completions", {**CHAT, "model": model}, headers=auth)
    assert first.status_code == 503 and first.json()["error"]["code"] == "upstream_unavailable"
    for other in cluster[1:]:  # each process re-reads shared cooldowns on its own refresh cycle
        deadline = time.monotonic() + 10
        while True:  # /v1/route never calls the provider: poll until this process has the cooldown
            explained = other.post("/v1/route", {**CHAT, "model": model}, headers=auth)
            if explained.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert explained.json()["error"]["code"] == "model_cooling_down"
    third = cluster[2].post("/v1/chat/completions", {**CHAT, "model": model}, headers=auth)
    assert third.status_code == 503 and third.json()["error"]["code"] == "model_cooling_down"
    assert 100 <= int(third.headers["retry-after"]) <= 120
    assert mock_upstream.stats()["models"][model]["requests"] == 1  # nobody called it again


@pytest.mark.slow
def test_a_session_keeps_its_model_across_processes(cluster, mock_upstream, redis_url):
    key = _funded_key(cluster[0].database)
    auth = {"authorization": f"Bearer {key}"}
    first = cluster[0].post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                            headers={**auth, "x-kilocode-mode": "plan", "x-kilocode-taskid": "sess-a"})
    assert first.json()["model"] == "anthropic/claude-opus-4.7"
    assert redis.Redis.from_url(redis_url, decode_responses=True).get("autotier:session:sess-a") == first.json()["model"]

    # Process 2 knows what served the previous turn: Claude's reasoning is stripped before qwen.
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "hello", "reasoning_content": "claude thoughts"},
               {"role": "user", "content": "go on"}]
    for session, stripped in (("sess-a", True), ("sess-unknown", False)):
        r = cluster[1].post("/v1/chat/completions", {"model": "kilo-auto/balanced", "messages": history},
                            headers={**auth, "x-kilocode-taskid": session})
        assert r.status_code == 200
        sent = mock_upstream.last_request("qwen/qwen3.6-plus")["messages"]
        assert ("reasoning_content" not in sent[1]) is stripped, session

    # The efficient tier keeps a session on its model: process 3 sees process 2's turn.
    body = {"model": "kilo-auto/efficient", "messages": [{"role": "user", "content": "fix the failing test"}]}
    served = cluster[1].post("/v1/chat/completions", body, headers={**auth, "x-kilocode-taskid": "sess-b"})
    assert served.status_code == 200
    decision = cluster[2].post("/v1/route", body, headers={**auth, "x-kilocode-taskid": "sess-b"}).json()
    assert decision["model"] == served.json()["model"]
    assert "previous turn" in " ".join(decision["reason"])


@pytest.mark.slow
def test_gateway_refuses_to_start_without_redis(mock_upstream_process, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--port", "0", "--mock-upstream", mock_upstream_process.url,
         "--db", str(tmp_path / "g.db"), "--redis-url", dead, "--log-level", "critical"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"autotier serve: cannot reach Redis at {dead}" in result.stderr
    assert "listening on" not in result.stdout


@pytest.mark.slow
def test_gateway_refuses_to_start_without_its_database(mock_upstream_process):
    dead = f"postgresql://autotier:secret@127.0.0.1:{free_port()}/x"
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--port", "0", "--mock-upstream", mock_upstream_process.url,
         "--database-url", dead, "--log-level", "critical"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "autotier serve: cannot open the database postgresql://autotier:***@127.0.0.1" in result.stderr


@pytest.mark.slow
def test_readyz_names_the_live_state(cluster):
    assert httpx.get(cluster[0].url + "/readyz").json()["live_state"] == "redis"


@pytest.mark.slow
def test_fifty_concurrent_requests_across_three_processes_cannot_overdraw(cluster, mock_upstream):
    """Issue 13: the 0.01 USD account that 50 concurrent requests once left at -11.76 USD.
    The stated bound is zero: every paid call is held first, in PostgreSQL, across processes."""
    mock_upstream.patch(**{"*": {"latency_ms": 50}})
    ledger = Ledger(cluster[0].database)
    try:
        account, key = ledger.create_account(0.01)
    finally:
        ledger.close()
    body = {**CHAT, "model": "kilo-auto/frontier"}
    headers = {"authorization": f"Bearer {key}", "x-kilocode-mode": "code"}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60.0) as client:
            replies = await asyncio.gather(*(
                client.post(cluster[i % 3].url + "/v1/chat/completions", json=body, headers=headers)
                for i in range(50)))
        return [r.status_code for r in replies]

    statuses = asyncio.run(burst())
    assert set(statuses) <= {200, 402} and 200 in statuses, statuses
    ledger = Ledger(cluster[0].database)
    try:
        balance = next(a.balance for a in ledger.accounts() if a.id == account.id)
        rows = [r for r in ledger.usage(100_000) if r["account_id"] == account.id]
    finally:
        ledger.close()
    assert balance >= 0.0
    assert len(rows) == 50
    assert abs(0.01 - sum(r["cost_usd"] or 0.0 for r in rows) - balance) < 1e-9  # every hold settled
