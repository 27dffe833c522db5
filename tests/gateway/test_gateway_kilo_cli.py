"""End to end with the real Kilo CLI (7.7.9 binary via the 7.8.1 wrapper) against a
gateway process: the usage ledger shows which model each agent's requests went to."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gateway.conftest import start_gateway

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
KILO_DIR = REPO / ".cache" / "kilo"
KILO_BIN = KILO_DIR / "node_modules" / ".bin" / "kilo"
PACKAGES = ["@kilocode/cli@7.8.1", "@kilocode/cli-linux-x64@7.7.9"]


@pytest.fixture(scope="module")
def kilo() -> Path:
    if not KILO_BIN.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the Kilo CLI")
        KILO_DIR.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", *PACKAGES],
                                  cwd=KILO_DIR, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install of the Kilo CLI timed out (no registry access?)")
        if done.returncode != 0 or not KILO_BIN.exists():
            pytest.skip(f"npm could not install the Kilo CLI: {done.stderr.strip()[-300:]}")
    return KILO_BIN


@pytest.fixture(scope="module")
def kilo_gateway(mock_upstream_process, tmp_path_factory):
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("kilo")) as handle:
        yield handle


def _run(kilo: Path, gateway, tmp_path: Path, model: str, agent: str, key: str | None) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_STATE_HOME": str(home / ".local/state"), "KILO_API_URL": gateway.url,
           "KILO_TELEMETRY_LEVEL": "off", "KILO_DISABLE_AUTOUPDATE": "1"}
    env.pop("KILO_API_KEY", None)
    if key:
        env["KILO_API_KEY"] = key
    done = subprocess.run([str(kilo), "run", "-m", model, "--agent", agent, "say hi"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[mock " in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("model, agent, keyed, expected_tier, expected_model", [
    ("kilo/kilo-auto/frontier", "plan", True, "frontier", "anthropic/claude-opus-4.7"),
    ("kilo/kilo-auto/frontier", "code", True, "frontier", "anthropic/claude-sonnet-4.6"),
    ("kilo/kilo-auto/frontier", "debug", True, "frontier", "anthropic/claude-opus-4.7"),
    ("kilo/kilo-auto/balanced", "ask", True, "balanced", "qwen/qwen3.6-plus"),
    ("kilo/kilo-auto/free", "code", False, "free", None),
])
def test_kilo_agents_reach_the_right_models(kilo, kilo_gateway, tmp_path, model, agent, keyed,
                                            expected_tier, expected_model):
    key = kilo_gateway.create_account(10.0) if keyed else None
    before = len(kilo_gateway.ledger_rows())
    _run(kilo, kilo_gateway, tmp_path, model, agent, key)
    rows = kilo_gateway.ledger_rows()[before:]
    assert rows, "the Kilo CLI sent no request to the gateway"
    assert all(r["status"] == 200 and r["tier"] == expected_tier for r in rows), rows
    assert all(r["mode"] == agent for r in rows), rows
    if expected_model:
        assert {r["resolved_model"] for r in rows} == {expected_model}
    else:
        assert all(r["resolved_model"].endswith(":free") or r["resolved_model"] == "openrouter/free" for r in rows)
