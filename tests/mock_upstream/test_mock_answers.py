"""`answers`: the mock replies with scripted text to requests whose latest user message
matches (evals against the mock answer some cases right and some wrong)."""

from __future__ import annotations

import httpx
import pytest

from router.mock_upstream.config import MockConfig, MockConfigError
from router.mock_upstream.replies import plan_reply
from router.mock_upstream.server import MockServer

ANSWERS = MockConfig.from_dict({"default": {"answers": [
    {"match": "capital of France", "text": "ANSWER: Paris"},
    {"match": "France", "text": "never: the first match wins"},
]}}).default.answers


def body(text: str) -> dict:
    return {"model": "m", "messages": [{"role": "system", "content": "capital of France"},
                                       {"role": "user", "content": text}]}


def test_the_first_matching_answer_is_the_text_and_others_quote():
    assert plan_reply("chat", "m", body("What is the capital of France?"), 1, (), ANSWERS).text == "ANSWER: Paris"
    assert plan_reply("chat", "m", body("Where is France?"), 1, (), ANSWERS).text == "never: the first match wins"
    # Only the latest user message is matched, not the system prompt.
    assert plan_reply("chat", "m", body("hello"), 1, (), ANSWERS).text == "[mock m] hello"


def test_a_bad_answer_names_the_key():
    with pytest.raises(MockConfigError, match="answers"):
        MockConfig.from_dict({"default": {"answers": [{"match": ""}]}})


def test_the_running_mock_answers_per_model():
    config = {"models": {"graded": {"answers": [{"match": "2+2", "text": "4"}]}}}
    with MockServer(MockConfig.from_dict(config)) as mock:
        for model, expected in (("graded", "4"), ("plain", "[mock plain] 2+2?")):
            reply = httpx.post(mock.url + "/v1/chat/completions", json={**body("2+2?"), "model": model},
                               timeout=10).json()
            assert reply["choices"][0]["message"]["content"] == expected
