"""The official OpenAI and Anthropic SDKs against a real gateway process: the resolved
model per tier, mode and API kind, streaming and not."""

from __future__ import annotations

import anthropic
import openai
import pytest

from router import ApiKind, RouterState, RoutingRequest, load_config, route
from router.classification import LazyClassifier
from router.gateway import wire

MESSAGES = [{"role": "user", "content": "write a haiku about routers"}]

def efficient_pick(text: str) -> str:
    """What the efficient tier should pick for a Responses body: the same classifier and
    route() the gateway uses, run here in-process."""
    body = {"model": "kilo-auto/efficient", "input": text}
    prediction = LazyClassifier().predict(body)
    request = RoutingRequest("kilo-auto/efficient", api_kind=ApiKind.RESPONSES, classification=prediction,
                             estimated_prompt_tokens=wire.estimated_tokens(ApiKind.RESPONSES, body))
    return route(request, RouterState(load_config())).model


# (requested id, mode, API, needs an account, expected model)
CASES = [
    ("kilo-auto/frontier", "plan", "chat", True, "anthropic/claude-opus-4.7"),
    ("kilo-auto/frontier", "code", "chat", True, "anthropic/claude-sonnet-4.6"),
    ("kilo-auto/frontier", "ask", "responses", True, "anthropic/claude-opus-4.7"),
    ("kilo-auto/frontier", "code", "messages", True, "anthropic/claude-sonnet-4.6"),
    ("kilo-auto/balanced", None, "chat", True, "qwen/qwen3.6-plus"),
    ("kilo-auto/balanced", None, "responses", True, "openai/gpt-5.5"),
    ("kilo-auto/balanced", None, "messages", True, "anthropic/claude-sonnet-4.6"),
    ("kilo-auto/efficient", None, "responses", True, efficient_pick("hello")),
    ("kilo-auto/open", "plan", "chat", True, "moonshotai/kimi-k2.5"),
    ("kilo-auto/open", "code", "messages", True, "minimax/minimax-m2.7"),
    ("kilo-auto/small", None, "chat", True, "google/gemma-4-31b-it"),
    ("kilo-auto/small", None, "chat", False, "google/gemma-4-26b-a4b-it:free"),
    ("kilo/auto", "plan", "chat", True, "anthropic/claude-opus-4.7"),
    ("deepseek/deepseek-v3.2", None, "chat", True, "deepseek/deepseek-v3.2"),
]


def _ids(case: tuple) -> str:
    return f"{case[0]}-{case[1]}-{case[2]}-{'key' if case[3] else 'anon'}"


def _call(gateway, key: str, model: str, mode: str | None, api: str, stream: bool) -> tuple[str, str, str]:
    """(model field, x-autotier-model header, text) for one request through an SDK."""
    headers = {"x-kilocode-mode": mode} if mode else {}
    if api == "messages":
        client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, default_headers=headers)
        if stream:
            with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as s:
                text = "".join(s.text_stream)
                final = s.get_final_message()
            return final.model, final.model, text
        raw = client.messages.with_raw_response.create(model=model, max_tokens=64, messages=MESSAGES)
        msg = raw.parse()
        return msg.model, raw.headers["x-autotier-model"], msg.content[0].text
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=key, max_retries=0, default_headers=headers)
    if api == "responses":
        if stream:
            events = list(client.responses.create(model=model, input="hello", stream=True))
            done = [e for e in events if e.type == "response.completed"]
            assert done, [e.type for e in events]
            return done[0].response.model, done[0].response.model, done[0].response.output_text
        raw = client.responses.with_raw_response.create(model=model, input="hello")
        resp = raw.parse()
        return resp.model, raw.headers["x-autotier-model"], resp.output_text
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return chunks[0].model, chunks[-1].model, text
    raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    completion = raw.parse()
    return completion.model, raw.headers["x-autotier-model"], completion.choices[0].message.content


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_resolved_model_per_tier_mode_and_api(gateway, funded_key, mock_upstream, case, stream):
    requested, mode, api, needs_key, expected = case
    key = funded_key if needs_key else "anonymous"
    model, header_model, text = _call(gateway, key, requested, mode, api, stream)
    assert (model, header_model) == (expected, expected)
    assert f"[mock {expected}]" in text  # the mock upstream names the model it served
    assert mock_upstream.stats()["models"][expected]["requests"] >= 1


def test_free_tier_anonymous_all_apis(gateway, mock_upstream):
    free = {"nvidia/nemotron-3-ultra-550b-a55b:free", "stepfun/step-3.7-flash:free",
            "poolside/laguna-m.1:free", "google/gemma-4-26b-a4b-it:free"}
    for api in ("chat", "responses", "messages"):
        for stream in (False, True):
            model, _, _ = _call(gateway, "anonymous", "kilo-auto/free", "code", api, stream)
            assert model in free


def test_decision_params_reach_the_upstream(gateway, funded_key, mock_upstream):
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=funded_key, max_retries=0,
                           default_headers={"x-kilocode-mode": "plan"})
    client.chat.completions.create(model="kilo-auto/frontier", messages=MESSAGES)
    body = mock_upstream.last_request("anthropic/claude-opus-4.7")
    assert body["reasoning"] == {"effort": "medium"} and body["verbosity"] == "medium"
