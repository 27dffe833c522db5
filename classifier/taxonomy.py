"""The task taxonomy (task types x subtypes, difficulty levels), read from taxonomy.yaml.

Nothing else in the code base lists labels: route keys are `task_type/subtype` in file
order, difficulties likewise. Errors name the file, the key and the reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from classifier.errors import TaxonomyError

DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[1] / "data" / "taxonomy.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Label:
    name: str
    description: str


@dataclass(frozen=True)
class TaskType:
    name: str
    description: str
    subtypes: tuple[Label, ...]


@dataclass(frozen=True)
class Taxonomy:
    """Validated taxonomy; `sha256` is the hash of the file's bytes (recorded in manifests)."""

    task_types: tuple[TaskType, ...]
    difficulties: tuple[Label, ...]
    sha256: str
    path: str = ""

    @property
    def route_keys(self) -> list[str]:
        return [f"{t.name}/{s.name}" for t in self.task_types for s in t.subtypes]

    @property
    def task_type_names(self) -> list[str]:
        return [t.name for t in self.task_types]

    @property
    def difficulty_names(self) -> list[str]:
        return [d.name for d in self.difficulties]

    def task_type_of(self, route_key: str) -> str:
        return route_key.split("/", 1)[0]


def _label(obj: Any, where: str) -> Label:
    if not isinstance(obj, dict):
        raise TaxonomyError(f"{where}: must be a mapping with name and description, got {obj!r}")
    name = obj.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TaxonomyError(f"{where}.name: must be a lower_snake_case string, got {name!r}")
    desc = obj.get("description", "")
    if not isinstance(desc, str) or not desc.strip():
        raise TaxonomyError(f"{where}.description: must be a non-empty string")
    return Label(name, desc.strip())


def _unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise TaxonomyError(f"{where}: duplicate name {n!r}")
        seen.add(n)


def parse_taxonomy(text: str, source: str = "taxonomy.yaml") -> Taxonomy:
    """Validate YAML text; raises TaxonomyError naming `source`, key and reason."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise TaxonomyError(f"{source}: top level must be a mapping")
    raw_types = doc.get("task_types")
    if not isinstance(raw_types, list) or not raw_types:
        raise TaxonomyError(f"{source}: task_types: must be a non-empty list")
    types: list[TaskType] = []
    for i, raw in enumerate(raw_types):
        where = f"{source}: task_types[{i}]"
        head = _label(raw, where)
        subs = raw.get("subtypes")
        if not isinstance(subs, list) or not subs:
            raise TaxonomyError(f"{where}.subtypes: must be a non-empty list")
        labels = tuple(_label(s, f"{where}.subtypes[{j}]") for j, s in enumerate(subs))
        _unique([s.name for s in labels], f"{where}.subtypes")
        types.append(TaskType(head.name, head.description, labels))
    _unique([t.name for t in types], f"{source}: task_types")
    raw_diff = doc.get("difficulties")
    if not isinstance(raw_diff, list) or len(raw_diff) < 2:
        raise TaxonomyError(f"{source}: difficulties: must be a list of at least 2 levels")
    diffs = tuple(_label(d, f"{source}: difficulties[{i}]") for i, d in enumerate(raw_diff))
    _unique([d.name for d in diffs], f"{source}: difficulties")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Taxonomy(tuple(types), diffs, digest, source)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate taxonomy.yaml (default: the repository's data/taxonomy.yaml)."""
    p = Path(path) if path is not None else DEFAULT_TAXONOMY_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{p}: cannot read taxonomy: {exc.strerror}") from exc
    return parse_taxonomy(text, str(p))
