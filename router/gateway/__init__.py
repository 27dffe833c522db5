"""The HTTP gateway: an OpenAI / Anthropic / Responses-compatible server that asks
`router.core.route()` which model serves each request and calls it through LiteLLM.

Modules, one job each: `settings` (knobs), `live_state` (cooldowns, rate-limit counters,
session stickiness; `shared_state` shares them between the workers of one machine),
`workers` (one process or N on one socket), `demo` (the demo's mock and key), `accounts`
(keys, balances, usage ledger), `wire` (per-API parsing and error shapes), `upstream`
(LiteLLM calls, fallbacks, cooldowns), `streaming` (SSE in each API's format),
`catalog_view` (the /models listing), `metrics`, `reload` (config hot reload), `handlers`
(one request end to end), `app` (routes), `cli`, `dashboard` (the operator's page:
`dashboard_queries` SQL aggregates, `dashboard_charts` SVG, `admin` tokens).
Nothing here imports LiteLLM at module import: `upstream.load_litellm()` does, at start-up.
"""
