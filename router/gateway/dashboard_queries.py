"""The dashboard's numbers, aggregated in SQL over the usage ledger (same SQL on SQLite
and PostgreSQL; `?` placeholders translated by the ledger's `Dialect`).

Reads go through a connection of their own, so that a scan of a large window never holds
the ledger's lock that request bookkeeping takes (SQLite in WAL mode reads beside the
writer). Every aggregate is a set of additive sums per group, and the rows of an hour that
is over never change (rows are written with the time they are committed), so each hour's
sums are computed once and kept (`DashboardStore.aggregate`): a query reads from the
ledger only the hour under way and the window's partial first hour (`usage_time` index),
whatever the ledger's size. Latency percentiles come from a histogram over fixed latency
buckets counted in SQL (no per-row sort), read off within a bucket by linear
interpolation (buckets are 10% wide: the estimate is within 10%).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.gateway.database import POSTGRES, SQLITE, is_database_url, open_database

WINDOWS = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400}
DEFAULT_WINDOW = "24h"
NO_TIER = "(none)"  # a catalog model id asked for directly, or refused before routing
# Latency bucket upper bounds in ms: 0.5 ms to ~17 minutes, each 10% wider than the last.
LATENCY_BOUNDS = tuple(round(0.5 * 1.1**i, 3) for i in range(155))
# Time buckets of the traffic chart per window (each divides an hour or is whole hours).
TRAFFIC_STEP_S = {"1h": 120, "24h": 3600, "7d": 6 * 3600}
HOUR_S = 3600
# A row is written with the time it is committed; rows of one hour are taken as final a
# minute after it ends (a process cannot commit a row that late).
LATE_ROW_S = 60
CACHED_HOURS = 7 * 24 + 2
# floor(time) in both databases: CAST truncates in SQLite and rounds in PostgreSQL.
FLOOR_TIME = "(CAST(time AS BIGINT) - CASE WHEN CAST(time AS BIGINT) > time THEN 1 ELSE 0 END)"
HOUR = f"{FLOOR_TIME} / {HOUR_S}"


@dataclass(frozen=True, slots=True)
class Kind:
    """One aggregate: additive `sums` (SQL expressions) per value of `groups`, over the
    rows that also match `where` (SQL starting with AND, or empty)."""

    name: str
    groups: tuple[str, ...]
    sums: tuple[str, ...]
    where: str = ""


SERVED = "status < 400"
TIERS = Kind("tiers", ("tier", "resolved_model"), (
    "COUNT(*)", "SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN fallbacks_tried <> '' THEN 1 ELSE 0 END)", "SUM(COALESCE(cost_usd, 0))"))
EFFICIENT = Kind("efficient", ("route_key", "difficulty"), (
    "COUNT(*)", f"SUM(CASE WHEN {SERVED} AND frontier_cost_usd IS NOT NULL THEN 1 ELSE 0 END)",
    f"SUM(CASE WHEN {SERVED} THEN frontier_cost_usd END)",
    f"SUM(CASE WHEN {SERVED} AND frontier_cost_usd IS NOT NULL THEN estimated_cost_usd END)",
    f"SUM(CASE WHEN {SERVED} AND frontier_cost_usd IS NOT NULL THEN cost_usd END)"),
    " AND decided_by = 'efficient'")


def latency_bucket_sql(column: str = "latency_ms", bounds: tuple[float, ...] = LATENCY_BOUNDS) -> str:
    """A CASE expression giving the index of the first bound a value is below (len(bounds)
    above them all). Written as a balanced tree, so each row costs log2(len) comparisons,
    and with plain comparisons only, so SQLite and PostgreSQL put every value in the same
    bucket (no floor/log functions, which SQLite may lack)."""

    def tree(lo: int, hi: int) -> str:  # bucket in [lo, hi]
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2  # bucket <= mid  <=>  value < bounds[mid]
        return f"CASE WHEN {column} < {bounds[mid]!r} THEN {tree(lo, mid)} ELSE {tree(mid + 1, hi)} END"

    return tree(0, len(bounds))


LATENCY = Kind("latency", ("tier", latency_bucket_sql()), ("COUNT(*)",), f" AND {SERVED}")


def percentile(counts: dict[int, int], q: float, bounds: tuple[float, ...] = LATENCY_BOUNDS) -> float | None:
    """The q-quantile (0..1) of a latency histogram {bucket index: count}, interpolated
    linearly inside its bucket; None when empty."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(counts):
        n = counts[index]
        if seen + n >= rank and n:
            lo = bounds[index - 1] if index > 0 else 0.0
            hi = bounds[index] if index < len(bounds) else bounds[-1] * 1.1
            return round(lo + (hi - lo) * max(0.0, rank - seen) / n, 1)
        seen += n
    return None


def window_seconds(window: str) -> int:
    """Seconds of a window name (1h, 24h, 7d); ValueError naming the choices otherwise."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    return WINDOWS[window]


def _merge(out: dict[tuple[Any, ...], list[float]], rows: list[tuple[Any, ...]], groups: int) -> None:
    """Add rows (hour, *groups, *sums) into `out` {groups: sums}."""
    for row in rows:
        total = out.setdefault(tuple(row[1:groups + 1]), [0.0] * (len(row) - groups - 1))
        for i, value in enumerate(row[groups + 1:]):
            total[i] += float(value or 0)


class DashboardStore:
    """Read-only aggregates over the usage ledger at `location` (a SQLite path or a
    `postgresql://` URL). Thread-safe: one connection behind a lock; calls block (run them
    on a worker thread from async code). `now` is injectable for tests and benchmarks."""

    def __init__(self, location: Path | str):
        self.location = str(location)
        self.dialect = POSTGRES if is_database_url(location) else SQLITE
        self._lock = threading.Lock()
        self._conn: Any = None
        self.closed = False
        self._aggregating = threading.Lock()  # one at a time: they share the cache
        self._cache: dict[str, dict[int, list[tuple[Any, ...]]]] = {}  # kind -> hour -> rows

    def _connect(self) -> Any:
        return open_database(self.location)

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._lock:
            if self.closed:
                raise RuntimeError("the dashboard's store is closed")
            if self._conn is None or (self.dialect is POSTGRES and (self._conn.closed or self._conn.broken)):
                self._conn = self._connect()
            yield self._conn

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._cursor() as conn:
            return list(conn.execute(self.dialect.sql(sql), params).fetchall())

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @staticmethod
    def _slice_sql(kind: Kind) -> str:
        positions = ", ".join(str(i + 1) for i in range(len(kind.groups) + 1))
        return (f"SELECT {HOUR}, {', '.join(kind.groups)}, {', '.join(kind.sums)} FROM usage"
                f" WHERE time >= ? AND time < ?{kind.where} GROUP BY {positions}")

    def aggregate(self, kind: Kind, since: float, now: float) -> dict[tuple[Any, ...], list[float]]:
        """`kind`'s sums per group over rows with since <= time < now: closed hours from
        the cache (filled by one query for all the hours missing), the rest live."""
        with self._aggregating:
            return self._aggregate(kind, since, now)

    def _aggregate(self, kind: Kind, since: float, now: float) -> dict[tuple[Any, ...], list[float]]:
        closed_from = -(-int(since) // HOUR_S) * HOUR_S
        closed_to = int(now - LATE_ROW_S) // HOUR_S * HOUR_S
        out: dict[tuple[Any, ...], list[float]] = {}
        if closed_to <= closed_from:
            _merge(out, self._rows(self._slice_sql(kind), (since, now)), len(kind.groups))
            return out
        _merge(out, self._rows(self._slice_sql(kind), (since, float(closed_from))), len(kind.groups))
        _merge(out, self._rows(self._slice_sql(kind), (float(closed_to), now)), len(kind.groups))
        hours = range(closed_from // HOUR_S, closed_to // HOUR_S)
        cache = self._cache.setdefault(kind.name, {})
        missing = [h for h in hours if h not in cache]
        if missing:
            fresh: dict[int, list[tuple[Any, ...]]] = {h: [] for h in range(missing[0], missing[-1] + 1)}
            for row in self._rows(self._slice_sql(kind), (missing[0] * HOUR_S, (missing[-1] + 1) * HOUR_S)):
                fresh.setdefault(int(row[0]), []).append(row)
            for hour, rows in fresh.items():
                cache[hour] = rows
            for hour in [h for h in cache if h < hours.start - CACHED_HOURS]:
                del cache[hour]
        for hour in hours:
            _merge(out, cache[hour], len(kind.groups))
        return out

    # ---- one method per chart ---------------------------------------------------------
    def tiers(self, window: str, now: float | None = None) -> dict[str, Any]:
        """Per tier: requests, errors (status >= 400), requests that fell back past a
        failing model, cost in USD (real, billed), and the share of each resolved model
        among the tier's answered requests."""
        now = now or time.time()
        since = now - window_seconds(window)
        tiers: dict[str, dict[str, Any]] = {}
        for (tier, model), (n, errors, fallbacks, cost) in self.aggregate(TIERS, since, now).items():
            entry = tiers.setdefault(tier or NO_TIER, {"tier": tier or NO_TIER, "requests": 0, "errors": 0,
                                                        "fallbacks": 0, "cost_usd": 0.0, "models": {}})
            entry["requests"] += int(n)
            entry["errors"] += int(errors)
            entry["fallbacks"] += int(fallbacks)
            entry["cost_usd"] += cost
            if model is not None:
                entry["models"][model] = entry["models"].get(model, 0) + int(n)
        out = []
        for entry in sorted(tiers.values(), key=lambda e: (-e["requests"], e["tier"])):
            n = entry["requests"]
            served = sum(entry["models"].values())
            models = [{"model": m, "requests": c, "share": round(c / served, 4)}
                      for m, c in sorted(entry["models"].items(), key=lambda mc: (-mc[1], mc[0]))]
            out.append({**entry, "cost_usd": round(entry["cost_usd"], 6), "models": models,
                        "error_rate": round(entry["errors"] / n, 4), "fallback_rate": round(entry["fallbacks"] / n, 4)})
        return {"window": window, "since": since, "until": now, "tiers": out}

    def latency(self, window: str, now: float | None = None) -> dict[str, Any]:
        """Per tier, latency p50 and p95 in ms of answered requests (status < 400), from
        the bucket histogram (see the module docstring)."""
        now = now or time.time()
        since = now - window_seconds(window)
        histograms: dict[str, dict[int, int]] = {}
        for (tier, bucket), (n,) in self.aggregate(LATENCY, since, now).items():
            histograms.setdefault(tier or NO_TIER, {})[int(bucket)] = int(n)
        out = [{"tier": tier, "requests": sum(h.values()), "p50_ms": percentile(h, 0.5),
                "p95_ms": percentile(h, 0.95)} for tier, h in histograms.items()]
        out.sort(key=lambda e: (-e["requests"], e["tier"]))
        return {"window": window, "since": since, "until": now, "tiers": out}

    def traffic(self, window: str, now: float | None = None) -> dict[str, Any]:
        """Requests per time step and tier; `start` is the first step's start (Unix s),
        the last step is the one under way."""
        now = now or time.time()
        step = TRAFFIC_STEP_S[window]
        steps = window_seconds(window) // step
        start = (int(now) // step - steps + 1) * step
        unit = min(step, HOUR_S)  # steps of whole hours are summed from hourly counts (one cache)
        kind = Kind(f"traffic{unit}", (f"{FLOOR_TIME} / {unit}", "tier"), ("COUNT(*)",))
        series: dict[str, list[int]] = {}
        for (slot, tier), (n,) in self.aggregate(kind, float(start), now).items():
            index = (int(slot) * unit - start) // step
            if 0 <= index < steps:
                series.setdefault(tier or NO_TIER, [0] * steps)[index] += int(n)
        ordered = sorted(series.items(), key=lambda tv: (-sum(tv[1]), tv[0]))
        return {"window": window, "start": start, "step_s": step,
                "series": [{"tier": t, "requests": v} for t, v in ordered]}

    def efficient(self, window: str, now: float | None = None) -> dict[str, Any]:
        """The efficient tier (rows it decided): requests per route key and per
        difficulty, and the saving against the frontier tier over answered requests with a
        frontier estimate: what frontier would have cost (estimated), what the chosen
        models were estimated to cost, and what they really cost."""
        now = now or time.time()
        since = now - window_seconds(window)
        keys: dict[str, int] = {}
        levels: dict[str, int] = {}
        compared, frontier, estimated, real = 0, 0.0, 0.0, 0.0
        for (key, level), (n, k, f, e, r) in self.aggregate(EFFICIENT, since, now).items():
            keys[key or "unknown"] = keys.get(key or "unknown", 0) + int(n)
            levels[level or "unknown"] = levels.get(level or "unknown", 0) + int(n)
            compared, frontier, estimated, real = compared + int(k), frontier + f, estimated + e, real + r
        total = sum(keys.values())

        def mix(counts: dict[str, int]) -> list[dict[str, Any]]:
            return [{"name": k, "requests": n, "share": round(n / total, 4)}
                    for k, n in sorted(counts.items(), key=lambda kn: (-kn[1], kn[0]))]

        saving = {"requests": compared, "frontier_cost_usd": round(frontier, 6),
                  "estimated_cost_usd": round(estimated, 6), "real_cost_usd": round(real, 6),
                  "saved_usd": round(frontier - real, 6),
                  "saved_share": round(1 - real / frontier, 4) if frontier > 0 else None}
        return {"window": window, "since": since, "until": now, "requests": total, "route_keys": mix(keys),
                "difficulty": mix(levels), "saving": saving}

    def warm(self, now: float | None = None) -> None:
        """Fill the cache of closed hours for the longest window (blocking; seconds over a
        million rows), so that the first page view is as fast as the next."""
        longest = max(WINDOWS, key=WINDOWS.__getitem__)
        for name in ("tiers", "latency", "efficient"):
            getattr(self, name)(longest, now)
        self.traffic(longest, now)
