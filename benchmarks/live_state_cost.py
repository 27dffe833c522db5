"""What the shared live-state file (`SqliteState`, `serve --workers N` without Redis) costs
per call, in one process, against a fresh file:

    python benchmarks/live_state_cost.py [--calls 5000]

Prints p50 / p99 microseconds per call for the reads and writes a request makes."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from router.gateway.shared_state import SqliteState


async def _timed(calls: int, fn: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    took = []
    for i in range(calls):
        start = time.perf_counter()
        await fn(i)
        took.append(time.perf_counter() - start)
    took.sort()
    return took[calls // 2] * 1e6, took[int(calls * 0.99)] * 1e6


async def run(calls: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        state = SqliteState(Path(folder) / "live.db")
        await state.start()
        try:
            async def availability(_: int) -> None:
                state.availability(time.time())

            cases: dict[str, Callable[[int], Awaitable[object]]] = {
                "session write (new session)": lambda i: state.remember_session(f"new{i}", "m"),
                "session read": lambda i: state.session_model(f"new{i % 64}"),
                "session unchanged (no write)": lambda i: state.remember_session("new1", "m"),
                "rate-limit hit": lambda i: state.hit(f"k{i % 100}", 10**9, 3600, time.time()),
                "availability (route() input)": availability,
            }
            for name, fn in cases.items():
                p50, p99 = await _timed(calls, fn)
                print(f"{name:32} p50 {p50:7.1f} us   p99 {p99:7.1f} us")
        finally:
            await state.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    asyncio.run(run(parser.parse_args().calls))


if __name__ == "__main__":
    main()
