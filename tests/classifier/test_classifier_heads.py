import numpy as np
import pytest

from classifier.errors import ArtefactError
from classifier.heads import Heads, LinearHead, softmax


def _head(k=3, d=4, t=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return LinearHead(rng.standard_normal((k, d)), rng.standard_normal(k), [f"c{i}" for i in range(k)], t)


def test_probabilities_sum_to_one_and_temperature_softens():
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    sharp, soft = _head(t=1.0), _head(t=4.0)
    p, q = sharp.predict_proba(x), soft.predict_proba(x)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(p.argmax(axis=1), q.argmax(axis=1))
    assert (q.max(axis=1) <= p.max(axis=1) + 1e-6).all()
    np.testing.assert_allclose(p, softmax(sharp.logits(x)), atol=1e-6)


def test_save_load_round_trip(tmp_path):
    heads = Heads(_head(18, 8, 1.3), _head(3, 8, 0.8, seed=2))
    heads.save(tmp_path / "heads.npz")
    back = Heads.load(tmp_path / "heads.npz")
    x = np.ones((2, 8), dtype=np.float32)
    np.testing.assert_allclose(back.route.predict_proba(x), heads.route.predict_proba(x), atol=1e-6)
    assert back.difficulty.labels == ["c0", "c1", "c2"]
    assert back.route.temperature == pytest.approx(1.3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearHead(np.zeros((3, 4)), np.zeros(2), ["a", "b", "c"]),
        lambda: LinearHead(np.zeros((3, 4)), np.zeros(3), ["a", "b"]),
        lambda: LinearHead(np.zeros((3, 4)), np.zeros(3), ["a", "b", "c"], temperature=0),
        lambda: Heads(_head(3, 4), _head(3, 5)),
    ],
)
def test_inconsistent_heads_are_rejected(make):
    with pytest.raises(ArtefactError):
        make()


def test_unreadable_heads_file(tmp_path):
    (tmp_path / "heads.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtefactError, match="cannot read heads"):
        Heads.load(tmp_path / "heads.npz")
