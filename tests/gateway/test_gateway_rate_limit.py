"""The anonymous rate limit on free models, per client IP, X-Forwarded-For only from
trusted proxies."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import start_gateway

CHAT = {"model": "kilo-auto/free", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def limited(mock_upstream_process, tmp_path_factory):
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("limited"),
                       "--anonymous-per-hour", "3", "--trusted-proxy", "127.0.0.1/32") as handle:
        yield handle


def test_anonymous_free_requests_are_limited_per_ip(limited):
    ip = {"x-forwarded-for": "203.0.113.7"}
    for _ in range(3):
        assert limited.post("/v1/chat/completions", CHAT, headers=ip).status_code == 200
    r = limited.post("/v1/chat/completions", CHAT, headers=ip)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert 0 < int(r.headers["retry-after"]) <= 3600
    m = limited.post("/v1/messages", {**CHAT, "max_tokens": 8}, headers=ip)
    assert m.status_code == 429 and m.json()["error"]["type"] == "rate_limit_error"
    # another client behind the same trusted proxy has its own budget
    other = limited.post("/v1/chat/completions", CHAT, headers={"x-forwarded-for": "198.51.100.1, 203.0.113.9"})
    assert other.status_code == 200
    # an account is not limited
    key = limited.create_account(0.0)
    for _ in range(4):
        r = limited.post("/v1/chat/completions", CHAT, headers={**ip, "authorization": f"Bearer {key}"})
        assert r.status_code == 200


def test_forwarded_for_is_ignored_from_untrusted_peers(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--anonymous-per-hour", "2") as gw:
        for i in range(2):
            assert gw.post("/v1/chat/completions", CHAT, headers={"x-forwarded-for": f"10.0.0.{i}"}).status_code == 200
        r = gw.post("/v1/chat/completions", CHAT, headers={"x-forwarded-for": "10.0.0.99"})
        assert r.status_code == 429  # all three came from 127.0.0.1
