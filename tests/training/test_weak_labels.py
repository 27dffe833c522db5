import csv

import pytest

from training.weak_labels import main, math_difficulty


@pytest.mark.parametrize(("level", "want"), [(1, "low"), (2, "low"), (3, "medium"), (4, "high"), (5, "high")])
def test_math_levels(level, want):
    assert math_difficulty(level) == want


def test_weak_files_are_sampled_deterministically(tmp_path, data_root):
    assert main(["--out", str(tmp_path / "a"), "--debugbench", "60", "--math500", "40"]) == 0
    assert main(["--out", str(tmp_path / "b"), "--debugbench", "60", "--math500", "40"]) == 0
    for name in ("debugbench.csv", "math500.csv"):
        a = (tmp_path / "a" / name).read_text()
        assert a == (tmp_path / "b" / name).read_text()
    rows = list(csv.DictReader((tmp_path / "a" / "debugbench.csv").open()))
    assert 55 <= len(rows) <= 65
    assert {r["route_key"] for r in rows} == {"debugging/bug_fixing"}
    assert {r["label_method"] for r in rows} == {"weak"}
    assert {r["difficulty"] for r in rows} == {"low", "medium", "high"}
    maths = list(csv.DictReader((tmp_path / "a" / "math500.csv").open()))
    assert {r["route_key"] for r in maths} == {"investigation/external_research"}
    assert all(r["difficulty_method"] == "math_level" for r in maths)
