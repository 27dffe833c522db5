"""`SqliteState`: the live state that `serve --workers N` shares through one SQLite file.
Several states on one file stand for several processes; the exact-limit test uses real
processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time

import pytest

from router.gateway.live_state import LiveStateUnavailable, live_state_for
from router.gateway.shared_state import SqliteState


def _hits(path: str, start: multiprocessing.synchronize.Event, count: int, now: float) -> list[bool]:
    async def run() -> list[bool]:
        state = SqliteState(path)
        await state.start()
        try:
            start.wait(30)
            return [await state.hit("ip", 7, 3600, now) is None for _ in range(count)]
        finally:
            await state.close()

    return asyncio.run(run())


def test_one_rate_limit_is_exact_across_processes(tmp_path):
    path = str(tmp_path / "live.db")
    ctx = multiprocessing.get_context("spawn")
    now = time.time()
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(3) as pool:
            pending = [pool.apply_async(_hits, (path, start, 15, now)) for _ in range(3)]
            start.set()
            passed = [ok for p in pending for ok in p.get(60)]
    assert passed.count(True) == 7


def test_windows_limits_and_waits(tmp_path):
    async def run() -> None:
        state = SqliteState(tmp_path / "live.db")
        await state.start()
        try:
            now = 7200.0 + 100  # 100 s into an hourly window
            assert [await state.hit("k", 2, 3600, now) for _ in range(2)] == [None, None]
            assert await state.hit("k", 2, 3600, now) == pytest.approx(3500)
            assert await state.hit("k", 2, 3600, now + 3600) is None  # a new window starts over
            assert await state.hit("other", 2, 3600, now) is None  # keys count apart
            assert await state.hit("none allowed", 0, 60, now) is not None
        finally:
            await state.close()

    asyncio.run(run())


def test_cooldowns_and_sessions_are_shared(tmp_path):
    async def run() -> None:
        path = tmp_path / "live.db"
        a, b = SqliteState(path, refresh_s=0.05), SqliteState(path, refresh_s=0.05)
        await a.start()
        await b.start()
        try:
            now = time.time()
            a.cool_down("m", 30, now)
            a.cool_down("m", 5, now)  # a shorter cooldown never shortens a longer one
            assert not a.availability(now).is_available("m")  # at once where it happened
            for _ in range(200):
                if b.cooldown_left("m", time.time()) > 0:
                    break
                await asyncio.sleep(0.02)
            assert b.cooldown_left("m", now) == pytest.approx(30, abs=0.01)
            assert not b.availability(now).is_available("m") and b.availability(now + 31).is_available("m")

            assert await b.session_model("s1") is None
            await a.remember_session("s1", "model-a")
            assert await b.session_model("s1") == "model-a"
            await b.remember_session("s1", "model-b")  # the other process's turn moved it
            assert await a.session_model("s1") == "model-b"
            await a.remember_session("s1", "model-a")  # a knew model-b: writes again
            assert await b.session_model("s1") == "model-a"
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_sessions_expire(tmp_path):
    async def run() -> None:
        path = tmp_path / "live.db"
        writer, reader = SqliteState(path, session_ttl_s=0), SqliteState(path)
        await writer.start()
        await reader.start()
        try:
            await writer.remember_session("s", "m")
            assert await reader.session_model("s") is None
        finally:
            await writer.close()
            await reader.close()

    asyncio.run(run())


def test_selection_unopenable_file_and_a_failing_file(tmp_path):
    assert isinstance(live_state_for(None, tmp_path / "x.db"), SqliteState)
    assert type(live_state_for(None)).__name__ == "InProcessState"

    async def unopenable() -> None:
        with pytest.raises(LiveStateUnavailable, match="cannot open the live-state file"):
            await SqliteState(tmp_path / "missing-folder" / "live.db").start()

    asyncio.run(unopenable())

    async def failing() -> None:
        path = tmp_path / "live.db"
        state = SqliteState(path)
        await state.start()
        try:
            with sqlite3.connect(path) as other:
                other.execute("DROP TABLE hits")
                other.execute("DROP TABLE sessions")
            # Counting goes on in this process; sessions stay local.
            waits = [await state.hit("ip", 2, 3600, time.time()) for _ in range(3)]
            assert waits[:2] == [None, None] and waits[2] is not None
            assert state.health() == "sqlite-degraded"
            await state.remember_session("s", "m")
            assert await state.session_model("s") == "m"
        finally:
            await state.close()

    asyncio.run(failing())
