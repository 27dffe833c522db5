"""Bad data files give one-line errors naming file, key and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from router import ConfigError, load_config
from router.checks import check_files
from tests.support.config_copy import copy_config


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def problems(data_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(data_dir)
    lines = err.value.problems
    assert all("\n" not in line for line in lines)
    return lines


def set_in(keys, value):
    def change(data):
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


CATALOG_CASES = [
    (set_in(["models", 3, "pricing", "input"], "free"),
     "catalog.yaml: models[3].pricing.input: must be a valid number"),
    (set_in(["models", 0, "context_window"], -5),
     "catalog.yaml: models[0].context_window: must be greater than 0"),
    (set_in(["models", 1, "open_weight"], "maybe"),
     "catalog.yaml: models[1].open_weight: must be a valid boolean"),
    (set_in(["models", 2, "api_kinds"], ["chat", "grpc"]),
     "catalog.yaml: models[2].api_kinds[1]: must be 'chat', 'responses' or 'messages'"),
    (set_in(["models", 2, "colour"], "blue"),
     "catalog.yaml: models[2].colour: unknown key (check the spelling)"),
    (lambda d: d["models"][4].pop("family"),
     "catalog.yaml: models[4].family: required key is missing"),
    (set_in(["models", 0, "free"], True),
     "catalog.yaml: models[0]: anthropic/claude-opus-4.7: a free model cannot have a non-zero price"),
    (set_in(["models", 13, "pricing", "output"], None),
     "catalog.yaml: models[13]: qwen/qwen3.6-plus: a paid model needs pricing.input and pricing.output"),
    (lambda d: d["models"][13]["pricing"].pop("source"),
     "catalog.yaml: models[13]: qwen/qwen3.6-plus: an operator-set price needs pricing.source"),
    (lambda d: d["models"].append(dict(d["models"][0])),
     "catalog.yaml: models[20].id: duplicate id 'anthropic/claude-opus-4.7'"),
]


@pytest.mark.parametrize(("change", "expected"), CATALOG_CASES)
def test_catalog_errors(data_dir, change, expected):
    edit(data_dir / "catalog.yaml", change)
    lines = problems(data_dir)
    assert any(line.startswith(expected) for line in lines), lines


TIER_CASES = [
    (set_in(["tiers", "frontier", "routes", "planning", "model"], "anthropic/claude-9"),
     "tiers.yaml: tiers.frontier.routes.planning.model: unknown model 'anthropic/claude-9' (not in the catalog)"),
    (set_in(["tiers", "free", "candidates", 0, "model"], "openai/gpt-5.5"),
     "tiers.yaml: tiers.free.candidates[0].model: 'openai/gpt-5.5' is not free but the tier is free_only"),
    (set_in(["tiers", "open", "routes", "coding", "fallbacks"], ["openai/gpt-5.4"]),
     "tiers.yaml: tiers.open.routes.coding.fallbacks[0]: 'openai/gpt-5.4' is not open-weight"),
    (set_in(["tiers", "free", "candidates", 1, "weight"], 0),
     "tiers.yaml: tiers.free.sticky.candidates[1].weight: must be greater than 0"),
    (set_in(["tiers", "frontier", "strategy"], "vibes"),
     "tiers.yaml: tiers.frontier: "),
    (set_in(["tiers", "frontier", "keys", "plan"], "thinking"),
     "tiers.yaml: tiers.frontier.rules: 'plan' names route 'thinking', not one of ['coding', 'planning']"),
    (set_in(["aliases", "kilo/auto"], "premium"),
     "tiers.yaml: aliases.kilo/auto: unknown tier 'premium'"),
    (set_in(["defaults", "otherwise"], "cheap"),
     "tiers.yaml: defaults.otherwise: unknown tier 'cheap'"),
    (set_in(["spellings"], ["kilo-auto/tier"]),
     "tiers.yaml: (top level): spelling 'kilo-auto/tier' must contain '{tier}'"),
    (set_in(["tiers", "efficient", "table"], "accuracy/missing.json"),
     "tiers.yaml: tiers.efficient.table: missing.json: cannot read file"),
    (set_in(["tiers", "efficient", "quality_bar", "value"], 1.5),
     "tiers.yaml: tiers.efficient.efficient.quality_bar.value: "),
]


def test_efficient_candidate_missing_from_table(data_dir):
    table = data_dir / "accuracy" / "production.json"
    data = json.loads(table.read_text())
    del data["models"]["openai/gpt-5.5"]
    table.write_text(json.dumps(data))
    assert "tiers.yaml: tiers.efficient.candidates[3]: 'openai/gpt-5.5' has no entry in accuracy/production.json" \
        in problems(data_dir)


def test_accuracy_table_errors_are_one_line(data_dir):
    table = data_dir / "accuracy" / "production.json"
    data = json.loads(table.read_text())
    data["models"]["openai/gpt-5.5"]["cells"] = {"no-such-cell": {"lower": 0.5}}
    data["models"]["openai/gpt-5.4"]["overall"]["lower"] = 2
    table.write_text(json.dumps(data))
    lines = problems(data_dir)
    assert any(line.startswith("tiers.yaml: tiers.efficient.table: production.json: models.openai/gpt-5.4")
               for line in lines), lines


@pytest.mark.parametrize(("change", "expected"), TIER_CASES)
def test_tier_errors(data_dir, change, expected):
    edit(data_dir / "tiers.yaml", change)
    lines = problems(data_dir)
    assert any(line.startswith(expected) for line in lines), lines


def test_invalid_yaml_names_the_line(data_dir):
    (data_dir / "tiers.yaml").write_text("tiers:\n  frontier: [unclosed\n")
    assert problems(data_dir)[0].startswith("tiers.yaml: line 3: invalid YAML")


def test_empty_and_missing_files(data_dir):
    (data_dir / "catalog.yaml").write_text("")
    assert problems(data_dir) == ["catalog.yaml: (top level): file is empty"]
    (data_dir / "catalog.yaml").unlink()
    assert problems(data_dir)[0].startswith("catalog.yaml: cannot read file")


def test_check_files_recognises_kinds(data_dir):
    assert check_files([data_dir / "catalog.yaml", data_dir / "tiers.yaml"]) == []
    other = data_dir / "other.yaml"
    other.write_text("colours: [red]\n")
    assert check_files([other])[0].startswith("other.yaml: (top level): unknown kind of file")
