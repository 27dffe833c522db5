"""The dashboard in a real headless browser (Debian's Chromium driven by Playwright) after a
scripted mix of traffic through a real gateway and the mock upstream: the admin token is
required, the empty state reads as empty, and every chart shows the numbers its JSON
endpoint gives. The screenshots are kept (paths printed; `pytest -s` shows them)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.gateway.admin import AdminTokens
from tests.gateway.conftest import start_gateway

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")]
CHAT = [{"role": "user", "content": "Fix the off-by-one error in this loop: for i in range(len(xs) + 1): print(xs[i])"}]


def _traffic(url: str, key: str, mock: Any) -> None:
    """Rule tiers, free, efficient, refusals and upstream faults (fallbacks and errors)."""
    auth = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, timeout=60) as client:
        def chat(model: str, headers: dict[str, str], **extra: Any) -> httpx.Response:
            return client.post("/v1/chat/completions", json={"model": model, "messages": CHAT, **extra},
                               headers=headers)

        for mode in ("plan", "code", "code", "ask"):
            assert chat("kilo-auto/frontier", {**auth, "x-kilocode-mode": mode}).status_code == 200
        assert client.post("/v1/messages", headers=auth, json={
            "model": "kilo-auto/balanced", "max_tokens": 64, "messages": CHAT}).status_code == 200
        assert chat("kilo-auto/balanced", auth).status_code == 200
        for i in range(3):
            assert chat("kilo-auto/free", {"x-kilocode-taskid": f"task-{i}"}).status_code == 200
        for i in range(4):
            assert chat("kilo-auto/efficient", {**auth, "x-kilocode-taskid": f"eff-{i}"}).status_code == 200
        assert chat("kilo-auto/frontier", {}).status_code == 401  # a paid tier without a key
        # The frontier model fails once (a fallback serves), then every model of its chain fails.
        mock.patch(**{"anthropic/claude-sonnet-4.6": {"fail_next": 1, "fail_next_status": 500}})
        assert chat("kilo-auto/frontier", {**auth, "x-kilocode-mode": "code"}).status_code == 200
        mock.patch(**{"*": {"fail_next": 10, "fail_next_status": 503}})
        assert chat("kilo-auto/open", {**auth, "x-kilocode-mode": "code"}).status_code >= 500
        mock.reset()


def _marks(page: Any, chart: str) -> list[tuple[str, str, float]]:
    return [(m["series"], m["label"], float(m["value"])) for m in page.eval_on_selector_all(
        f'figure[data-chart="{chart}"] .mark',
        "els => els.map(e => ({series: e.dataset.series, label: e.dataset.label, value: e.dataset.value}))")]


def _check_charts(page: Any, api: httpx.Client) -> None:
    """Every chart's marks against the JSON endpoint named in its figure."""
    tiers = api.get("/dashboard/api/tiers").json()["tiers"]
    latency = api.get("/dashboard/api/latency").json()["tiers"]
    traffic = api.get("/dashboard/api/traffic").json()["series"]
    eff = api.get("/dashboard/api/efficient").json()
    assert _marks(page, "requests") == [("requests", t["tier"], t["requests"]) for t in tiers]
    assert _marks(page, "cost") == [("cost_usd", t["tier"], t["cost_usd"]) for t in tiers]
    assert _marks(page, "models") == [(m["model"], t["tier"], m["share"]) for t in tiers for m in t["models"]]
    assert _marks(page, "rates") == [
        (name, t["tier"], t[field]) for t in tiers
        for name, field in (("error rate", "error_rate"), ("fallback rate", "fallback_rate"))]
    assert _marks(page, "latency") == [(name, t["tier"], t[field]) for t in latency
                                       for name, field in (("p50", "p50_ms"), ("p95", "p95_ms"))]
    assert _marks(page, "traffic") == [(s["tier"], s["tier"], sum(s["requests"])) for s in traffic]
    assert _marks(page, "route_keys") == [("requests", k["name"], k["requests"]) for k in eff["route_keys"]]
    assert _marks(page, "difficulty") == [("requests", k["name"], k["requests"]) for k in eff["difficulty"]]
    saving = eff["saving"]
    expected = [("cost_usd", label, saving[field]) for label, field in (
        ("frontier tier, estimated", "frontier_cost_usd"), ("chosen, estimated", "estimated_cost_usd"),
        ("chosen, billed", "real_cost_usd"))] if saving["requests"] else []
    assert _marks(page, "saving") == expected
    for t in tiers:  # the table shows the same requests per tier
        assert page.inner_text(f'table[data-table="tiers"] tr:has(td:text-is("{t["tier"]}")) td:nth-child(2)') \
            == str(t["requests"])
    entries = api.get("/dashboard/api/changelog").json()["data"]
    shown = page.eval_on_selector_all("li[data-entry]", "els => els.map(e => Number(e.dataset.entry))")
    assert shown == [e["id"] for e in entries]


def test_dashboard_in_a_browser(mock_upstream, tmp_path):
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "gateway"
    folder.mkdir()
    db = folder / "gateway.db"
    tokens = AdminTokens(db)
    token = tokens.create("browser test")
    tokens.close()
    with start_gateway(mock_upstream, folder, "--anonymous-per-hour", "100000") as gw, \
            httpx.Client(base_url=gw.url, timeout=60, headers={"authorization": f"Bearer {token}"}) as api, \
            sync_playwright() as p:
        for path in ("/dashboard", "/dashboard/api/tiers", "/dashboard/api/changelog"):
            assert httpx.get(gw.url + path).status_code == 401
            assert httpx.get(gw.url + path, headers={"authorization": "Bearer ata-wrong"}).status_code == 401
        assert api.get("/dashboard/api/tiers?window=2h").status_code == 400
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        reply = page.goto(gw.url + "/dashboard")
        assert reply is not None and reply.status == 401
        page.fill("input[name=token]", "ata-wrong")
        page.click("button[type=submit]")
        assert "not valid" in page.inner_text("body")
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.wait_for_selector("section#overview")
        # Empty: nothing served yet (the changelog has the deploy entry).
        assert page.locator("figure .mark").count() == 0
        assert page.locator("figure").count() == 0
        assert page.inner_text("section#overview .empty").startswith("No requests in the last 24h")
        assert page.inner_text("section#efficient .empty").startswith("No requests decided by the efficient tier")
        _check_charts(page, api)
        empty_shot = tmp_path / "dashboard-empty.png"
        page.screenshot(path=str(empty_shot), full_page=True)

        key = gw.create_account(50.0)
        _traffic(gw.url, key, mock_upstream)
        page.goto(gw.url + "/dashboard?window=1h")
        assert page.locator('figure[data-chart="requests"] .mark').count() >= 5
        page.goto(gw.url + "/dashboard")  # the API's default window, 24h
        _check_charts(page, api)
        tiers = {t["tier"]: t for t in api.get("/dashboard/api/tiers").json()["tiers"]}
        assert {"frontier", "balanced", "free", "efficient", "open"} <= set(tiers)
        assert tiers["frontier"]["fallbacks"] >= 1 and tiers["frontier"]["errors"] >= 1
        assert tiers["open"]["error_rate"] == 1.0
        assert api.get("/dashboard/api/efficient").json()["requests"] == 4
        assert "against the frontier tier" in page.inner_text("section#efficient")
        shot = Path(os.environ.get("AUTOTIER_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
        page.screenshot(path=str(shot), full_page=True)
        print(f"dashboard screenshots: {empty_shot} {shot}")
        page.click("text=log out")
        assert page.locator("input[name=token]").count() == 1
        browser.close()
        assert token not in gw.process.output()
