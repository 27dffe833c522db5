"""What holding money before a paid call costs: the extra ledger work per request.

    python benchmarks/hold_cost.py                    # SQLite (the embedded default)
    python benchmarks/hold_cost.py --database-url postgresql://...   # PostgreSQL too

A paid request used to write its usage row once (`Ledger.record`). It now also takes a hold
first (`Ledger.reserve`: one transaction) and the settling `record` deletes the hold. Both
run exactly as the gateway runs them: `asyncio.to_thread` from the event loop. Timed per
request, interleaved (A: record only; B: reserve + record with the hold), over `--n`
requests each after a warm-up. Writes benchmarks/results/hold_cost.json. Compare the added
time with the gateway's added latency in benchmarks/RESULTS.md ("Money paths").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from router.gateway.accounts import Ledger, UsageRow

RESULTS = Path(__file__).resolve().parent / "results" / "hold_cost.json"


def _row(account_id: int) -> UsageRow:
    return UsageRow(account_id, "chat", "frontier", "kilo-auto/frontier", "anthropic/claude-sonnet-4.6", (),
                    120, 40, 0.00096, 3.0, 200, "code", "bench-session", ("messages", "model", "stream"))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(ledger: Ledger, n: int) -> dict[str, float]:
    account, _ = ledger.create_account(1e9)
    plain, held = [], []
    for i in range(n + n // 10):
        started = time.perf_counter()
        await asyncio.to_thread(ledger.record, _row(account.id))
        middle = time.perf_counter()
        hold = await asyncio.to_thread(ledger.reserve, account.id, lambda balance: (0.05, None))
        await asyncio.to_thread(ledger.record, _row(account.id), hold)
        done = time.perf_counter()
        if i >= n // 10:  # the first tenth warms up
            plain.append((middle - started) * 1000)
            held.append((done - middle) * 1000)
    added = [h - p for h, p in zip(held, plain, strict=True)]
    return {
        "requests": n,
        "record_only_ms_p50": round(statistics.median(plain), 4),
        "record_only_ms_p99": round(_pct(plain, 0.99), 4),
        "reserve_and_record_ms_p50": round(statistics.median(held), 4),
        "reserve_and_record_ms_p99": round(_pct(held, 0.99), 4),
        "added_ms_p50": round(statistics.median(held) - statistics.median(plain), 4),
        "added_ms_mean": round(statistics.fmean(added), 4),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--database-url", help="also measure this PostgreSQL database")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "bench.db")
        try:
            results["sqlite"] = asyncio.run(measure(ledger, args.n))
        finally:
            ledger.close()
    if args.database_url:
        ledger = Ledger(args.database_url)
        try:
            results["postgresql"] = asyncio.run(measure(ledger, args.n))
        finally:
            ledger.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
