"""The tier-mapping changelog of a running gateway: every change of the effective tier
mapping (a new deploy, a file edit picked up by hot reload, SIGHUP) becomes one ledger
entry with its time, version and readable diff (router.tier_changes), served at
`GET /v1/tiers/changelog`.

Entries are kept in the ledger database, so every process sharing it (workers, several
machines on PostgreSQL) writes one changelog: a process records its mapping when it starts
and after each reload, and the ledger skips the entry when the latest one already has that
version. The diff is against the latest recorded mapping, whichever process recorded it."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

from router.gateway.accounts import Ledger
from router.gateway.reload import ConfigHolder
from router.tier_changes import Snapshot, describe_changes

log = logging.getLogger("autotier.gateway")
MAX_ENTRIES = 1000


class TierChangelog:
    """Records the holder's mapping in the ledger; `watch_reloads()` hooks it to the
    holder's reloads (recorded in order on a worker thread, the event loop never waits)."""

    def __init__(self, ledger: Ledger, holder: ConfigHolder):
        self.ledger = ledger
        self.holder = holder
        self._order = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, source: str, version: str | None = None, mapping: Snapshot | None = None) -> int | None:
        """Append an entry for `mapping` (default: the holder's current one) unless it is
        already the latest; returns the entry's id or None. Blocking (database I/O)."""
        if mapping is None or version is None:
            mapping, version = self.holder.mapping, self.holder.mapping_version

        def describe(previous: str | None) -> list[str]:
            return describe_changes(json.loads(previous) if previous else None, mapping)

        entry = self.ledger.append_tier_change(version, json.dumps(mapping, sort_keys=True), source, describe)
        if entry is not None:
            log.info("tier mapping %s recorded (%s), changelog entry %d", version, source, entry)
        return entry

    async def record_async(self, source: str, version: str | None = None, mapping: Snapshot | None = None) -> None:
        """`record` on a worker thread, after any earlier one; a database failure is logged."""
        async with self._order:
            try:
                await asyncio.to_thread(self.record, source, version, mapping)
            except Exception:  # noqa: BLE001 - serving goes on; the next change records the diff
                log.exception("could not record the tier-mapping change (%s)", source)

    def watch_reloads(self) -> None:
        """Record every successful reload of the holder (call inside the event loop)."""
        loop = asyncio.get_running_loop()

        def on_reload(source: str) -> None:
            # The snapshot is taken now: a later reload must not change what this one recorded.
            task = loop.create_task(self.record_async(source, self.holder.mapping_version, self.holder.mapping))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        self.holder.listeners.append(on_reload)


def changelog_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A ledger row as the endpoint shows it: the time also as ISO 8601 UTC."""
    when = datetime.fromtimestamp(float(row["time"]), tz=UTC).isoformat(timespec="seconds")
    return {**row, "date": when.replace("+00:00", "Z")}


def add_changelog_routes(app: FastAPI, changelog: TierChangelog, prefixes: tuple[str, ...]) -> None:
    """`GET {prefix}/tiers/changelog?limit=N` (newest first, default 50, at most 1000)."""

    async def endpoint(limit: int = 50) -> JSONResponse:
        """Changes of the tier mapping, newest first, with the version serving now."""
        rows = await asyncio.to_thread(changelog.ledger.tier_changes, max(1, min(limit, MAX_ENTRIES)))
        return JSONResponse({"object": "list", "mapping_version": changelog.holder.mapping_version,
                             "data": [changelog_entry(r) for r in rows]})

    for prefix in prefixes:
        app.add_api_route(f"{prefix}/tiers/changelog", endpoint, methods=["GET"],
                          name=f"tier_changelog{prefix.replace('/', '_')}", tags=["models"])
