"""Bad input never gets a 5xx: hand-made malformed bodies per API (answered in that API's
error shape) and a bounded schemathesis run over the app's own OpenAPI schema."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.gateway.conftest import start_gateway

OPENAI_PATHS = ["/v1/chat/completions", "/api/openrouter/chat/completions", "/v1/responses",
                "/api/gateway/responses"]
ANTHROPIC_PATHS = ["/v1/messages", "/api/gateway/v1/messages"]

MALFORMED = [
    (b"{not json", "application/json", 400),
    (b"", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 400),
    (b'"just a string"', "application/json", 400),
    (b'{"model": 42, "messages": [], "input": "x", "max_tokens": 1}', "application/json", 400),
    (b'{"model": "kilo-auto/free", "messages": "hi", "input": 7, "max_tokens": "many"}', "application/json", 400),
    (b'{"model": "kilo-auto/free", "messages": [1], "input": [1], "max_tokens": 5}', "application/json", 400),
    (b'{"model": "kilo-auto/free", "stream": "yes", "messages": [{"role": "user", "content": "x"}],'
     b' "input": "x", "max_tokens": 5}', "application/json", 400),
    (b'{"model": "no/such-model", "messages": [{"role": "user", "content": "x"}], "input": "x",'
     b' "max_tokens": 5}', "application/json", 404),
    (b"model=kilo-auto/free", "application/x-www-form-urlencoded", 415),
    (b"\xff\xfe\x00garbage", "application/json", 400),
    (b"[" * 100_000, "application/json", 400),
]


@pytest.mark.parametrize("path", OPENAI_PATHS + ANTHROPIC_PATHS)
@pytest.mark.parametrize("raw, content_type, status", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies(gateway, path, raw, content_type, status):
    r = httpx.post(gateway.url + path, content=raw, headers={"content-type": content_type}, timeout=10)
    assert r.status_code == status, r.text
    body = r.json()
    if path in ANTHROPIC_PATHS:
        assert body["type"] == "error" and body["error"]["message"]
    else:
        assert body["error"]["message"] and body["error"]["code"]
    assert "Traceback" not in r.text


def test_oversized_body_is_413(gateway):
    big = b'{"messages": [{"role": "user", "content": "' + b"x" * (5 * 1024 * 1024) + b'"}]}'
    r = httpx.post(gateway.url + "/v1/chat/completions", content=big,
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_unknown_path_and_method_keep_the_error_shape(gateway):
    r = httpx.get(gateway.url + "/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(gateway.url + "/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()
    r = httpx.get(gateway.url + "/v1/messages")
    assert r.json()["type"] == "error"


@pytest.fixture(scope="module")
def fuzz_gateway(mock_upstream_process, tmp_path_factory):
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("fuzz"),
                       "--anonymous-per-hour", "1000000") as handle:
        yield handle


def test_fuzz_openapi_no_server_errors(fuzz_gateway):
    """Every operation of /openapi.json, a dozen generated cases each (~20 s)."""
    schema = schemathesis.openapi.from_url(fuzz_gateway.url + "/openapi.json")
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def check(case):
            response = case.call(base_url=fuzz_gateway.url, timeout=30)
            if response.status_code >= 500:
                failures.append((case.operation.label, response.status_code, response.text[:200]))

        check()
    assert not failures, (failures[:5], fuzz_gateway.process.output()[-4000:])
