"""The tier-mapping diff (router.tier_changes) on small hand-made tiers files: one row per
kind of edit, with the exact lines a reader of the changelog sees."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from router.tier_changes import describe_changes, mapping_snapshot, mapping_version
from router.tiers import TiersFile

BASE: dict[str, Any] = {
    "spellings": ["kilo-auto/{tier}"],
    "aliases": {"kilo/auto": "frontier"},
    "defaults": {"generic_ids": ["auto"], "with_balance": "frontier", "otherwise": "free"},
    "tiers": {
        "frontier": {
            "strategy": "rules", "description": "by mode", "by": "mode",
            "params": {"reasoning_effort": "medium"},
            "keys": {"plan": "planning", "ask": "planning", "code": "coding"},
            "default_route": "coding",
            "routes": {
                "planning": {"model": "anthropic/claude-opus-4.6", "fallbacks": ["openai/gpt-5.5"]},
                "coding": {"model": "anthropic/claude-sonnet-4.6"},
            },
        },
        "free": {
            "strategy": "sticky", "description": "free", "free_only": True,
            "candidates": [{"model": "a:free", "weight": 3}, {"model": "b:free"}],
            "last_resort": ["openrouter/free"],
        },
        "efficient": {
            "strategy": "efficient", "description": "cheapest adequate",
            "candidates": ["m1", "m2", "m3"], "quality_bar": {"kind": "relative", "value": 0.95},
        },
    },
}


def snapshot(raw: dict[str, Any]) -> dict[str, Any]:
    return mapping_snapshot(TiersFile.model_validate(raw))


def edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    edit(raw)
    return raw


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node[key]
        del node[last]
    return edit


FRONTIER = "tiers.frontier"
ROWS = [
    # A route's model: every key that resolves to it, on one line.
    (_set(f"{FRONTIER}.routes.planning.model", "anthropic/claude-opus-4.7"),
     ["frontier / plan, ask: anthropic/claude-opus-4.6 -> anthropic/claude-opus-4.7"]),
    # The default route also serves unmapped modes.
    (_set(f"{FRONTIER}.routes.coding.model", "openai/gpt-5.4"),
     ["frontier / code, (any other mode): anthropic/claude-sonnet-4.6 -> openai/gpt-5.4"]),
    # A mode moved to another route: its model and fallbacks change.
    (_set(f"{FRONTIER}.keys.code", "planning"),
     ["frontier / code: anthropic/claude-sonnet-4.6 -> anthropic/claude-opus-4.6",
      "frontier / code fallbacks: (none) -> [openai/gpt-5.5]"]),
    (_set(f"{FRONTIER}.routes.planning.fallbacks", ["openai/gpt-5.5", "openai/gpt-5.4"]),
     ["frontier / plan, ask fallbacks: [openai/gpt-5.5] -> [openai/gpt-5.5, openai/gpt-5.4]"]),
    # Tier-wide params reach every key.
    (_set(f"{FRONTIER}.params", {"reasoning_effort": "high"}),
     ["frontier / (every mode) params: reasoning_effort=medium -> reasoning_effort=high"]),
    (_set(f"{FRONTIER}.routes.coding.params", {"verbosity": "low"}),
     ["frontier / code, (any other mode) params: reasoning_effort=medium -> "
      "reasoning_effort=medium, verbosity=low"]),
    # Renaming a route changes nothing a client sees.
    (lambda raw: raw["tiers"]["frontier"].update(
        routes={"deep": BASE["tiers"]["frontier"]["routes"]["planning"],
                "coding": BASE["tiers"]["frontier"]["routes"]["coding"]},
        keys={"plan": "deep", "ask": "deep", "code": "coding"}), []),
    (_set("tiers.free.candidates", [{"model": "a:free", "weight": 1}, {"model": "c:free", "weight": 2}]),
     ["free / candidates: added c:free (weight 2)", "free / candidates: removed b:free",
      "free / a:free weight: 3 -> 1"]),
    (_set("tiers.free.last_resort", []), ["free / last resort: [openrouter/free] -> (none)"]),
    (_set("tiers.efficient.candidates", ["m2", "m3", "m4"]),
     ["efficient / candidates: added m4", "efficient / candidates: removed m1"]),
    (_set("tiers.efficient.quality_bar", {"kind": "margin", "value": 0.06}),
     ["efficient / quality bar: relative 0.95 -> margin 0.06"]),
    (_set("tiers.efficient.selection", "best_accuracy"),
     ["efficient / selection: cost_per_accuracy -> best_accuracy"]),
    (_set("tiers.efficient.output_tokens", {"low": 400, "medium": 1500, "high": 4000}),
     ["efficient / output_tokens: low=500, medium=1500, high=4000 -> low=400, medium=1500, high=4000"]),
    (_set("tiers.free.description", "free, may log prompts"),
     ["free / description: free -> free, may log prompts"]),
    (_delete("tiers.efficient"),
     ["tier efficient removed (was efficient over 3 candidates [m1, m2, m3], quality bar relative 0.95)"]),
    (_set("tiers.small", {"strategy": "rules", "description": "small", "by": "balance", "default_route": "free",
                          "keys": {"paid": "paid"}, "routes": {"paid": {"model": "p"}, "free": {"model": "f:free"}}}),
     ["tier small added: rules by balance: paid -> p; (any other account) -> f:free"]),
    (_set("tiers.efficient", {"strategy": "sticky", "description": "d", "candidates": [{"model": "m1"}]}),
     ["tier efficient: strategy efficient -> sticky; now sticky over m1 (weight 1); last resort (none)"]),
    (_set("aliases", {"kilo/auto": "efficient", "kilo/fast": "free"}),
     ["alias kilo/auto: frontier -> efficient", "alias kilo/fast added: free"]),
    (_set("defaults.with_balance", "efficient"), ["defaults / with_balance: frontier -> efficient"]),
    (_set("spellings", ["kilo-auto/{tier}", "kilo/auto-{tier}"]),
     ["spellings: [kilo-auto/{tier}] -> [kilo-auto/{tier}, kilo/auto-{tier}]"]),
]


@pytest.mark.parametrize(("edit", "lines"), ROWS)
def test_each_kind_of_edit_reads_as_expected(edit, lines):
    assert describe_changes(snapshot(BASE), snapshot(edited(edit))) == lines


def test_version_follows_content_not_layout():
    same = copy.deepcopy(BASE)
    same["tiers"] = dict(reversed(list(same["tiers"].items())))  # order of keys in the file
    assert mapping_version(snapshot(same)) == mapping_version(snapshot(BASE))
    changed = edited(_set(f"{FRONTIER}.routes.planning.model", "x"))
    assert mapping_version(snapshot(changed)) != mapping_version(snapshot(BASE))
    assert len(mapping_version(snapshot(BASE))) == 12


def test_nothing_changed_is_no_lines_and_first_mapping_lists_every_tier():
    assert describe_changes(snapshot(BASE), snapshot(BASE)) == []
    first = describe_changes(None, snapshot(BASE))
    assert first[0] == "first recorded mapping"
    assert first[1] == ("tier frontier added: rules by mode: plan, ask -> anthropic/claude-opus-4.6; "
                        "code, (any other mode) -> anthropic/claude-sonnet-4.6")
    assert [line.split(":")[0] for line in first[2:]] == ["tier free added", "tier efficient added"]


def test_a_snapshot_from_an_older_schema_still_compares():
    """A stored snapshot lacks a field today's schema has: shown as set, not an error."""
    old = snapshot(BASE)
    del old["tiers"]["efficient"]["cached_prompt_share"]
    assert describe_changes(old, snapshot(BASE)) == ["efficient / cached_prompt_share: (none) -> 0"]
