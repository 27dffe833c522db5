"""The plug-in in a real LiteLLM proxy (`litellm --config`) in front of the real mock upstream.

Model groups are named by catalog ids and point at the mock as `openai/<id>`; the open
tier's models are left out of the model_list on purpose. The proxy starts once for the
module (~10-20 s), hence `slow`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
import yaml

from router.config import load_config
from tests.support.mock_control import MockUpstreamHandle
from tests.support.processes import RunningProcess, running_process

pytestmark = pytest.mark.slow

MASTER_KEY = "sk-autotier-test"
NOT_ON_PROXY = frozenset({"moonshotai/kimi-k2.5", "minimax/minimax-m2.7", "deepseek/deepseek-v3.2"})
# The proxy from the interpreter running the tests (the project venv, `autotier[proxy]`).
LITELLM = str(Path(sys.executable).parent / "litellm")


def proxy_config(mock_v1: str) -> dict:
    models = [m.id for m in load_config().catalog if m.id not in NOT_ON_PROXY]
    return {
        "model_list": [
            {"model_name": m, "litellm_params": {"model": f"openai/{m}", "api_base": mock_v1, "api_key": "mock"}}
            for m in models
        ] + [
            # A placeholder group named by a virtual id (for LiteLLM's key checks and /v1/models):
            # the hook still routes it; were it called, the mock would answer as "placeholder".
            {"model_name": "kilo-auto/balanced",
             "litellm_params": {"model": "openai/placeholder", "api_base": mock_v1, "api_key": "mock"}},
        ],
        "litellm_settings": {"callbacks": "router.litellm_hook.proxy_handler_instance"},
        # A failure injected by one test must not leave a deployment cooling down for the next.
        "router_settings": {"disable_cooldowns": True},
    }


@pytest.fixture(scope="module")
def proxy(mock_upstream_process: MockUpstreamHandle, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[RunningProcess]:
    folder = tmp_path_factory.mktemp("litellm_proxy")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(proxy_config(mock_upstream_process.openai_base)))
    litellm = LITELLM if Path(LITELLM).exists() else "litellm"
    command = [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", "{port}"]
    env = {"LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    with running_process(command, health_path="/health/liveliness", env=env, cwd=str(folder),
                         start_timeout_s=120) as running:
        yield running


@pytest.fixture
def client(proxy: RunningProcess, mock_upstream: MockUpstreamHandle) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=proxy.url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=60) as sdk:
        yield sdk


def chat(client: openai.OpenAI, model: str, mode: str | None = None, text: str = "hi"):
    headers = {"x-kilocode-mode": mode, "x-kilocode-taskid": "task-1"} if mode else {}
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], extra_headers=headers)
    return raw.headers, raw.parse()


@pytest.mark.parametrize(("model", "mode", "expected"), [
    ("kilo-auto/frontier", "plan", "anthropic/claude-opus-4.7"),
    ("kilo-auto/frontier", "code", "anthropic/claude-sonnet-4.6"),
    ("kilo/auto", "architect", "anthropic/claude-opus-4.7"),
    ("kilo-auto/balanced", None, "qwen/qwen3.6-plus"),
    ("kilo-auto/small", None, "google/gemma-4-31b-it"),  # the master key has no budget limit: paid route
])
def test_virtual_model_resolves_to_a_model_group(client: openai.OpenAI, mock_upstream: MockUpstreamHandle,
                                                  model: str, mode: str | None, expected: str) -> None:
    headers, reply = chat(client, model, mode)
    assert headers["x-litellm-model-group"] == expected
    assert headers["x-autotier-model"] == expected
    assert reply.choices[0].message.content.startswith(f"[mock {expected}]")
    assert reply.model == model  # LiteLLM keeps the requested name in `model`
    assert mock_upstream.stats()["models"][expected]["requests"] == 1


def test_decision_params_reach_the_provider(client: openai.OpenAI, mock_upstream: MockUpstreamHandle) -> None:
    headers, _ = chat(client, "kilo-auto/frontier", "plan")
    assert headers["x-autotier-tier"] == "frontier" and "mode 'plan'" in headers["x-autotier-reason"]
    sent = mock_upstream.last_request("anthropic/claude-opus-4.7")
    assert sent["reasoning"] == {"effort": "medium"} and sent["verbosity"] == "medium"


def test_efficient_classifies_then_routes(client: openai.OpenAI) -> None:
    headers, reply = chat(client, "kilo-auto/efficient", text="This unit test fails with a KeyError; fix the parser")
    assert headers["x-autotier-tier"] == "efficient"
    assert "classified as" in headers["x-autotier-reason"]
    served = headers["x-litellm-model-group"]
    assert served == headers["x-autotier-model"] and served not in NOT_ON_PROXY
    assert reply.choices[0].message.content.startswith(f"[mock {served}]")


def test_fallback_chain_is_the_decisions(client: openai.OpenAI, mock_upstream: MockUpstreamHandle) -> None:
    mock_upstream.patch(**{"anthropic/claude-opus-4.7": {"unavailable": True}})
    headers, reply = chat(client, "kilo-auto/frontier", "plan")
    assert headers["x-autotier-model"] == "anthropic/claude-opus-4.7"  # what route() chose
    assert headers["x-litellm-model-group"] == "anthropic/claude-sonnet-4.6"  # its first fallback served
    assert reply.choices[0].message.content.startswith("[mock anthropic/claude-sonnet-4.6]")


def test_streaming(client: openai.OpenAI) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="kilo-auto/frontier", stream=True, messages=[{"role": "user", "content": "hello there"}],
        extra_headers={"x-kilocode-mode": "plan"},
    ) as raw:
        assert raw.headers["x-autotier-model"] == raw.headers["x-litellm-model-group"] == "anthropic/claude-opus-4.7"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert text.startswith("[mock anthropic/claude-opus-4.7]")


def test_unknown_tier_is_a_404_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        chat(client, "kilo-auto/xyz")
    assert "'kilo-auto/xyz'" in caught.value.message


def test_tier_without_configured_models_is_a_clear_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        chat(client, "kilo-auto/open", "code")
    assert "model_list" in caught.value.message and "catalog id" in caught.value.message
    body = caught.value.body
    assert isinstance(body, dict) and body["provider_specific_fields"] == {"autotier_code": "no_open_models_configured"}


def test_plain_model_group_is_left_to_litellm(client: openai.OpenAI) -> None:
    headers, reply = chat(client, "openai/gpt-5.4")
    assert headers["x-litellm-model-group"] == "openai/gpt-5.4" and "x-autotier-model" not in headers
    assert reply.choices[0].message.content.startswith("[mock openai/gpt-5.4]")


def test_anthropic_messages_client(proxy: RunningProcess, mock_upstream: MockUpstreamHandle) -> None:
    with anthropic.Anthropic(base_url=proxy.url, api_key=MASTER_KEY, max_retries=0, timeout=60) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="kilo-auto/balanced", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-autotier-model"] == raw.headers["x-litellm-model-group"] == "anthropic/claude-sonnet-4.6"
    assert raw.parse().content[0].text.startswith("[mock anthropic/claude-sonnet-4.6]")


def test_responses_client(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model="kilo-auto/balanced", input="hi")
    assert raw.headers["x-autotier-model"] == raw.headers["x-litellm-model-group"] == "openai/gpt-5.5"
    assert raw.parse().output_text.startswith("[mock openai/gpt-5.5]")

