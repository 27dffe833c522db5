"""One validated snapshot of all routing data: the catalog, the tiers, and the table of
virtual ids. Built once per (re)load; `route()` only reads it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from router.accuracy import AccuracyTable, load_accuracy_table
from router.catalog import Catalog, load_catalog
from router.errors import ConfigError
from router.policy import NO_POLICIES, POLICY_FILE, PolicySet, load_policies
from router.tiers import EfficientTier, RuleTier, StickyTier, TiersFile, load_tiers

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"


def default_data_dir() -> Path:
    """`AUTOTIER_DATA_DIR` if set, else the repository's `data/` folder."""
    return Path(os.environ.get("AUTOTIER_DATA_DIR", PACKAGE_DATA))


@dataclass(frozen=True)
class RouterConfig:
    catalog: Catalog
    tiers: TiersFile
    # Every accepted virtual id (all spellings and aliases), lower-cased -> tier name.
    virtual_ids: dict[str, str]
    # Accuracy tables of the efficient tiers, by their path relative to the data folder.
    accuracy: dict[str, AccuracyTable] = field(default_factory=dict)
    # Named policies and organisations of `policies.yaml`, compiled against the catalog.
    policies: PolicySet = NO_POLICIES

    def tier_of(self, model_id: str) -> str | None:
        return self.virtual_ids.get(model_id.strip().lower())


def _virtual_ids(tiers: TiersFile) -> dict[str, str]:
    table = {
        spelling.format(tier=name).lower(): name
        for name in tiers.tiers
        for spelling in tiers.spellings
    }
    table.update({alias.lower(): tier for alias, tier in tiers.aliases.items()})
    return table


def _tier_models(name: str, tier: RuleTier | StickyTier | EfficientTier) -> Iterable[tuple[str, str]]:
    """(key path, model id) for every model a tier names."""
    base = f"tiers.{name}"
    if isinstance(tier, RuleTier):
        for route_name, route in tier.routes.items():
            yield f"{base}.routes.{route_name}.model", route.model
            for i, model in enumerate(route.fallbacks):
                yield f"{base}.routes.{route_name}.fallbacks[{i}]", model
    elif isinstance(tier, StickyTier):
        for i, candidate in enumerate(tier.candidates):
            yield f"{base}.candidates[{i}].model", candidate.model
        for i, model in enumerate(tier.last_resort):
            yield f"{base}.last_resort[{i}]", model
    else:
        for i, model in enumerate(tier.candidates):
            yield f"{base}.candidates[{i}]", model


def cross_check(catalog: Catalog, tiers: TiersFile, filename: str = "tiers.yaml") -> list[str]:
    """Problems between a tiers file and a catalog (unknown models, envelope breaches)."""
    problems: list[str] = []
    names = set(tiers.tiers)
    for name, tier in tiers.tiers.items():
        for where, model_id in _tier_models(name, tier):
            model = catalog.get(model_id)
            if model is None:
                problems.append(f"{filename}: {where}: unknown model {model_id!r} (not in the catalog)")
            elif tier.free_only and not model.free:
                problems.append(f"{filename}: {where}: {model_id!r} is not free but the tier is free_only")
            elif tier.open_weight_only and not model.open_weight:
                problems.append(
                    f"{filename}: {where}: {model_id!r} is not open-weight but the tier is open_weight_only"
                )
        if isinstance(tier, EfficientTier):
            for i, model_id in enumerate(tier.candidates):
                model = catalog.get(model_id)
                if model is not None and model.cost_usd(1, 1) is None:
                    problems.append(
                        f"{filename}: tiers.{name}.candidates[{i}]: {model_id!r} has no catalog price; "
                        "the efficient tier compares costs"
                    )
    for alias, target in tiers.aliases.items():
        if target not in names:
            problems.append(f"{filename}: aliases.{alias}: unknown tier {target!r}")
    for key in ("with_balance", "otherwise"):
        target = getattr(tiers.defaults, key)
        if target not in names:
            problems.append(f"{filename}: defaults.{key}: unknown tier {target!r}")
    collisions = sorted(set(_virtual_ids(tiers)) & {m.id.lower() for m in catalog})
    problems += [f"{filename}: spellings: virtual id {c!r} collides with a catalog model" for c in collisions]
    return problems


def load_config(data_dir: Path | None = None) -> RouterConfig:
    """Load `catalog.yaml`, `tiers.yaml` and (when present) `policies.yaml` from `data_dir`;
    raises ConfigError listing every problem, one line each."""
    data_dir = data_dir or default_data_dir()
    catalog = load_catalog(data_dir / "catalog.yaml")
    tiers = load_tiers(data_dir / "tiers.yaml")
    problems = cross_check(catalog, tiers)
    if problems:
        raise ConfigError(problems)
    accuracy = load_efficient_tables(data_dir, tiers)
    policies = load_policies(data_dir / POLICY_FILE, catalog, tiers)
    return RouterConfig(catalog=catalog, tiers=tiers, virtual_ids=_virtual_ids(tiers), accuracy=accuracy,
                        policies=policies)


def load_efficient_tables(data_dir: Path, tiers: TiersFile, filename: str = "tiers.yaml") -> dict[str, AccuracyTable]:
    """Load every accuracy table an efficient tier names and check that it covers the
    tier's candidates; raises ConfigError listing every problem."""
    tables: dict[str, AccuracyTable] = {}
    problems: list[str] = []
    for name, tier in tiers.tiers.items():
        if not isinstance(tier, EfficientTier):
            continue
        if tier.table not in tables:
            try:
                tables[tier.table] = load_accuracy_table(data_dir / tier.table)
            except ConfigError as exc:
                problems += [f"{filename}: tiers.{name}.table: {p}" for p in exc.problems]
                continue
        table = tables[tier.table]
        problems += [
            f"{filename}: tiers.{name}.candidates[{i}]: {m!r} has no entry in {tier.table}"
            for i, m in enumerate(tier.candidates)
            if m not in table.models
        ]
    if problems:
        raise ConfigError(problems)
    return tables
