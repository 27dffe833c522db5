"""`kilo-auto/efficient` live in the gateway: classified per request, explained by
POST /v1/route, served through LiteLLM in all three API shapes, sticky per session."""

from __future__ import annotations

import uuid

import pytest

from router import load_config
from router.classification import LazyClassifier

PLAN = ("Design the architecture for splitting our monolith's billing module into a separate service: "
        "data ownership, the API contract between them, and how we migrate without downtime.")
RENAME = "Rename the variable `tmp` to `total` in this function:\n\ndef f(xs):\n    tmp = 0\n    for x in xs:\n" \
         "        tmp += x\n    return tmp"
CANDIDATES = set(load_config().tiers.tiers["efficient"].candidates)
CLASSIFIER = LazyClassifier()


def chat(text: str) -> dict:
    return {"model": "kilo-auto/efficient", "messages": [{"role": "user", "content": text}]}


def test_route_endpoint_shows_the_classification_and_the_scores(gateway):
    plan = gateway.post("/v1/route", chat(PLAN)).json()
    rename = gateway.post("/v1/route", chat(RENAME)).json()
    for decision in (plan, rename):
        assert decision["tier"] == "efficient" and decision["model"] in CANDIDATES
        details = decision["details"]
        ranked = details["candidates"]
        assert ranked[0]["model"] == decision["model"]
        assert {c["model"] for c in ranked} == CANDIDATES
        cheaper_adequate = [c for c in ranked if c["adequate"] and c["cost_usd"] < ranked[0]["cost_usd"]]
        assert not cheaper_adequate
        assert any("expected accuracy" in line and "runner-up" in line for line in decision["reason"])
    # The gateway reports what the shipped classifier says about the same body.
    for text, decision in ((PLAN, plan), (RENAME, rename)):
        expected = CLASSIFIER.predict(chat(text))
        assert decision["details"]["classification"]["route_key"] == expected.route_key
        assert decision["details"]["classification"]["difficulty"] == expected.difficulty


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", chat(RENAME)),
    ("/v1/responses", {"model": "kilo-auto/efficient", "input": RENAME}),
    ("/v1/messages", {**chat(RENAME), "max_tokens": 64}),
])
def test_efficient_requests_are_served_in_every_api(gateway, funded_key, path, body):
    r = gateway.post(path, body, headers={"authorization": f"Bearer {funded_key}"})
    assert r.status_code == 200, r.text
    assert r.headers["x-autotier-tier"] == "efficient"
    assert r.headers["x-autotier-model"] in CANDIDATES
    expected = CLASSIFIER.predict({"messages": [{"role": "user", "content": RENAME}]})
    assert f"classified as {expected.route_key}" in r.headers["x-autotier-reason"]


def test_a_session_stays_on_its_model(gateway, funded_key):
    session = f"s-{uuid.uuid4()}"
    headers = {"authorization": f"Bearer {funded_key}", "x-kilocode-taskid": session}
    first = gateway.post("/v1/chat/completions", chat(RENAME), headers=headers)
    second = gateway.post("/v1/route", chat(RENAME + "\nAlso rename `x` to `value`."), headers=headers).json()
    assert first.status_code == 200
    assert second["model"] == first.headers["x-autotier-model"]
    assert any("previous turn" in line for line in second["reason"])


def test_a_request_without_user_text_still_routes(gateway):
    body = {"model": "kilo-auto/efficient", "messages": [{"role": "system", "content": "You are terse."}]}
    decision = gateway.post("/v1/route", body).json()
    assert decision["tier"] == "efficient" and decision["details"]["classification"] is None
    assert any("no classification" in line for line in decision["reason"])
