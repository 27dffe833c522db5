"""The tier-mapping changelog: a real gateway records its mapping when it starts (a
deploy), after a file edit and after SIGHUP, serves the entries at `/v1/tiers/changelog`,
and says on `/v1/models` which mapping answered. The ledger records a change once when
several processes check at the same moment."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from router.gateway.accounts import Ledger
from tests.gateway.conftest import GatewayHandle, start_gateway
from tests.support.processes import wait_for as _wait_for

FRONTIER_PLAN = "frontier / plan, general, architect, orchestrator, ask, debug, claw"



def _changelog(gw: GatewayHandle, prefix: str = "/v1") -> dict:
    reply = httpx.get(f"{gw.url}{prefix}/tiers/changelog", timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _edit(tiers: Path, old: str, new: str) -> None:
    text = tiers.read_text()
    assert old in text
    tiers.write_text(text.replace(old, new, 1))


def test_editing_tiers_yaml_under_a_running_gateway_adds_a_changelog_entry(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "0.2") as gw:
        first = _changelog(gw)
        [deploy] = first["data"]
        assert deploy["source"] == "deploy" and deploy["previous_version"] is None
        assert deploy["changes"][0] == "first recorded mapping"
        assert deploy["version"] == first["mapping_version"]
        models = httpx.get(gw.url + "/v1/models", timeout=10)
        assert models.json()["mapping_version"] == models.headers["x-autotier-mapping-version"] == deploy["version"]

        _edit(gw.data_dir / "tiers.yaml", "model: anthropic/claude-opus-4.7", "model: openai/gpt-5.5")
        _wait_for(lambda: len(_changelog(gw)["data"]) == 2)
        now = _changelog(gw)
        edit = now["data"][0]  # newest first
        assert edit["source"] == "file change"
        assert edit["previous_version"] == deploy["version"] != edit["version"] == now["mapping_version"]
        assert edit["changes"] == [f"{FRONTIER_PLAN}: anthropic/claude-opus-4.7 -> openai/gpt-5.5"]
        assert edit["date"].endswith("Z") and edit["time"] >= deploy["time"]
        assert httpx.get(gw.url + "/api/openrouter/models", timeout=10).json()["mapping_version"] == edit["version"]
        assert _changelog(gw, "/api/gateway")["data"] == now["data"]

        # A reload that leaves the mapping as it is (a comment) adds nothing.
        version = httpx.get(gw.url + "/readyz", timeout=5).json()["config_version"]
        (gw.data_dir / "tiers.yaml").write_text((gw.data_dir / "tiers.yaml").read_text() + "\n# reviewed\n")
        _wait_for(lambda: httpx.get(gw.url + "/readyz", timeout=5).json()["config_version"] > version)
        time.sleep(0.5)
        assert len(_changelog(gw)["data"]) == 2


def test_deploys_and_sighup_are_recorded_once_each(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "3600") as gw:
        [first] = _changelog(gw)["data"]
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "3600") as gw:
        assert _changelog(gw)["data"] == [first]  # same files, same database: no change

    # A deploy of other files: the new gateway records the diff against the last entry.
    _edit(tmp_path / "data" / "tiers.yaml", "{model: stepfun/step-3.7-flash:free, weight: 3}",
          "{model: stepfun/step-3.7-flash:free, weight: 1}")
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "3600") as gw:
        deploy = _changelog(gw)["data"][0]
        assert deploy["source"] == "deploy" and deploy["previous_version"] == first["version"]
        assert deploy["changes"] == ["free / stepfun/step-3.7-flash:free weight: 3 -> 1"]

        _edit(gw.data_dir / "tiers.yaml", "aliases:\n  kilo/auto: frontier", "aliases:\n  kilo/auto: balanced")
        os.kill(gw.process.process.pid, signal.SIGHUP)
        _wait_for(lambda: len(_changelog(gw)["data"]) == 3)
        hup = _changelog(gw)["data"][0]
        assert hup["source"] == "SIGHUP" and hup["previous_version"] == deploy["version"]
        assert hup["changes"] == ["alias kilo/auto: frontier -> balanced"]


def _race(location: Path | str, contenders: int = 6) -> list[int | None]:
    """`contenders` ledgers (own connections) record one new version at the same moment."""
    version, start = uuid.uuid4().hex[:12], threading.Barrier(contenders)
    ledgers = [Ledger(location) for _ in range(contenders)]
    results: list[int | None] = []

    def contend(ledger: Ledger) -> None:
        start.wait()
        results.append(ledger.append_tier_change(version, json.dumps({"tiers": {}}), "deploy", lambda _: ["x"]))

    threads = [threading.Thread(target=contend, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ledger in ledgers:
        ledger.close()
    return results


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_change_seen_by_processes_at_once_is_recorded_once(store, tmp_path, request):
    location = (tmp_path / "ledger.db" if store == "sqlite"
                else request.getfixturevalue("pg").create_database("tier_changes_race"))
    for _ in range(3):
        results = _race(location)
        assert sum(r is not None for r in results) == 1
    ledger = Ledger(location)
    try:
        entries = ledger.tier_changes(limit=10)
    finally:
        ledger.close()
    assert len(entries) == 3 and len({e["version"] for e in entries}) == 3
    assert entries[0]["previous_version"] == entries[1]["version"]  # newest first
    assert entries[-1]["previous_version"] is None and entries[0]["changes"] == ["x"]
