"""`autotier catalog sync`: copy prices and windows from LiteLLM's bundled cost map into
`catalog.yaml`, with their source, so that nothing else has to import LiteLLM for them.

Free models (`free: true`) keep a zero price; the map only gives their windows. A model
whose `cost_map_key` is null keeps null figures and its `note` says why.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from router.catalog import CatalogFile
from router.datafile import read_yaml, validate

HEADER = """\
# autotier model catalog: every real model a tier can route to.
# Hand-kept fields: id, name, litellm_model, provider, family, open_weight, free,
#   capabilities, api_kinds, data_policy, cost_map_key, note.
# Written by `autotier catalog sync` from LiteLLM's bundled cost map (see each `source`):
#   pricing ($ per million tokens), context_window, max_output.
# null means neither the cost map nor a public page we could cite gives the figure; the
# model's `note` says so. Never fill a null with a guess, except a paid model's price: it
# must be billed, so the operator sets one with `pricing.source` saying where it comes from
# (sync keeps hand-set prices of models without a `cost_map_key`).
"""


def _per_million(value: Any) -> float | None:
    return None if value is None else round(float(value) * 1e6, 6)


def sync_entry(entry: dict[str, Any], cost_map: dict[str, Any], litellm_version: str) -> list[str]:
    """Update one catalog entry in place; returns human-readable change lines."""
    key = entry.get("cost_map_key")
    if not key:
        return []
    figures = cost_map.get(key)
    if figures is None:
        return [f"{entry['id']}: cost-map key {key!r} not found in LiteLLM {litellm_version}"]
    pricing: dict[str, float | None]
    if entry.get("free"):
        pricing = {"input": 0.0, "output": 0.0, "cache_read": 0.0}
    else:
        pricing = {
            "input": _per_million(figures.get("input_cost_per_token")),
            "output": _per_million(figures.get("output_cost_per_token")),
            "cache_read": _per_million(figures.get("cache_read_input_token_cost")),
        }
    new = {
        "pricing": pricing,
        "context_window": figures.get("max_input_tokens"),
        "max_output": figures.get("max_output_tokens"),
        "source": {"cost_map_key": key, "litellm_version": litellm_version},
    }
    changes = [f"{entry['id']}: {k} {entry.get(k)!r} -> {v!r}" for k, v in new.items() if entry.get(k) != v]
    entry.update(new)
    return changes


def sync_catalog(path: Path, cost_map: dict[str, Any] | None = None, litellm_version: str | None = None) -> list[str]:
    """Sync `path` in place from `cost_map` (default: LiteLLM's bundled map, loaded offline).
    Validates the result before writing; returns the change lines."""
    if cost_map is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm  # slow (~3 s): only this command pays for it

        cost_map = litellm.model_cost
        litellm_version = version("litellm")
    data = read_yaml(path)
    changes: list[str] = []
    for entry in data["models"]:
        changes += sync_entry(entry, cost_map, litellm_version or "unknown")
    validate(CatalogFile, data, path.name)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(HEADER + body, encoding="utf-8")
    return changes
