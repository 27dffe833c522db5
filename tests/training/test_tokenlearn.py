"""Tokenlearn fine-tuning of the static embedder (training/tokenlearn.py)."""

from __future__ import annotations

import json
import shutil

import numpy as np

from classifier.embedders import StaticEmbedder
from training.tokenlearn import DEFAULT_BASE, corpus_texts, student_vectors, train_table


def test_the_trained_quantity_is_what_the_embedder_serves(tmp_path):
    folder = tmp_path / "emb"
    folder.mkdir()
    shutil.copyfile(DEFAULT_BASE / "tokenizer.json", folder / "tokenizer.json")
    manifest = json.loads((DEFAULT_BASE / "embedder.json").read_text())
    rows = StaticEmbedder(DEFAULT_BASE)._table.shape[0]
    table = np.random.default_rng(0).normal(size=(rows, 16)).astype(np.float16)
    np.save(folder / "embeddings.npy", table)
    manifest.update(dim=16, sha256={})
    (folder / "embedder.json").write_text(json.dumps(manifest))
    embedder = StaticEmbedder(folder)
    texts = ["Add a docstring to add()", "Why does this raise KeyError?\n```py\nd['x']\n```", ""]
    served = embedder.embed(texts)
    trained_on = student_vectors(embedder._table, embedder.token_ids(texts))
    np.testing.assert_allclose(trained_on, served, atol=1e-5)
    assert not served[2].any()


def test_training_moves_the_table_towards_the_teacher_on_held_out_texts():
    rng = np.random.default_rng(1)
    vocab, dim = 200, 8
    hidden = rng.normal(size=(vocab, dim)).astype(np.float32)  # the "teacher" is a static model too
    ids = [rng.integers(0, vocab, size=rng.integers(3, 12)) for _ in range(1500)]
    targets = student_vectors(hidden, ids)
    start = hidden + rng.normal(scale=2.0, size=hidden.shape).astype(np.float32)
    table, record = train_table(start, ids, targets, epochs=6, lr=0.05, batch_size=64, log=lambda m: None)
    cosine = record["held_out_cosine"]
    assert table.shape == start.shape
    assert cosine["trained"] > cosine["rotated"]
    assert cosine["trained"] > 0.9 > float((student_vectors(start, ids) * targets).sum(1).mean())
    assert record["best_epoch"] >= 1


def test_the_corpus_holds_no_text_a_validation_row_is_embedded_from(data_root):
    from classifier.features import Featuriser
    from classifier.session import parse_request
    from training.tokenlearn import labelled_dataset

    dataset = labelled_dataset(data_root)
    texts, info = corpus_texts(data_root, mmlu_rows=0, dataset=dataset)
    featuriser = Featuriser()
    val = {t for e in dataset.val for t in featuriser.texts(parse_request(e.request)) if t.strip()}
    assert len(val) > 900 and info["validation_rows_left_out"] == len(dataset.val)
    assert not val & set(texts)
    assert info["texts_dropped_as_validation_text"] > 0  # CodeChat follow-ups carry validation prompts
    assert info["texts"] == len(texts) > 10_000


def test_the_supervised_term_makes_the_labels_linearly_readable():
    from sklearn.linear_model import LogisticRegression

    from training.tokenlearn import Labelled

    rng = np.random.default_rng(2)
    vocab, dim = 120, 8
    teacher = rng.normal(size=(vocab, dim)).astype(np.float32)
    ids = [rng.integers(0, vocab, size=rng.integers(3, 10)) for _ in range(800)]
    labelled_ids = [rng.integers(0, vocab, size=rng.integers(3, 10)) for _ in range(600)]
    y = np.array([int((x < 10).any()) for x in labelled_ids])  # a label the teacher's geometry ignores
    targets = student_vectors(teacher, ids)

    def probe(table: np.ndarray) -> float:
        x = student_vectors(table, labelled_ids)
        return LogisticRegression(max_iter=1000).fit(x[:400], y[:400]).score(x[400:], y[400:])

    kwargs = {"epochs": 6, "lr": 0.05, "batch_size": 64, "log": lambda m: None}
    start = teacher + rng.normal(scale=1.0, size=teacher.shape).astype(np.float32)
    plain, _ = train_table(start, ids, targets, **kwargs)
    tuned, record = train_table(start, ids, targets,
                                labelled=Labelled(labelled_ids[:400], [(y[:400], 2)], weight=1.0), **kwargs)
    assert record["supervised_weight"] == 1.0
    assert probe(tuned) > probe(plain) + 0.05
