"""The operator's dashboard at `/dashboard`: per tier and time window, requests, the share
of each resolved model, latency p50/p95, error and fallback rates, cost, requests over
time, the efficient tier's classification mix and saving against the frontier tier, and
the tier-mapping changelog. Admin only (router.gateway.admin).

The page is one thin template (dashboard.html) with charts drawn as inline SVG on the
server (dashboard_charts); each chart's numbers come from a JSON endpoint under
`/dashboard/api/` that answers the same numbers, aggregated in SQL (dashboard_queries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from router.gateway import dashboard_charts as charts
from router.gateway.admin import AdminTokens, operator_token
from router.gateway.changelog import changelog_entry
from router.gateway.dashboard_queries import DEFAULT_WINDOW, WINDOWS, DashboardStore
from router.gateway.handlers import Gateway

log = logging.getLogger("autotier.gateway")
COOKIE = "autotier_admin"
TEMPLATE = Template((Path(__file__).with_name("dashboard.html")).read_text(encoding="utf-8"))
NO_STORE = {"cache-control": "no-store"}
CHANGELOG_ENTRIES = 20
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>autotier dashboard</title>
<style>body{{font:14px system-ui,sans-serif;max-width:560px;margin:60px auto}}input{{width:100%;padding:6px}}
.error{{color:#b91c1c}}</style></head><body><h1>autotier dashboard</h1>
<p>An admin token is required. Make one with <code>autotier admin token</code> (same <code>--db</code> or
<code>--database-url</code> as the gateway), or set <code>AUTOTIER_ADMIN_TOKEN</code> for the gateway.</p>
{error}<form method="post" action="/dashboard/login"><label>Admin token
<input type="password" name="token" autocomplete="off" autofocus></label>
<p><button type="submit">Open the dashboard</button></p></form></body></html>"""


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 100 else f"${value:,.2f}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _figure(name: str, source: str, title: str, body: str) -> str:
    return (f'<figure data-chart="{name}" data-source="{escape(source)}">'
            f'<figcaption>{escape(title)} &middot; <a href="{escape(source)}">JSON</a></figcaption>{body}</figure>')


def render_page(data: dict[str, Any], window: str, mapping_version: str) -> str:
    """The whole page from the endpoints' answers (`data`: tiers, latency, traffic,
    efficient, changelog or None)."""
    q = f"?window={window}"
    tiers, latency, traffic, eff = data["tiers"]["tiers"], data["latency"]["tiers"], data["traffic"], data["efficient"]
    p = {t["tier"]: t for t in latency}
    names = [t["tier"] for t in tiers]
    rows = "".join(
        f"<tr><td>{escape(t['tier'])}</td><td>{t['requests']}</td><td>{_pct(t['error_rate'])}</td>"
        f"<td>{_pct(t['fallback_rate'])}</td><td>{_usd(t['cost_usd'])}</td>"
        f"<td>{_ms(p[t['tier']]['p50_ms']) if t['tier'] in p else '-'}</td>"
        f"<td>{_ms(p[t['tier']]['p95_ms']) if t['tier'] in p else '-'}</td></tr>" for t in tiers)
    table = ("<table data-table=\"tiers\"><tr><th>tier</th><th>requests</th><th>errors</th><th>fallbacks</th>"
             f"<th>cost</th><th>p50</th><th>p95</th></tr>{rows}</table>") if tiers else charts.empty()
    api = "/dashboard/api/"
    step = traffic["step_s"]
    fmt = "%H:%M" if window != "7d" else "%a %H:%M"

    def tick(k: int) -> str:
        return datetime.fromtimestamp(traffic["start"] + k * step, tz=UTC).strftime(fmt)

    overview = [
        _figure("requests", api + "tiers" + q, "requests per tier", charts.bars(
            [(t["tier"], t["requests"]) for t in tiers], series="requests")),
        _figure("models", api + "tiers" + q, "share of each resolved model (answered requests)", charts.shares(
            [(t["tier"], [(m["model"], m["share"]) for m in t["models"]]) for t in tiers if t["models"]])),
        _figure("latency", api + "latency" + q, "latency of answered requests, ms", charts.grouped_bars(
            [t["tier"] for t in latency], [("p50", [t["p50_ms"] for t in latency]),
                                           ("p95", [t["p95_ms"] for t in latency])], _ms)),
        _figure("rates", api + "tiers" + q, "error rate (status >= 400) and fallback rate", charts.grouped_bars(
            names, [("error rate", [t["error_rate"] for t in tiers]),
                    ("fallback rate", [t["fallback_rate"] for t in tiers])], _pct)),
        _figure("cost", api + "tiers" + q, "cost billed, USD", charts.bars(
            [(t["tier"], t["cost_usd"]) for t in tiers], _usd, series="cost_usd")),
        _figure("traffic", api + "traffic" + q, f"requests per {step // 60} minutes (UTC)", charts.lines(
            [(s["tier"], s["requests"]) for s in traffic["series"]], tick)),
    ]
    saving = eff["saving"]
    share = f" ({saving['saved_share']:.1%})" if saving["saved_share"] is not None else ""
    saved = (f"<p data-saving>saved <b>{_usd(saving['saved_usd'])}</b>{share} against the frontier tier over "
             f"{saving['requests']} answered requests</p>") if saving["requests"] else ""
    efficient = [
        _figure("route_keys", api + "efficient" + q, "route keys (classifier)", charts.bars(
            [(k["name"], k["requests"]) for k in eff["route_keys"]], series="requests")),
        _figure("difficulty", api + "efficient" + q, "difficulty (classifier)", charts.bars(
            [(k["name"], k["requests"]) for k in eff["difficulty"]], series="requests")),
        saved + _figure("saving", api + "efficient" + q, "frontier tier (estimated) vs chosen models", charts.bars(
            [("frontier tier, estimated", saving["frontier_cost_usd"]),
             ("chosen, estimated", saving["estimated_cost_usd"]),
             ("chosen, billed", saving["real_cost_usd"])] if saving["requests"] else [], _usd, series="cost_usd")),
    ]
    if not tiers:
        overview = [charts.empty(f"No requests in the last {window}: the charts appear once the gateway has "
                                 "served traffic in this window.")]
    if not eff["requests"]:
        efficient = [charts.empty(f"No requests decided by the efficient tier in the last {window}.")]
    sections = [f'<section id="overview"><h2>Tiers</h2>{table if tiers else ""}'
                f'<div class="grid">{"".join(overview)}</div></section>',
                f'<section id="efficient"><h2>kilo-auto/efficient</h2>{"".join(efficient)}</section>']
    if data.get("changelog") is not None:
        entries = "".join(
            f"<li data-entry=\"{e['id']}\"><b>{escape(e['date'])}</b> {escape(e['version'])} ({escape(e['source'])})"
            f"<ul class=\"changes\">{''.join(f'<li>{escape(c)}</li>' for c in e['changes'])}</ul></li>"
            for e in data["changelog"]["data"]) or "<li class=\"empty\">no changes recorded</li>"
        sections.append(f'<section id="changelog"><h2>Tier-mapping changelog</h2>'
                        f'<ul data-chart="changelog" data-source="{api}changelog">{entries}</ul></section>')
    nav = "".join(f'<a href="/dashboard?window={w}"{" class=current" if w == window else ""}>{w}</a>' for w in WINDOWS)
    until = datetime.fromtimestamp(data["tiers"]["until"], tz=UTC).strftime("%Y-%m-%d %H:%M")
    return TEMPLATE.substitute(windows=nav, window=escape(window), until=until,
                               mapping_version=escape(mapping_version), sections="".join(sections))


class Dashboard:
    """The dashboard's state in one gateway process: its read connection and the admin tokens."""

    def __init__(self, gateway: Gateway, location: Path | str):
        self.gateway = gateway
        self.store = DashboardStore(location)
        self.tokens = AdminTokens(location, operator_token())

    def admitted(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(COOKIE)
        return self.tokens.valid(token)

    def changelog(self) -> dict[str, Any] | None:
        read = getattr(self.gateway.ledger, "tier_changes", None)  # absent in ledgers without a changelog
        return None if read is None else {"data": [changelog_entry(r) for r in read(CHANGELOG_ENTRIES)]}

    def everything(self, window: str) -> dict[str, Any]:
        return {"tiers": self.store.tiers(window), "latency": self.store.latency(window),
                "traffic": self.store.traffic(window), "efficient": self.store.efficient(window),
                "changelog": self.changelog()}

    def warm(self) -> None:
        """Pre-compute the closed hours, if anyone can open the dashboard (else the first
        view after a token is made computes them)."""
        try:
            if self.tokens.any():
                self.store.warm()
        except Exception:  # noqa: BLE001 - the first page view computes what is missing
            if not self.store.closed:  # else the gateway stopped meanwhile
                log.exception("could not pre-compute the dashboard's aggregates")


def _unauthorized(request: Request, message: str = "") -> Response:
    if request.url.path.startswith("/dashboard/api/"):
        return JSONResponse({"error": {"code": "admin_token_required", "message":
                            "send an admin token: Authorization: Bearer TOKEN (autotier admin token)"}},
                            status_code=401, headers={**NO_STORE, "www-authenticate": "Bearer"})
    error = f'<p class="error">{escape(message)}</p>' if message else ""
    return HTMLResponse(LOGIN_PAGE.format(error=error), status_code=401, headers=NO_STORE)


def add_dashboard_routes(app: FastAPI, gateway: Gateway) -> None:
    """`/dashboard`, its login and logout, and `/dashboard/api/{tiers,latency,traffic,
    efficient,changelog}?window=1h|24h|7d`; when an admin token exists, the aggregates of
    closed hours are pre-computed on a thread at start-up."""
    settings = gateway.settings
    board = Dashboard(gateway, settings.database_url or settings.db_path)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            threading.Thread(target=board.warm, name="autotier-dashboard-warm", daemon=True).start()
            try:
                yield state
            finally:
                board.store.close()
                board.tokens.close()

    app.router.lifespan_context = lifespan

    async def guarded(request: Request, window: str, answer: Any) -> Response:
        if not await asyncio.to_thread(board.admitted, request):
            return _unauthorized(request)
        if window not in WINDOWS:
            return JSONResponse({"error": {"code": "invalid_value", "message":
                                f"window must be one of {', '.join(WINDOWS)}"}}, status_code=400, headers=NO_STORE)
        return await answer()

    @app.get("/dashboard", tags=["dashboard"], response_class=HTMLResponse)
    async def page(request: Request, window: str = DEFAULT_WINDOW) -> Response:
        """The dashboard page (admin token in a cookie, set by the login form, or a Bearer header)."""
        async def answer() -> Response:
            data = await asyncio.to_thread(board.everything, window)
            return HTMLResponse(render_page(data, window, gateway.config.mapping_version), headers=NO_STORE)

        return await guarded(request, window, answer)

    @app.post("/dashboard/login", tags=["dashboard"], include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        if not await asyncio.to_thread(board.tokens.valid, token):
            return _unauthorized(request, "That token is not valid.")
        reply = RedirectResponse("/dashboard", status_code=303, headers=NO_STORE)
        reply.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/dashboard",
                         secure=request.url.scheme == "https")
        return reply

    @app.post("/dashboard/logout", tags=["dashboard"], include_in_schema=False)
    async def logout() -> Response:
        reply = RedirectResponse("/dashboard", status_code=303, headers=NO_STORE)
        reply.delete_cookie(COOKIE, path="/dashboard")
        return reply

    def api(name: str) -> Any:
        async def endpoint(request: Request, window: str = DEFAULT_WINDOW) -> Response:
            async def answer() -> Response:
                if name == "changelog":
                    return JSONResponse(await asyncio.to_thread(board.changelog) or {"data": []}, headers=NO_STORE)
                return JSONResponse(await asyncio.to_thread(getattr(board.store, name), window), headers=NO_STORE)

            return await guarded(request, window, answer)

        endpoint.__doc__ = f"The numbers behind the dashboard's {name} chart(s), for `window` (1h, 24h, 7d)."
        return endpoint

    for name in ("tiers", "latency", "traffic", "efficient", "changelog"):
        app.add_api_route(f"/dashboard/api/{name}", api(name), methods=["GET"], tags=["dashboard"],
                          name=f"dashboard_{name}")
