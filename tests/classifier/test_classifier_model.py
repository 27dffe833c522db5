"""The serving classifier: predictions, artefact round trip, import hygiene."""

import json
import subprocess
import sys

import numpy as np
import pytest

from classifier import load
from classifier.artefact import DEFAULT_ARTEFACT
from classifier.errors import ArtefactError, RequestError


def test_prediction_is_consistent(toy_classifier, taxonomy):
    p = toy_classifier.predict({"prompt": "fix the crash in the uploader"})
    assert p.route_key == f"{p.task_type}/{p.subtype}"
    assert p.route_key in taxonomy.route_keys
    assert p.difficulty in taxonomy.difficulty_names
    assert sum(p.route_probs.values()) == pytest.approx(1, abs=1e-5)
    assert sum(p.difficulty_probs.values()) == pytest.approx(1, abs=1e-5)
    assert p.confidence == pytest.approx(p.route_probs[p.route_key])
    type_prob = sum(v for k, v in p.route_probs.items() if k.startswith(p.task_type + "/"))
    assert p.task_type_probs[p.task_type] == pytest.approx(type_prob, abs=1e-5)
    assert p.task_type_probs[p.task_type] == max(p.task_type_probs.values())
    assert set(p.to_dict()) >= {
        "task_type",
        "subtype",
        "route_key",
        "difficulty",
        "confidence",
        "route_probs",
        "difficulty_probs",
    }


def test_toy_classes_are_learned(toy_classifier):
    assert toy_classifier.predict({"prompt": "fix the crash in parser"}).task_type == "debugging"
    assert toy_classifier.predict({"prompt": "add docstrings to cache"}).task_type == "refactoring"


def test_all_shapes_predict_and_batch_matches_single(toy_classifier):
    reqs = [
        {"prompt": "what is a queue in python"},
        {"messages": [{"role": "user", "content": "what is a queue in python"}], "mode": "ask"},
        {"input": "what is a queue in python", "instructions": "be brief"},
        {"system": "agent", "messages": [{"role": "user", "content": [{"type": "text", "text": "design a cache"}]}]},
    ]
    many = toy_classifier.predict_many(reqs, batch_size=3)
    for req, p in zip(reqs, many, strict=True):
        one = toy_classifier.predict(req)
        assert one.route_key == p.route_key
        assert one.confidence == pytest.approx(p.confidence, abs=1e-5)


def test_request_without_user_text_raises(toy_classifier):
    with pytest.raises(RequestError):
        toy_classifier.predict({"messages": [{"role": "system", "content": "x"}]})


def _export(tmp_path, clf, taxonomy):
    from training.export import write_artefact

    return write_artefact(tmp_path / "art", clf.heads, clf.featuriser, taxonomy, clf.embedder, {"dataset_sha256": "x"})


def test_artefact_round_trip(tmp_path, toy_classifier, taxonomy, hashing_embedder_cls):
    HashingEmbedder = hashing_embedder_cls
    folder = _export(tmp_path, toy_classifier, taxonomy)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["embedder"]["name"] == "test-hashing-32"
    assert manifest["taxonomy_sha256"] == taxonomy.sha256
    clf = load(folder, embedder=HashingEmbedder())
    req = {"prompt": "design a scalable login service"}
    a, b = clf.predict(req), toy_classifier.predict(req)
    assert a.route_key == b.route_key
    assert a.confidence == pytest.approx(b.confidence, abs=1e-5)


def test_artefact_errors_name_the_problem(tmp_path, toy_classifier, taxonomy, hashing_embedder_cls):
    HashingEmbedder = hashing_embedder_cls
    with pytest.raises(ArtefactError, match="no manifest.json"):
        load(tmp_path / "missing")
    folder = _export(tmp_path, toy_classifier, taxonomy)

    class Other(HashingEmbedder):
        name = "other"

    with pytest.raises(ArtefactError, match="trained with embedder"):
        load(folder, embedder=Other())
    (folder / "taxonomy.yaml").write_text((folder / "taxonomy.yaml").read_text() + "\n# edited\n")
    with pytest.raises(ArtefactError, match="hash differs"):
        load(folder, embedder=HashingEmbedder())


def test_heads_wider_than_features_are_rejected(toy_classifier, taxonomy):
    from classifier.features import Featuriser
    from classifier.model import Classifier

    with pytest.raises(ArtefactError, match="features"):
        Classifier(toy_classifier.embedder, toy_classifier.heads, Featuriser(bow_dim=8), taxonomy)


def test_serving_imports_no_training_dependency():
    code = (
        "import sys, classifier, classifier.cli\n"
        "from classifier import load, Featuriser\n"
        "Featuriser()({'prompt': 'x'})\n"
        "bad = [m for m in ('torch', 'sklearn', 'mlflow', 'sentence_transformers', 'training')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_numpy_heads_match_matrix_product(toy_classifier):
    x = toy_classifier.features([{"prompt": "rename variables in socket"}])
    rp, _ = toy_classifier.predict_proba(x)
    h = toy_classifier.heads.route
    z = (x @ h.weight.T + h.bias) / h.temperature
    z = np.exp(z - z.max())
    np.testing.assert_allclose(rp, z / z.sum(), atol=1e-5)


@pytest.mark.skipif(
    not (DEFAULT_ARTEFACT / "manifest.json").is_file(),
    reason="no trained default artefact (autotier train --export classifier/artefacts/default)",
)
def test_shipped_default_artefact_loads_small_and_fast():
    import time

    size = sum(p.stat().st_size for p in DEFAULT_ARTEFACT.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024
    clf = load()
    assert clf.manifest["dataset_sha256"] and clf.manifest["git_commit"]
    shapes = [
        {"prompt": "Fix the KeyError in config loading"},
        {"messages": [{"role": "user", "content": "Fix the KeyError in config loading"}], "mode": "debug"},
        {"input": [{"role": "user", "content": [{"type": "input_text", "text": "Fix the KeyError"}]}]},
        {"system": "agent", "messages": [{"role": "user", "content": [{"type": "text", "text": "Fix the KeyError"}]}]},
    ]
    for req in shapes:
        p = clf.predict(req)
        assert p.route_key in clf.route_keys and 0 < p.confidence <= 1
    t0 = time.perf_counter()
    for _ in range(200):
        clf.predict(shapes[0])
    assert (time.perf_counter() - t0) / 200 < 0.02  # generous: shared CI machines are noisy
