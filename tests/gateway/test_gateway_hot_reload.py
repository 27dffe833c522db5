"""Catalog and tier files reload on change or SIGHUP; a bad file keeps the old config."""

from __future__ import annotations

import os
import signal

import pytest

from tests.gateway.conftest import start_gateway
from tests.support.processes import wait_for as _wait_for

ROUTE = {"model": "kilo-auto/open", "messages": [{"role": "user", "content": "hi"}]}



@pytest.fixture
def reloading(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "0.2") as handle:
        yield handle


def _open_model(gw) -> str:
    return gw.post("/v1/route", ROUTE, headers={"x-kilocode-mode": "code"}).json()["model"]


def test_tiers_file_change_is_picked_up_and_bad_file_is_rejected(reloading):
    tiers = reloading.data_dir / "tiers.yaml"
    original = tiers.read_text()
    assert _open_model(reloading) == "minimax/minimax-m2.7"
    tiers.write_text(original.replace("model: minimax/minimax-m2.7", "model: deepseek/deepseek-v3.2", 1))
    _wait_for(lambda: _open_model(reloading) == "deepseek/deepseek-v3.2")
    tiers.write_text(original.replace("model: minimax/minimax-m2.7", "model: no/such-model", 1))
    _wait_for(lambda: reloading.post("/v1/route", ROUTE).status_code == 200
              and "no/such-model" in (reloading_ready(reloading).get("config_error") or ""))
    assert _open_model(reloading) == "deepseek/deepseek-v3.2"  # previous config still live
    tiers.write_text("tiers: [")  # not even YAML
    _wait_for(lambda: "yaml" in (reloading_ready(reloading).get("config_error") or "").lower()
              or "tiers.yaml" in (reloading_ready(reloading).get("config_error") or ""))
    assert _open_model(reloading) == "deepseek/deepseek-v3.2"


def reloading_ready(gw) -> dict:
    import httpx

    return httpx.get(gw.url + "/readyz", timeout=5).json()


def test_sighup_reloads(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--reload-poll", "3600") as gw:
        version = reloading_ready(gw)["config_version"]
        tiers = gw.data_dir / "tiers.yaml"
        tiers.write_text(tiers.read_text().replace("model: minimax/minimax-m2.7", "model: moonshotai/kimi-k2.5", 1))
        os.kill(gw.process.process.pid, signal.SIGHUP)
        _wait_for(lambda: reloading_ready(gw)["config_version"] > version)
        assert _open_model(gw) == "moonshotai/kimi-k2.5"


def test_accuracy_table_change_is_picked_up(reloading):
    """Editing the efficient tier's accuracy table re-routes without a restart."""
    import json

    body = {"model": "kilo-auto/efficient", "messages": [{"role": "user", "content": "fix the failing test"}]}
    before = reloading.post("/v1/route", body).json()["model"]
    table_file = reloading.data_dir / "accuracy" / "production.json"
    table = json.loads(table_file.read_text())
    cheapest = "deepseek/deepseek-v3.2" if before != "deepseek/deepseek-v3.2" else "minimax/minimax-m2.7"
    for name, entry in table["models"].items():  # make one cheap model the only strong one
        strong = name == cheapest
        entry["overall"]["lower"] = 0.99 if strong else 0.1
        for cell in entry["cells"].values():
            cell["lower"] = 0.99 if strong else 0.1
    table_file.write_text(json.dumps(table))
    _wait_for(lambda: reloading.post("/v1/route", body).json()["model"] == cheapest)
