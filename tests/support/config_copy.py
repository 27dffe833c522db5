"""A private copy of the routing data files, for tests that edit or hot-reload them."""

from __future__ import annotations

import shutil
from pathlib import Path

from router.config import PACKAGE_DATA

CONFIG_FILES = ("catalog.yaml", "tiers.yaml", "policies.yaml", "accuracy")


def copy_config(dest: Path) -> Path:
    """Copy everything `load_config` reads (catalog, tiers, policies, accuracy tables) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        source = PACKAGE_DATA / name
        if source.is_dir():
            shutil.copytree(source, dest / name, dirs_exist_ok=True)
        else:
            shutil.copy(source, dest / name)
    return dest
