"""Dashboard endpoints over a large ledger: fill a fresh ledger with N synthetic usage rows
spread evenly over the last 7 days (so the 7d window covers every row: the worst case),
then time every dashboard endpoint through a real gateway process (HTTP, admin token).

    .venv/bin/python benchmarks/dashboard.py --rows 1000000 [--database-url postgresql://...]

Prints the first page view after start-up (it waits for the gateway's pre-computation of
closed hours, begun when the gateway starts), then one line per endpoint and window: median
and worst of --repeat calls, in ms.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from router.gateway.accounts import Ledger  # noqa: E402
from router.gateway.admin import AdminTokens  # noqa: E402
from tests.support.processes import LISTENING_URL, running_process  # noqa: E402

TIERS = {
    "frontier": (["anthropic/claude-sonnet-4.6", "anthropic/claude-opus-4.7"], 2500.0),
    "balanced": (["qwen/qwen3.6-plus", "openai/gpt-5.5", "anthropic/claude-sonnet-4.6"], 1800.0),
    "free": (["qwen/qwen3-coder:free", "deepseek/deepseek-r1:free", "openrouter/free"], 1500.0),
    "open": (["moonshotai/kimi-k2.5", "minimax/minimax-m2.7"], 1600.0),
    "small": (["google/gemma-4-31b-it"], 600.0),
    "efficient": (["qwen/qwen3.6-plus", "deepseek/deepseek-v3.2", "anthropic/claude-sonnet-4.6"], 1400.0),
    None: (["openai/gpt-5.5"], 1200.0),
}
ROUTE_KEYS = ["implementation/feature_development", "debugging/bug_fixing", "refactoring/code_cleanup",
              "planning_design/technical_planning", "implementation/test_creation"]
COLUMNS = ("time, account_id, api, tier, requested_model, resolved_model, fallbacks_tried, tokens_in, tokens_out,"
           " cost_usd, latency_ms, status, mode, session_id, provider_fields, decided_by, route_key, difficulty,"
           " confidence, expected_success, estimated_cost_usd, frontier_cost_usd")


def synthetic_row(rng: random.Random, at: float) -> tuple[Any, ...]:
    tier = rng.choice(list(TIERS))
    models, typical_ms = TIERS[tier]
    status = rng.choices([200, 200, 200, 200, 200, 200, 200, 200, 200, 400, 429, 502], k=1)[0]
    model = rng.choice(models) if status < 400 else None
    fallbacks = "openai/gpt-5.5" if rng.random() < 0.05 else ""
    tokens_in, tokens_out = rng.randint(200, 40_000), rng.randint(10, 4000)
    cost = (tokens_in * 1e-6 + tokens_out * 5e-6) if model and tier != "free" else 0.0
    efficient = tier == "efficient"
    decided = {"frontier": "mode", "balanced": "api", "free": "affinity", "open": "mode", "small": "balance",
               "efficient": "efficient", None: "catalog"}[tier]
    return (at, rng.randint(1, 50), rng.choice(["chat", "responses", "messages"]), tier,
            f"kilo-auto/{tier}" if tier else "openai/gpt-5.5", model, fallbacks, tokens_in, tokens_out, cost,
            rng.lognormvariate(0, 0.6) * typical_ms, status, rng.choice(["code", "plan", "ask", None]),
            f"session-{rng.randint(1, 20_000)}", "max_tokens,messages,model,stream",
            decided, rng.choice(ROUTE_KEYS) if efficient else None,
            rng.choice(["easy", "medium", "hard"]) if efficient else None,
            rng.random() if efficient else None, rng.uniform(0.5, 0.9) if efficient else None,
            cost * 0.9 if efficient else None, cost * 6 if efficient else None)


def fill(location: str, rows: int, now: float, seed: int = 0) -> None:
    """`rows` synthetic usage rows over the 7 days before `now`, in time order."""
    ledger = Ledger(location)
    rng = random.Random(seed)
    span = 7 * 86_400
    sql = ledger.dialect.sql(f"INSERT INTO usage ({COLUMNS}) VALUES ({', '.join(['?'] * 22)})")
    batch = 20_000
    for first in range(0, rows, batch):
        values = [synthetic_row(rng, now - span + span * (i + 0.5) / rows)
                  for i in range(first, min(rows, first + batch))]
        with ledger._lock, ledger._transaction():  # noqa: SLF001 - a benchmark filling the table in bulk
            cursor = ledger._conn.cursor()  # noqa: SLF001
            cursor.executemany(sql, values)
    ledger.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--database-url", default=None, help="postgresql://... (an empty database); default: SQLite")
    p.add_argument("--ledger", type=Path, default=None, help="reuse this SQLite ledger if it exists (else fill it)")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="autotier-dashboard-bench-"))
    location = args.database_url or str(args.ledger or folder / "ledger.db")
    try:
        if args.database_url or not Path(location).exists():
            started = time.perf_counter()
            fill(location, args.rows, time.time())
            print(f"filled {args.rows} rows in {time.perf_counter() - started:.1f}s ({location})", flush=True)
        return _time_endpoints(location, bool(args.database_url), args.repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the filled SQLite ledger is ~200 MB (kept with --ledger)


def _time_endpoints(location: str, postgres: bool, repeat: int) -> int:
    token = AdminTokens(location).create("benchmark")
    db_flag = ["--database-url", location] if postgres else ["--db", location]
    command = [sys.executable, "-m", "router.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1",
               "--demo", "--log-level", "warning", *db_flag]
    with running_process(command, url_pattern=LISTENING_URL, health_path="/readyz", start_timeout_s=120) as proc, \
            httpx.Client(base_url=proc.url, headers={"authorization": f"Bearer {token}"}, timeout=60) as client:
        started = time.perf_counter()
        client.get("/dashboard?window=7d").raise_for_status()  # waits for the start-up pre-computation
        print(f"first page view after start-up (7d): {(time.perf_counter() - started) * 1000:.0f} ms", flush=True)
        paths = ["/dashboard/api/changelog"] + [
            f"/dashboard{part}?window={w}" for w in ("1h", "24h", "7d")
            for part in ("", "/api/tiers", "/api/latency", "/api/traffic", "/api/efficient")]
        print(f"{'endpoint':44} {'median ms':>10} {'max ms':>8}")
        for path in paths:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                reply = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                reply.raise_for_status()
            print(f"{path:44} {statistics.median(times):>10.0f} {max(times):>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
