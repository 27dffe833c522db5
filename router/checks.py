"""`autotier check-config`: validate data files of any kind, reporting every problem as
one line `<file>: <key path>: <reason>`."""

from __future__ import annotations

import importlib
from pathlib import Path

from router.catalog import load_catalog
from router.config import cross_check, default_data_dir
from router.datafile import read_yaml
from router.errors import ConfigError
from router.tiers import load_tiers

# Kinds of data file, recognised by a top-level key -> the loader that validates them.
# Loaders outside the core are named as "module:function" and imported only when needed.
KINDS = {
    "models": "router.catalog:load_catalog",
    "tiers": "router.checks:check_tiers",
    "task_types": "classifier.taxonomy:load_taxonomy",
    "policies": "router.policy:check_policies_file",
    "organisations": "router.policy:check_policies_file",
}


def check_tiers(path: Path) -> None:
    """Validate a tiers file and cross-check it with the catalog beside it (or the default)."""
    tiers = load_tiers(path)
    catalog_path = path.with_name("catalog.yaml")
    if not catalog_path.exists():
        catalog_path = default_data_dir() / "catalog.yaml"
    problems = cross_check(load_catalog(catalog_path), tiers, path.name)
    if problems:
        raise ConfigError(problems)


def check_file(path: Path) -> list[str]:
    try:
        data = read_yaml(path)
        if not isinstance(data, dict):
            return [f"{path.name}: (top level): must be a mapping, got {type(data).__name__}"]
        kind = next((k for k in KINDS if k in data), None)
        if kind is None:
            return [f"{path.name}: (top level): unknown kind of file: expected one of the keys {sorted(KINDS)}"]
        module, _, func = KINDS[kind].partition(":")
        getattr(importlib.import_module(module), func)(path)
    except ConfigError as exc:
        return exc.problems
    return []


def check_files(paths: list[Path]) -> list[str]:
    return [line for path in paths for line in check_file(path)]
