"""Accuracy tables: the bounds, build_table, the model map, and the committed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.accuracy import cell_key, load_accuracy_table
from router.errors import ConfigError
from training.accuracy_tables import (
    REPO_ROOT,
    Z,
    beta_lower,
    build_sources,
    build_table,
    production_from,
    table_json,
    wilson_lower,
)
from training.production_table import check_names, load_model_map

from .conftest import needs_data

ACCURACY = REPO_ROOT / "data" / "accuracy"
LABELS = REPO_ROOT / "data" / "labels" / "swebench.csv"
CATALOG = REPO_ROOT / "data" / "catalog.yaml"


# --- the bounds --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        (0, 0, 0.0),  # nothing observed
        (0, 10, 0.0),
        (10, 10, 10 / (10 + Z * Z)),  # all successes: n / (n + z^2) = 0.787066
        (8, 10, 0.540793),  # worked by hand: (0.935275 - 0.248170) / 1.270552
        (372, 500, 0.710643),  # Claude 4.5 Opus on bash-only
    ],
)
def test_wilson_lower_hand_values(k, n, expected):
    assert wilson_lower(k, n) == pytest.approx(expected, abs=1e-5)


def test_beta_lower_closed_forms():
    # strength 2 around 0.5 is Beta(1, 1) a priori: its 5% quantile is 0.05
    assert beta_lower(0, 0, 0.5, strength=2) == pytest.approx(0.05)
    # two successes more make Beta(3, 1), whose quantile q solves q^3 = 0.05
    assert beta_lower(2, 2, 0.5, strength=2) == pytest.approx(0.05 ** (1 / 3))
    # Beta(1, 3): 1 - (1 - q)^3 = 0.05
    assert beta_lower(0, 2, 0.5, strength=2) == pytest.approx(1 - 0.95 ** (1 / 3))


def test_beta_lower_moves_with_the_prior():
    assert beta_lower(3, 5, 0.9) > beta_lower(3, 5, 0.3)


# --- build_table ---------------------------------------------------------------------------

def test_build_table_overall_cells_shrinking_and_evidence():
    records = (
        [("a", "x", 1.0)] * 3 + [("a", "x", 0.0)]  # 3/4 in x
        + [("a", "y", 1.0)] * 4  # 4/4 in y
        + [("a", "ignored", 0.0)]  # not a table cell: counts overall, no cell entry
        + [("b", "x", 0.5)] * 2  # graded outcomes count as fractional successes
    )
    table = build_table(records, ["x", "y"], thin=4, strength=10,
                        evidence={"b": ("proxy", ("b-old",), "stands in")})
    a = table.models["a"]
    assert a.overall.n == 9 and a.overall.accuracy == pytest.approx(7 / 9)
    assert a.overall.lower == pytest.approx(wilson_lower(7, 9))
    assert set(a.cells) == {"x", "y"}
    assert a.cells["x"].accuracy == pytest.approx(0.75) and a.cells["x"].n == 4
    assert a.cells["x"].lower == pytest.approx(beta_lower(3, 4, 7 / 9, 10))
    assert not a.cells["x"].shrunk and not a.cells["y"].shrunk  # n = 4 is not below thin = 4
    assert a.evidence == "measured" and a.measured_as == ("a",)
    b = table.models["b"]
    assert b.overall.accuracy == pytest.approx(0.5) and b.cells["x"].shrunk  # 2 < 4
    assert (b.evidence, b.measured_as, b.note) == ("proxy", ("b-old",), "stands in")
    # a 4/4 cell is pulled below its raw rate toward the overall 7/9
    assert a.cells["y"].lower < 1.0 and a.cells["y"].lower < beta_lower(4, 4, 0.99, 10)


def test_build_table_thin_cells_are_marked_shrunk_with_the_default():
    table = build_table([("m", "c", 1.0)] * 29 + [("m", "d", 1.0)] * 30, ["c", "d"])
    assert table.models["m"].cells["c"].shrunk and not table.models["m"].cells["d"].shrunk


# --- the model map -------------------------------------------------------------------------

def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "model_map.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{evidence: measured, rationale: r}", "models.m: measured needs `swebench`"),
        ("{evidence: proxy, swebench: X, prior: {board: assumption, rate: 0.5, weight: 5}, rationale: r}",
         "needs `swebench`"),
        ("{evidence: prior, rationale: r}", "prior needs `prior`"),
        ("{evidence: guessed, swebench: X, rationale: r}", "models.m.evidence"),
        ("{evidence: prior, prior: {board: assumption, rate: 0.5}, rationale: r}", "needs `rate` and `weight`"),
        ("{evidence: prior, prior: {board: assumption, rate: 1.5, weight: 5}, rationale: r}", "prior.rate"),
        ("{evidence: prior, prior: {board: aider_polyglot}, rationale: r}", "needs `name`"),
        ("{evidence: measured, swebench: X, rationale: r, typo: 1}", "models.m.typo: unknown key"),
        ("{evidence: measured, swebench: X}", "models.m.rationale: required key is missing"),
    ],
)
def test_model_map_entry_errors(tmp_path, entry, message):
    path = _write(tmp_path, f"version: 1\nmodels:\n  m: {entry}\n")
    with pytest.raises(ConfigError) as err:
        load_model_map(path)
    text = str(err.value)
    assert text.startswith("model_map.yaml: ") and message in text


def test_model_map_must_match_the_catalog(tmp_path):
    path = _write(tmp_path, "models:\n  a: {evidence: measured, swebench: X, rationale: r}\n"
                            "  stray: {evidence: measured, swebench: X, rationale: r}\n")
    with pytest.raises(ConfigError) as err:
        load_model_map(path, ["a", "b"])
    assert err.value.problems == [
        "model_map.yaml: models: catalog model 'b' is missing",
        "model_map.yaml: models.stray: not a catalog model",
    ]


def test_model_map_names_must_exist_on_their_boards(tmp_path):
    path = _write(tmp_path, (
        "calibration:\n  - {aider: nope, swebench: S1}\n"
        "models:\n"
        "  a: {evidence: proxy, swebench: Old, rationale: r}\n"
        "  b: {evidence: measured, swebench: Gone, rationale: r}\n"
        "  c: {evidence: prior, prior: {board: aider_polyglot, name: A2}, rationale: r}\n"
        "  d: {evidence: prior, prior: {board: swebench_listed, name: S9}, rationale: r}\n"
    ))
    mapping = load_model_map(path)
    with pytest.raises(ConfigError) as err:
        check_names(mapping, ["S1"], {"S1": 0.5}, {"A1": 0.4}, excluded=["Old"])
    assert err.value.problems == [
        "model_map.yaml: models.a.swebench: 'Old': its per-instance list was excluded on SWE-bench bash-only",
        "model_map.yaml: models.b.swebench: 'Gone': no usable per-instance list on SWE-bench bash-only",
        "model_map.yaml: models.c.prior.name: 'A2' is not a unique Aider polyglot model name",
        "model_map.yaml: models.d.prior.name: 'S9' is not on SWE-bench bash-only",
        "model_map.yaml: calibration[0].aider: 'nope' is not a unique Aider polyglot name",
    ]


def test_committed_model_map_covers_the_catalog():
    from router.catalog import load_catalog

    ids = [m.id for m in load_catalog(CATALOG)]
    mapping = load_model_map(ACCURACY / "model_map.yaml", ids)
    assert set(mapping.models) == set(ids)


# --- the committed files -------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(ACCURACY.rglob("*.json")), ids=lambda p: p.name)
def test_committed_tables_load(path):
    table = load_accuracy_table(path)
    assert table.models and table.provenance.get("command", "").startswith("autotier accuracy build")


def test_production_covers_catalog_and_taxonomy():
    import yaml

    from classifier.taxonomy import load_taxonomy
    from router.catalog import load_catalog

    table = load_accuracy_table(ACCURACY / "production.json")
    tax = load_taxonomy()
    cells = [cell_key(rk, d) for rk in tax.route_keys for d in tax.difficulty_names]
    assert list(table.cells) == cells and len(cells) == 54
    ids = [m.id for m in load_catalog(CATALOG)]
    assert list(table.models) == ids
    tiers = yaml.safe_load((REPO_ROOT / "data" / "tiers.yaml").read_text(encoding="utf-8"))
    for cand in tiers["tiers"]["efficient"]["candidates"]:
        assert (cand["model"] if isinstance(cand, dict) else cand) in table.models
    counts = None
    for model_id, entry in table.models.items():
        assert set(entry.cells) == set(cells), model_id  # every cell written out, none silent
        assert entry.note.startswith(entry.evidence), model_id
        assert entry.evidence == "prior" or entry.measured_as, model_id
        own = {c: v.n for c, v in entry.cells.items()}
        assert counts in (None, own), model_id  # a cell's own items are the same for every model
        counts = own
        for c, v in entry.cells.items():
            assert 0 <= v.lower <= v.accuracy <= 1, (model_id, c)
        for rk in tax.route_keys:  # harder work never succeeds more often
            acc = [entry.cells[cell_key(rk, d)].accuracy for d in tax.difficulty_names]
            assert acc == sorted(acc, reverse=True), (model_id, rk)
    for rk in tax.route_keys:  # each level sits higher on the ability scale than the one below
        places = [table.difficulty[cell_key(rk, d)] for d in tax.difficulty_names]
        assert places == sorted(places), rk


@needs_data
def test_swebench_counts_and_listed_rate(data_root):
    from training.outcomes import load_swebench

    swe = load_swebench(data_root, LABELS)
    assert len(swe.models) == 24 and len(swe.records) == 24 * 500
    assert any(e.startswith("Claude 3.7 Sonnet") for e in swe.exclusions)
    table = build_table(swe.records, swe.cells)
    # the per-instance rate equals the leaderboard's listed rate
    assert table.models["Claude 4.5 Opus medium (20251101)"].overall.accuracy == pytest.approx(0.744)
    assert table.models["DeepSeek V3.2 Reasoner"].overall.accuracy == pytest.approx(0.600)
    assert "flag" in swe.models["Claude 4 Sonnet (20250514)"]  # 324/500 vs listed 64.93


@needs_data
def test_committed_files_equal_a_fresh_build(data_root):
    """~5 s: every committed table is what `autotier accuracy build` writes now."""
    tables = build_sources(data_root, LABELS)
    for name, (table, _) in tables.items():
        committed = (ACCURACY / "sources" / f"{name}.json").read_text(encoding="utf-8")
        assert table_json(table) == committed, f"sources/{name}.json is stale: rerun `autotier accuracy build`"
    production = production_from(
        tables["swebench"][1], data_root, catalog_path=CATALOG, taxonomy_path=REPO_ROOT / "data" / "taxonomy.yaml",
        map_path=ACCURACY / "model_map.yaml", labels=LABELS,
    )
    committed = (ACCURACY / "production.json").read_text(encoding="utf-8")
    assert table_json(production) == committed, "production.json is stale: rerun `autotier accuracy build`"
    counts = {name: len(t.models) for name, (t, _) in tables.items()}
    assert counts == {"swebench": 24, "debugbench": 2, "routerbench": 11, "llmrouter": 9, "routellm": 2}
    assert json.loads(committed)["models"]["openai/gpt-5.4"]["measured_as"] == ["GPT-5.1 (2025-11-13) (medium reasoning)"]


def test_cli_reports_a_bad_model_map(tmp_path, capsys):
    from training.accuracy_tables import main
    from training.sources import default_data_root

    if not (default_data_root() / "swebench" / "leaderboards_20251210.json").is_file():
        pytest.skip("public data not found: set AUTOTIER_DATA_ROOT (see ../shared/data/SOURCES.md)")
    bad = _write(tmp_path, "models:\n  x: {evidence: measured, swebench: X, rationale: r}\n")
    assert main(["build", "--out", str(tmp_path / "out"), "--model-map", str(bad)]) == 2
    assert "catalog model 'anthropic/claude-opus-4.7' is missing" in capsys.readouterr().err
    assert not (tmp_path / "out" / "production.json").exists()
