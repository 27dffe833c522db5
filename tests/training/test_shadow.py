"""`autotier shadow`: logged efficient requests replayed through a candidate and the champion."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter

import pytest

from router.config import default_data_dir, load_config
from router.gateway.accounts import Ledger
from training.shadow import ShadowError, logged_requests, main, replay, shadow

PROMPTS = [
    ("Fix the KeyError in load_config when the file is missing", "debug"),
    ("Write a function that reverses a linked list", "code"),
    ("What is the difference between a process and a thread?", "ask"),
    ("Plan the migration of our monolith to microservices", "plan"),
    ("Add a --verbose flag to the CLI that prints each step", "code"),
    ("Rename the variable x to count across utils.py", "code"),
    ("Why does this regex not match newlines?", "ask"),
    ("Implement OAuth2 login with refresh tokens in the Flask app", "code"),
    ("The CI fails with a segfault in the C extension, investigate", "debug"),
    ("Write unit tests for the date parser", "code"),
]
USAGE_SQL = ("INSERT INTO usage (time, api, tier, requested_model, resolved_model, tokens_in, tokens_out, latency_ms,"
             " status, mode, decided_by, route_key, difficulty, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
             " ?, ?, ?)")
CAPTURE_SQL = ("INSERT INTO captures (time, expires, usage_id, account_id, api, mode, tier, model, route_key,"
               " difficulty, text, context, n_tool_results, prompt_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
               " ?, ?, ?)")


def make_ledger(db, prompts=PROMPTS, uncaptured=0):
    """Efficient-tier usage rows with a capture each, `uncaptured` more without one, and a
    balanced-tier row that shadow must ignore."""
    ledger = Ledger(db)
    now = time.time()

    def write(tx):
        for text, mode in prompts:
            uid = tx.insert(USAGE_SQL, (now, "chat", "efficient", "kilo-auto/efficient", "deepseek/deepseek-v3.2",
                                        3000, 500, 100.0, 200, mode, "efficient", "debugging/bug_fixing", "low", 0.5))
            tx.insert(CAPTURE_SQL, (now, now + 86_400, uid, 1, "chat", mode, "efficient", "deepseek/deepseek-v3.2",
                                    None, None, text, None, 0, 3000))
        for _ in range(uncaptured):
            tx.insert(USAGE_SQL, (now, "messages", "efficient", "kilo-auto/efficient", "x", 1000, 100, 10.0, 200,
                                  "code", "efficient", "implementation/code_generation", "medium", 0.7))
        tx.insert(USAGE_SQL, (now, "chat", "balanced", "kilo-auto/balanced", "x", 10, 10, 10.0, 200, None, "mode",
                              None, None, None))

    ledger.run(write)
    ledger.close()
    return str(db)


@pytest.fixture
def db(tmp_path):
    return make_ledger(tmp_path / "autotier.db")


def cheapest_champion_pick(db):
    """The cheapest model the champion chooses for these requests."""
    from classifier import load

    config = load_config()
    replays, _ = replay(logged_requests(db, config), load(None), None, config, config)
    picked = Counter(r.champion.model for r in replays)
    return min(picked, key=lambda m: config.catalog[m].cost_usd(1000, 1000))


def write_table(path, change):
    table = json.loads((default_data_dir() / "accuracy" / "production.json").read_text())
    for model_id, entry in table["models"].items():
        for cell in [entry["overall"], *entry["cells"].values()]:
            cell["lower"] = change(model_id, cell["lower"])
    path.write_text(json.dumps(table))
    return path


def test_a_cheap_model_made_worse_loses_its_requests_at_a_higher_cost(db, tmp_path):
    cheap = cheapest_champion_pick(db)
    tables = write_table(tmp_path / "worse.json", lambda m, v: 0.05 if m == cheap else v)
    report = shadow(None, tables, db)
    o = report["overall"]
    assert report["n"] == len(PROMPTS) and report["skipped"] == {}  # the balanced row is not replayed
    assert o["changed"] > 0 and o["moves"] and all(m["from"] == cheap for m in o["moves"])
    assert sum(m["n"] for m in o["moves"]) == o["changed"]
    # Off the cheap model onto dearer ones that meet the bar (margin 0.06): cost rises, and
    # expected success stays within the bar (the next cheapest adequate model may sit a little
    # below the degraded model's old figure).
    assert o["cost_delta_usd"] > 0 and o["success_delta"] > -0.06
    assert o["candidate_cost_usd"] - o["champion_cost_usd"] == pytest.approx(o["cost_delta_usd"])
    assert set(report["per_tier"]) == {"efficient"} and report["per_tier"]["efficient"]["n"] == len(PROMPTS)
    assert sum(s["n"] for s in report["per_route_key"].values()) == len(PROMPTS)
    assert report["candidate"]["tables_sha256"] and report["candidate"]["classifier"] == "shipped"


def test_a_table_that_expects_less_everywhere_shows_a_success_drop(db, tmp_path):
    tables = write_table(tmp_path / "lower.json", lambda m, v: max(v - 0.1, 0.0))
    assert shadow(None, tables, db)["overall"]["success_delta"] < -0.05


def test_a_candidate_identical_to_the_champion_changes_nothing(db):
    from classifier.artefact import DEFAULT_ARTEFACT

    report = shadow(str(DEFAULT_ARTEFACT), None, db)
    o = report["overall"]
    assert o["n"] == len(PROMPTS) and o["changed"] == 0 and o["moves"] == []
    assert o["cost_delta_usd"] == 0 and o["success_delta"] == 0 and o["success_delta_by_champion"] == 0


def test_a_table_inflating_a_cheap_model_is_judged_by_the_champions_evidence(db, tmp_path):
    from router.tiers import EfficientTier
    from training.promotion import shadow_verdict

    config = load_config()
    tier = next(t for t in config.tiers.tiers.values() if isinstance(t, EfficientTier))
    cheap = min(tier.candidates, key=lambda m: config.catalog[m].cost_usd(1000, 1000))
    tables = write_table(tmp_path / "inflated.json", lambda m, v: 0.99 if m == cheap else v)
    report = shadow(None, tables, db)
    o = report["overall"]
    assert o["changed"] > 0 and all(m["to"] == cheap for m in o["moves"])
    # By its own table the candidate looks better and cheaper; by the champion's it is worse.
    assert o["cost_delta_usd"] < 0 and o["success_delta"] > 0
    assert o["success_delta_by_champion"] < 0
    assert o["candidate_expected_success_by_champion"] < o["candidate_expected_success"]
    for group in [*report["per_tier"].values(), *report["per_route_key"].values()]:
        assert group["success_delta_by_champion"] <= 0 < group["success_delta"]
    verdict = shadow_verdict(report, str(tables), max_success_drop=0.01)
    assert not verdict.promote and "by the champion's evidence" in verdict.reason


def test_a_config_without_an_efficient_tier_leaves_out_the_tier_clause(db):
    from router.tiers import EfficientTier
    from training.shadow import _undecided_clause

    assert _undecided_clause(0) == ""  # never `IN ()`, a syntax error in PostgreSQL
    assert _undecided_clause(2) == " OR (u.decided_by IS NULL AND u.tier IN (?, ?))"
    config = load_config()
    tiers = {n: t for n, t in config.tiers.tiers.items() if not isinstance(t, EfficientTier)}
    no_efficient = dataclasses.replace(config, tiers=config.tiers.model_copy(update={"tiers": tiers}))
    assert len(logged_requests(db, no_efficient)) == len(PROMPTS)  # still those the efficient tier decided


def test_requests_without_a_capture_replay_only_for_a_tables_candidate(tmp_path):
    from classifier.artefact import DEFAULT_ARTEFACT

    db = make_ledger(tmp_path / "a.db", PROMPTS[:3], uncaptured=2)
    assert shadow(None, None, db)["n"] == 5  # logged route key and difficulty
    report = shadow(str(DEFAULT_ARTEFACT), None, db)
    assert report["n"] == 3 and report["skipped"] == {"no capture (a candidate classifier needs the text)": 2}
    assert shadow(None, None, db, limit=2)["n"] == 2


def test_nothing_to_replay_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    Ledger(empty).close()
    with pytest.raises(ShadowError, match="no efficient-tier requests"):
        shadow(None, None, str(empty))
    assert main(["--db", str(empty), "--no-track"]) == 2
    assert "nothing_to_replay" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "missing.db"), "--no-track"]) == 2
    assert "no ledger at" in capsys.readouterr().err
    assert main(["--db", str(empty), "--since", "1", "--no-track"]) == 2
    assert "in the last 1 day(s)" in capsys.readouterr().err


def test_cli_prints_writes_json_and_logs_to_mlflow(db, tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cheap = cheapest_champion_pick(db)
    tables = write_table(tmp_path / "worse.json", lambda m, v: 0.05 if m == cheap else v)
    out = tmp_path / "shadow.json"
    assert main(["--db", db, "--tables", str(tables), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "top model moves" in printed and f"{cheap} ->" in printed and "tier efficient" in printed
    report = json.loads(out.read_text())
    assert report["n"] == len(PROMPTS) and report["overall"]["changed"] > 0

    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("autotier-shadow").experiment_id])
    assert run.data.params["candidate"] == str(tables) and run.data.params["n"] == str(len(PROMPTS))
    assert run.data.metrics["changed_share"] == pytest.approx(report["overall"]["changed_share"])
    assert run.data.metrics["cost_delta_usd"] > 0 and "success_delta" in run.data.metrics
    assert "success_delta_by_champion" in run.data.metrics
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["shadow.json"]


def test_the_lazy_command_is_registered():
    from router.cli import LAZY_COMMANDS

    assert LAZY_COMMANDS["shadow"] == "training.shadow:main"


def test_a_run_id_means_its_logged_classifier():
    from training.shadow import classifier_location

    assert classifier_location("0123456789abcdef0123456789abcdef") == "runs:/0123456789abcdef0123456789abcdef/classifier"
    assert classifier_location("models:/autotier-classifier/3") == "models:/autotier-classifier/3"


def test_a_candidate_named_by_its_mlflow_run_id(db, tmp_path, monkeypatch):
    import mlflow

    from classifier.artefact import DEFAULT_ARTEFACT
    from training.tracking import setup

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AUTOTIER_CACHE_DIR", str(tmp_path / "cache"))
    setup(uri)
    with mlflow.start_run() as run:  # as `autotier train` logs its artefact
        mlflow.log_artifacts(str(DEFAULT_ARTEFACT), artifact_path="classifier")
    report = shadow(run.info.run_id, None, db)
    assert report["candidate"]["run_id"] == run.info.run_id and report["overall"]["changed"] == 0
