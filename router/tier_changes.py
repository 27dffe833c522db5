"""What changed between two tier mappings, in lines a person reads: "frontier / plan:
anthropic/claude-opus-4.6 -> anthropic/claude-opus-4.7".

A mapping is compared as a snapshot, the tiers file as plain JSON data
(`mapping_snapshot`), so that a snapshot stored by an older release (the gateway keeps the
last one in its ledger) still compares with today's config. Rule tiers are compared by
what each key (mode, API, account) resolves to, not by route names: renaming a route
changes nothing a client sees, moving `explore` to another route does. Pure: no I/O; the
gateway records and serves the lines (`router.gateway.changelog`), `autotier tiers diff`
prints them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from router.config import RouterConfig
from router.tiers import TiersFile

Snapshot = dict[str, Any]

# Tier fields compared by a strategy's own rules below; every other field is compared as
# a setting ("efficient / selection: cost_per_accuracy -> best_accuracy").
_COMPARED = {
    "rules": {"strategy", "by", "routes", "keys", "default_route", "params"},
    "sticky": {"strategy", "candidates", "last_resort"},
    "efficient": {"strategy", "candidates", "quality_bar"},
}
_TOP_COMPARED = {"tiers", "aliases", "defaults", "spellings"}
_OTHER = {"mode": "(any other mode)", "api": "(any other API)", "balance": "(any other account)"}


def mapping_snapshot(tiers: TiersFile) -> Snapshot:
    """The tiers file as JSON data: what is stored, hashed and compared."""
    return tiers.model_dump(mode="json")


def mapping_version(snapshot: Snapshot) -> str:
    """A short content hash of a snapshot (12 hex digits): the same mapping has the same
    version on every process and across restarts; comments and layout do not count."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def config_changes(old: RouterConfig, new: RouterConfig) -> list[str]:
    """The readable diff between the tier mappings of two loaded configs."""
    return describe_changes(mapping_snapshot(old.tiers), mapping_snapshot(new.tiers))


def describe_changes(old: Snapshot | None, new: Snapshot) -> list[str]:
    """One line per change from `old` to `new` (None: nothing recorded before, every
    tier is described as new). Empty when the mappings route alike."""
    if old is None:
        return ["first recorded mapping", *(_new_tier(name, tier) for name, tier in new.get("tiers", {}).items())]
    lines: list[str] = []
    old_tiers, new_tiers = old.get("tiers", {}), new.get("tiers", {})
    for name, tier in new_tiers.items():
        before = old_tiers.get(name)
        if before is None:
            lines.append(_new_tier(name, tier))
        elif before.get("strategy") != tier.get("strategy"):
            lines.append(f"tier {name}: strategy {before.get('strategy')} -> {tier.get('strategy')}; "
                         f"now {_summary(tier)}")
        else:
            lines += _tier_changes(name, before, tier)
    lines += [f"tier {name} removed (was {_summary(tier)})" for name, tier in old_tiers.items()
              if name not in new_tiers]
    lines += _dict_changes("alias", old.get("aliases", {}), new.get("aliases", {}))
    lines += _setting_changes("defaults", old.get("defaults", {}), new.get("defaults", {}), set())
    if old.get("spellings") != new.get("spellings"):
        lines.append(f"spellings: {_text(old.get('spellings'))} -> {_text(new.get('spellings'))}")
    others = {k: v for k, v in old.items() if k not in _TOP_COMPARED}
    lines += _setting_changes("file", others, {k: v for k, v in new.items() if k not in _TOP_COMPARED}, set())
    return lines


def _tier_changes(name: str, old: Snapshot, new: Snapshot) -> list[str]:
    strategy = new.get("strategy", "")
    if strategy == "rules":
        lines = _rule_changes(name, old, new)
    elif strategy == "sticky":
        lines = _sticky_changes(name, old, new)
    else:
        lines = _efficient_changes(name, old, new)
    return lines + _setting_changes(name, old, new, _COMPARED.get(strategy, {"strategy"}))


def _resolved(tier: Snapshot) -> dict[str | None, dict[str, str]]:
    """Key value (or None: any other) -> what it resolves to (model, fallbacks, params)."""
    routes, params = tier.get("routes", {}), tier.get("params") or {}
    table: dict[str | None, dict[str, str]] = {}
    for key, route_name in [*tier.get("keys", {}).items(), (None, tier.get("default_route"))]:
        route = routes.get(route_name) or {}
        merged = {**_set(params), **_set(route.get("params") or {})}
        table[key] = {"": str(route.get("model")), " fallbacks": _text(route.get("fallbacks", [])),
                      " params": _text(merged)}
    return table


def _rule_changes(name: str, old: Snapshot, new: Snapshot) -> list[str]:
    lines = []
    if old.get("by") != new.get("by"):
        lines.append(f"{name} / picks by: {old.get('by')} -> {new.get('by')}")
    before, after = _resolved(old), _resolved(new)
    keys = [*after, *(k for k in before if k not in after)]
    # Keys that change alike share one line: "frontier / plan, ask, debug: a -> b".
    grouped: dict[tuple[str, str, str], list[str]] = {}
    everything = f"(every {new.get('by')})"
    for key in keys:
        was = before.get(key) or before[None]
        now = after.get(key) or after[None]
        for field in now:
            if was[field] != now[field]:
                label = _OTHER.get(str(new.get("by")), "(any other)") if key is None else key
                grouped.setdefault((field, was[field], now[field]), []).append(label)
    lines += [f"{name} / {everything if len(labels) == len(keys) else ', '.join(labels)}{field}: {was} -> {now}"
              for (field, was, now), labels in grouped.items()]
    return lines


def _sticky_changes(name: str, old: Snapshot, new: Snapshot) -> list[str]:
    before = {c["model"]: c.get("weight", 1.0) for c in old.get("candidates", [])}
    after = {c["model"]: c.get("weight", 1.0) for c in new.get("candidates", [])}
    lines = [f"{name} / candidates: added {m} (weight {_text(w)})" for m, w in after.items() if m not in before]
    lines += [f"{name} / candidates: removed {m}" for m in before if m not in after]
    lines += [f"{name} / {m} weight: {_text(before[m])} -> {_text(w)}"
              for m, w in after.items() if m in before and before[m] != w]
    if old.get("last_resort", []) != new.get("last_resort", []):
        lines.append(f"{name} / last resort: {_text(old.get('last_resort', []))} -> "
                     f"{_text(new.get('last_resort', []))}")
    return lines


def _efficient_changes(name: str, old: Snapshot, new: Snapshot) -> list[str]:
    before, after = old.get("candidates", []), new.get("candidates", [])
    lines = [f"{name} / candidates: added {m}" for m in after if m not in before]
    lines += [f"{name} / candidates: removed {m}" for m in before if m not in after]
    if old.get("quality_bar") != new.get("quality_bar"):
        lines.append(f"{name} / quality bar: {_bar(old.get('quality_bar'))} -> {_bar(new.get('quality_bar'))}")
    return lines


def _setting_changes(where: str, old: Snapshot, new: Snapshot, skip: set[str]) -> list[str]:
    fields = [*new, *(k for k in old if k not in new)]
    return [f"{where} / {field}: {_text(old.get(field))} -> {_text(new.get(field))}"
            for field in fields if field not in skip and old.get(field) != new.get(field)]


def _dict_changes(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = [f"{kind} {k}: {_text(old[k])} -> {_text(v)}" for k, v in new.items() if k in old and old[k] != v]
    lines += [f"{kind} {k} added: {_text(v)}" for k, v in new.items() if k not in old]
    lines += [f"{kind} {k} removed (was {_text(v)})" for k, v in old.items() if k not in new]
    return lines


def _new_tier(name: str, tier: Snapshot) -> str:
    return f"tier {name} added: {_summary(tier)}"


def _summary(tier: Snapshot) -> str:
    """A tier in one line: what each key resolves to, or its candidates."""
    strategy = tier.get("strategy")
    if strategy == "rules":
        by_model: dict[str, list[str]] = {}
        for key, resolved in _resolved(tier).items():
            label = _OTHER.get(str(tier.get("by")), "(any other)") if key is None else key
            by_model.setdefault(resolved[""], []).append(label)
        routes = "; ".join(f"{', '.join(keys)} -> {model}" for model, keys in by_model.items())
        return f"rules by {tier.get('by')}: {routes}"
    if strategy == "sticky":
        names = ", ".join(f"{c['model']} (weight {_text(c.get('weight', 1.0))})" for c in tier.get("candidates", []))
        return f"sticky over {names}; last resort {_text(tier.get('last_resort', []))}"
    candidates = tier.get("candidates", [])
    return (f"{strategy} over {len(candidates)} candidates {_text(candidates)}, "
            f"quality bar {_bar(tier.get('quality_bar'))}")


def _bar(bar: Any) -> str:
    if not isinstance(bar, dict):
        return _text(bar)
    return f"{bar.get('kind')} {_text(bar.get('value'))}"


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _text(value: Any) -> str:
    """A value as a person writes it: lists comma-separated, objects as k=v, nothing as (none)."""
    if value is None or value == [] or value == {}:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        shown = _set(value)
        return ", ".join(f"{k}={_text(v)}" for k, v in shown.items()) if shown else "(none)"
    return str(value)
