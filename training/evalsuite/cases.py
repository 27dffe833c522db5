"""The eval-suite cases: read and validate `data/eval_suite/*.yaml` (format in its README).

`load_suite` checks every case against the taxonomy (route key, difficulty) and the
grader registry, and raises one ConfigError listing every problem as
`<file>: <case id>: <field>: <reason>`. `suite_hash` fingerprints a list of cases for
the provenance of an eval run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from router.errors import ConfigError
from training.evalsuite.graders import grader_problems

DEFAULT_SUITE = Path(__file__).resolve().parents[2] / "data" / "eval_suite"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FIELDS = {"id", "route_key", "difficulty", "system", "prompt", "grader", "judge", "reference", "wrong"}


@dataclass(frozen=True)
class Case:
    id: str
    route_key: str
    difficulty: str
    prompt: str
    grader: dict
    system: str | None = None
    judge: str | None = None
    reference: str = ""  # a right reply, as a model would write it; passes the grader
    wrong: str = ""  # a plausible wrong reply; fails the grader
    source: str = ""  # the file name the case came from


def load_suite(path: Path | str = DEFAULT_SUITE, *, taxonomy_path: Path | str | None = None) -> list[Case]:
    """Cases of one YAML file or of every *.yaml in a folder (by file name, then file order).
    Raises ConfigError naming every bad file, case and field."""
    from classifier.taxonomy import load_taxonomy  # the classifier package is heavy to import

    taxonomy = load_taxonomy(taxonomy_path)
    root = Path(path)
    files = sorted(root.glob("*.yaml")) if root.is_dir() else [root]
    if not root.exists() or not files:
        raise ConfigError([f"{root}: no eval-suite files (*.yaml) found"])
    problems: list[str] = []
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for file in files:
        for case in _read_file(file, set(taxonomy.route_keys), set(taxonomy.difficulty_names), problems):
            if case.id in seen:
                problems.append(f"{file}: {case.id}: id: duplicate id (also in {seen[case.id]})")
                continue
            seen[case.id] = file.name
            cases.append(case)
    if problems:
        raise ConfigError(problems)
    return cases


def _read_file(file: Path, route_keys: set[str], levels: set[str], problems: list[str]) -> list[Case]:
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{file}: cannot read: {exc.strerror}")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{file}: not valid YAML: {' '.join(str(exc).split())}")
        return []
    if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("cases"), list):
        problems.append(f"{file}: must be a mapping with `version: 1` and a list `cases`")
        return []
    out = []
    for i, raw in enumerate(doc["cases"]):
        case = _read_case(raw, f"{file}: cases[{i}]", file, route_keys, levels, problems)
        if case is not None:
            out.append(case)
    return out


def _read_case(raw: Any, where: str, file: Path, route_keys: set[str], levels: set[str],
               problems: list[str]) -> Case | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    cid = raw.get("id")
    good_id = isinstance(cid, str) and bool(_ID.match(cid))
    if good_id:
        where = f"{file}: {cid}"
    else:
        problems.append(f"{where}: id: must match [a-z0-9-]+, got {cid!r}")
    bad: list[str] = [f"{f}: unknown field" for f in sorted(raw.keys() - _FIELDS, key=str)]
    if raw.get("route_key") not in route_keys:
        bad.append(f"route_key: unknown route key {raw.get('route_key')!r} (see data/taxonomy.yaml)")
    if raw.get("difficulty") not in levels:
        bad.append(f"difficulty: must be one of {', '.join(sorted(levels))}, got {raw.get('difficulty')!r}")
    if not isinstance(raw.get("prompt"), str) or not raw["prompt"].strip():
        bad.append("prompt: missing or empty")
    for field in ("system", "judge"):
        if raw.get(field) is not None and not isinstance(raw[field], str):
            bad.append(f"{field}: must be text or null")
    for field in ("reference", "wrong"):
        if not isinstance(raw.get(field, ""), str):
            bad.append(f"{field}: must be text")
    bad += grader_problems(raw.get("grader"))
    problems.extend(f"{where}: {b}" for b in bad)
    if bad or not good_id:
        return None
    return Case(id=str(cid), route_key=raw["route_key"], difficulty=raw["difficulty"], prompt=raw["prompt"],
                grader=raw["grader"], system=raw.get("system"), judge=raw.get("judge"),
                reference=raw.get("reference") or "", wrong=raw.get("wrong") or "", source=file.name)


def suite_hash(cases: Iterable[Case]) -> str:
    """sha256 of the cases' canonical JSON (sorted keys, in order): the suite's provenance."""
    rows = [dataclasses.asdict(c) for c in cases]
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
