"""Offline benchmarks of the router (`autotier bench ...`).

`routing`: the factored router (label probabilities -> accuracy table -> `router.efficient.select`)
against a direct per-model success predictor and baselines on public outcome sets.
Modules: `sets` (loaders), `routers` (fitting and scoring), `evaluate` (protocols, curves,
baselines), `metrics` (APGR, CPT, AIQ, cost at quality, regret), `report` / `report_text`
(JSON, plots, REPORT.md), `published` (RouteLLM's published figures), `cli`.
"""
