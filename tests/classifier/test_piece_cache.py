"""The static embedder's piece cache gives the tokenizer's own ids, at a bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.artefact import DEFAULT_ARTEFACT, EMBEDDER_DIR
from classifier.embedders import StaticEmbedder
from classifier.runcache import PieceCache

TEXTS = [
    "Fix the KeyError in load_config() -- it fails on empty files!",
    "def f(x):\n    return {'a': x**2, \"b\": [1, 2, 3]}  # ok?\n",
    "Café naïve résumé: ünïcödé wörds, and 中文字符 with emoji 🚀 and Ω≈ç√",
    "[CLS] literal special tokens [SEP] inside [PAD] text [UNK] [MASK]",
    "snake_case_names camelCaseNames kebab-case-names path/to/file.py:42 0x1F2e",
    "tabs\tand\nnewlines\r\n and   spaces\u00a0nbsp\u2003em-space",
    "word " * 700,  # past 512 tokens: truncation before dropping special tokens
    "",
]


@pytest.fixture(scope="module")
def pair() -> tuple[StaticEmbedder, StaticEmbedder]:
    folder = DEFAULT_ARTEFACT / EMBEDDER_DIR
    return StaticEmbedder(folder), StaticEmbedder(folder, piece_cache=False)


@pytest.mark.parametrize("text", TEXTS)
def test_same_ids_and_vectors_as_the_tokenizer(pair, text):
    cached, plain = pair
    for _ in range(2):  # cold, then from the cache
        assert np.array_equal(cached.token_ids([text])[0], plain.token_ids([text])[0])
    np.testing.assert_array_equal(cached.embed([text]), plain.embed([text]))


def test_the_cache_is_bounded_and_starts_over_when_full(pair):
    _, plain = pair
    cache = PieceCache(plain._tokenizer, plain._keep, max_entries=50)
    words = " ".join(f"w{i}" for i in range(40))
    first = cache.ids(words, 512)
    assert len(cache) == 40
    more = " ".join(f"v{i}" for i in range(30))
    second = cache.ids(more, 512)
    assert len(cache) <= 50
    assert np.array_equal(second, plain.token_ids([more])[0])
    assert np.array_equal(cache.ids(words, 512), first)
