import pytest

from classifier.errors import TaxonomyError
from classifier.taxonomy import load_taxonomy, parse_taxonomy

GOOD = """
task_types:
  - name: a
    description: A
    subtypes:
      - {name: x, description: X}
      - {name: y, description: Y}
difficulties:
  - {name: low, description: L}
  - {name: high, description: H}
"""


def test_repository_taxonomy_has_18_route_keys_and_3_levels():
    tax = load_taxonomy()
    assert len(tax.task_types) == 6
    assert all(len(t.subtypes) == 3 for t in tax.task_types)
    assert len(tax.route_keys) == 18 == len(set(tax.route_keys))
    assert tax.difficulty_names == ["low", "medium", "high"]
    assert "debugging/root_cause_analysis" in tax.route_keys
    assert tax.task_type_of("debugging/bug_fixing") == "debugging"


def test_labels_come_from_the_file():
    tax = parse_taxonomy(GOOD)
    assert tax.route_keys == ["a/x", "a/y"]
    assert tax.difficulty_names == ["low", "high"]
    assert len(tax.sha256) == 64


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[]", "top level must be a mapping"),
        ("task_types: []\ndifficulties: []", "task_types: must be a non-empty list"),
        (GOOD.replace("name: y", "name: x"), "subtypes: duplicate name 'x'"),
        (GOOD.replace("name: a", "name: A-b"), "task_types[0].name"),
        (GOOD.replace("description: X", "description: ''"), "subtypes[0].description"),
        (GOOD.replace("  - {name: high, description: H}\n", ""), "difficulties: must be a list"),
        ("task_types: [", "not valid YAML"),
    ],
)
def test_invalid_taxonomy_names_key_and_reason(text, fragment):
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(text, "my.yaml")
    assert fragment in str(err.value)
    assert str(err.value).startswith("my.yaml")
    assert err.value.code == "taxonomy_invalid"


def test_missing_file_is_a_taxonomy_error(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read taxonomy"):
        load_taxonomy(tmp_path / "nope.yaml")
