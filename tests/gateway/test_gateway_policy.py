"""Policies through a real gateway process: set by `autotier accounts policy`, applied to
the key's requests, shown by `/v1/models` for that key, reloaded with the data files."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from router.config import load_config
from tests.gateway.conftest import start_gateway
from tests.support.processes import wait_for as _wait_for

CHAT = {"messages": [{"role": "user", "content": "hello"}]}
CATALOG = load_config().catalog


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}



@pytest.fixture(scope="module")
def gw(mock_upstream_process, tmp_path_factory):
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("policy"), "--reload-poll", "0.2") as handle:
        yield handle


def _policy_cli(gw, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router.cli", "accounts", "--db", str(gw.db), "policy", *args,
                           "--data-dir", str(gw.data_dir)], capture_output=True, text=True, timeout=60)


def _key_with_policy(gw, *names: str) -> tuple[str, int]:
    key = gw.create_account(50.0)
    account_id = max(r["id"] for r in json.loads(subprocess.run(
        [sys.executable, "-m", "router.cli", "accounts", "--db", str(gw.db), "list", "--json"],
        capture_output=True, text=True, check=True).stdout))
    done = _policy_cli(gw, str(account_id), *names)
    assert done.returncode == 0, done.stderr
    return key, account_id


def test_cli_sets_shows_refuses_unknown_names_and_clears(gw):
    key, account_id = _key_with_policy(gw, "open-weight-only", "agents-split")
    shown = json.loads(_policy_cli(gw, str(account_id), "--json").stdout)
    assert shown["names"] == ["open-weight-only", "agents-split"]
    assert shown["modes"] == {"explore": "free", "code": "frontier"}
    assert all(CATALOG[m].open_weight for m in shown["allowed_models"])
    typo = _policy_cli(gw, str(account_id), "open-weigth-only")
    assert typo.returncode == 2 and "no policy or organisation 'open-weigth-only'" in typo.stderr
    assert json.loads(_policy_cli(gw, str(account_id), "--json").stdout)["names"] == shown["names"]  # unchanged
    assert _policy_cli(gw, "99999", "budget").returncode == 1
    cleared = _policy_cli(gw, str(account_id), "--clear")
    assert cleared.returncode == 0 and "no policy" in cleared.stdout
    r = gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"}, headers=_bearer(key))
    assert r.status_code == 200 and r.json()["model"] == "anthropic/claude-sonnet-4.6"


def test_open_weight_key_is_served_open_models_and_refused_closed_tiers(gw):
    key, _ = _key_with_policy(gw, "open-weight-only")
    for tier in ("open", "free", "small", "efficient"):
        r = gw.post("/v1/chat/completions", {**CHAT, "model": f"kilo-auto/{tier}"},
                    headers={**_bearer(key), "x-kilocode-mode": "code"})
        assert r.status_code == 200, r.text
        assert CATALOG[r.json()["model"]].open_weight
        assert "policy 'open-weight-only'" in r.headers["x-autotier-reason"]
    refused = gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"}, headers=_bearer(key))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "policy_denied" and "policy 'open-weight-only' leaves no frontier model" in error["message"]
    direct = gw.post("/v1/messages", {**CHAT, "model": "anthropic/claude-opus-4.7", "max_tokens": 8},
                     headers=_bearer(key))
    assert direct.status_code == 403 and direct.json()["error"]["type"] == "permission_error"  # Anthropic's shape
    assert "policy 'open-weight-only' does not allow anthropic/claude-opus-4.7" in direct.json()["error"]["message"]


def test_models_listing_shows_only_what_the_key_may_use(gw):
    key, _ = _key_with_policy(gw, "open-weight-only")
    everything = httpx.get(gw.openai_base + "/models", timeout=10).json()
    mine = httpx.get(gw.openai_base + "/models", headers=_bearer(key), timeout=10).json()
    assert mine["policy"] == "open-weight-only" and "policy" not in everything
    ids = {m["id"] for m in mine["data"]}
    assert "kilo-auto/frontier" not in ids and "kilo-auto/open" in ids and "anthropic/claude-opus-4.7" not in ids
    listed_models = [m for m in mine["data"] if m["id"] in CATALOG]
    assert listed_models and all(CATALOG[m["id"]].open_weight for m in listed_models)
    for tier in (m for m in mine["data"] if "autoRouting" in m):
        assert all(CATALOG[x].open_weight for x in tier["autoRouting"]["models"])
    assert len(everything["data"]) > len(mine["data"])


def test_agent_override_through_the_gateway(gw):
    key, _ = _key_with_policy(gw, "agents-split")
    explore = gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                      headers={**_bearer(key), "x-kilocode-mode": "explore"})
    assert explore.status_code == 200 and explore.headers["x-autotier-tier"] == "free"
    assert CATALOG[explore.json()["model"]].free
    code = gw.post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/balanced"},
                   headers={**_bearer(key), "x-kilocode-mode": "code"})
    assert code.status_code == 200 and code.headers["x-autotier-tier"] == "frontier"
    assert code.json()["model"] == "anthropic/claude-sonnet-4.6"


def test_policies_file_edits_are_hot_reloaded(gw):
    policies = gw.data_dir / "policies.yaml"
    original = policies.read_text()
    key, account_id = _key_with_policy(gw, "budget")

    def frontier_plan() -> str:
        r = gw.post("/v1/route", {**CHAT, "model": "kilo-auto/frontier"},
                    headers={**_bearer(key), "x-kilocode-mode": "plan"})
        return r.json().get("model") or r.json()["error"]["code"]

    assert frontier_plan() == "anthropic/claude-sonnet-4.6"  # opus is over the cap
    try:
        policies.write_text(original.replace("max_price: {input: 3.0, output: 15.0}",
                                             "max_price: {input: 5.0, output: 25.0}"))
        _wait_for(lambda: frontier_plan() == "anthropic/claude-opus-4.7")
        policies.write_text(original.replace("max_price: {input: 3.0, output: 15.0}", "max_price: {input: -1}"))
        _wait_for(lambda: "policies.yaml" in (httpx.get(gw.url + "/readyz", timeout=5).json()["config_error"] or ""))
        assert frontier_plan() == "anthropic/claude-opus-4.7"  # a bad file keeps the previous policies
        policies.write_text(original.replace("  budget:", "  budget-renamed:").replace("[no-free, budget]",
                                                                                     "[no-free, budget-renamed]"))
        _wait_for(lambda: frontier_plan() == "unknown_policy")  # the key's name is gone: refused, not open
    finally:
        policies.write_text(original)
    _wait_for(lambda: frontier_plan() == "anthropic/claude-sonnet-4.6")
    assert account_id
