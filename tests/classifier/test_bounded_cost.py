"""The text a request costs is bounded: a 400k-character agent request sends no more
characters to the tokenizer than a short prompt with the same latest turn could."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import load
from classifier.features import Featuriser
from classifier.model import Classifier
from training.shapes import wrap

LONG_TURN = ("The retry loop in fetch() swallows the last exception, please fix it.\n"
             + "    value = compute(value) + offset  # noise\n" * 9000)  # ~400k characters


class CountingEmbedder:
    """Wraps an embedder and counts the characters it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.chars = 0
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        self.chars += sum(len(t) for t in texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def shipped():
    return load()


def big_agent_request() -> dict:
    request = wrap(LONG_TURN, "chat_mid", mode="code", first_task="x " * 100_000, tool_turns=20)
    system = request["messages"][0]
    system["content"] = [{"type": "text", "text": system["content"][0]["text"] * 5}]  # ~70k characters
    return request


def test_a_400k_character_request_tokenizes_a_bounded_amount(shipped):
    request = big_agent_request()
    assert len(str(request)) > 400_000
    counting = CountingEmbedder(shipped.embedder)
    featuriser = Featuriser()
    clf = Classifier(counting, shipped.heads, shipped.featuriser, shipped.taxonomy)
    clf.featuriser = featuriser
    features = featuriser(request)
    x_big = np.concatenate([counting.embed([t]) for t in features.texts if t], axis=0)
    assert x_big.shape[1] == shipped.embedder.dim
    assert counting.chars <= featuriser.max_tokenized_chars
    assert featuriser.max_tokenized_chars < 3000
    assert len(features.texts[0]) <= featuriser.max_chars + 5 and len(features.texts[1]) <= featuriser.context_chars + 5


def test_the_shipped_classifier_embeds_no_more_than_its_bound(shipped):
    counting = CountingEmbedder(shipped.embedder)
    clf = Classifier(counting, shipped.heads, shipped.featuriser, shipped.taxonomy)
    big = clf.predict(big_agent_request())
    assert counting.calls == 1 and counting.chars <= shipped.featuriser.max_tokenized_chars
    assert big.route_key


def test_parse_keeps_only_the_head_and_tail_of_a_huge_turn():
    from classifier.session import PARSE_CHARS, parse_request

    s = parse_request(big_agent_request())
    assert s.latest_chars >= len(LONG_TURN)
    assert len(s.latest_user) <= PARSE_CHARS + 5 and s.latest_user.startswith("The retry loop")
    assert len(s.first_user) <= PARSE_CHARS + 5 and s.n_tool_results >= 20
