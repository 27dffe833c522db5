"""`autotier serve --workers 2` with no Redis: two worker processes on one port share the
anonymous rate limit, cooldowns and sessions (SQLite live-state file next to the ledger),
and the parent stops them together.

Each test holds one keep-alive connection to each worker (found through `/readyz`'s
`pid`), so it knows which process answers every request."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import GatewayHandle, start_gateway

CHAT = {"messages": [{"role": "user", "content": "hello"}]}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workers(mock_upstream_process, tmp_path_factory) -> Iterator[GatewayHandle]:
    folder = tmp_path_factory.mktemp("workers")
    with start_gateway(mock_upstream_process, folder, "--workers", "2", "--anonymous-per-hour", "5",
                       "--cooldown-after", "1", "--trusted-proxy", "127.0.0.1/32") as handle:
        yield handle


class Worker:
    """One keep-alive connection, hence one worker process."""

    def __init__(self, client: httpx.Client, pid: int):
        self.client, self.pid = client, pid

    def post(self, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
        return self.client.post(path, json=body, headers=headers or {})

    def still_same(self) -> bool:
        return self.client.get("/readyz").json()["pid"] == self.pid


def _one_connection_each(url: str, n: int = 2, attempts: int = 200) -> list[Worker]:
    found: dict[int, Worker] = {}
    for _ in range(attempts):
        client = httpx.Client(base_url=url, timeout=30.0, limits=httpx.Limits(max_connections=1))
        ready = client.get("/readyz").json()
        if ready["pid"] in found:
            client.close()
        else:
            assert ready["live_state"] == "sqlite"
            found[ready["pid"]] = Worker(client, ready["pid"])
        if len(found) == n:
            return list(found.values())
    raise AssertionError(f"only {len(found)} of {n} workers answered {attempts} new connections")


@pytest.fixture
def pair(workers) -> Iterator[list[Worker]]:
    both = _one_connection_each(workers.url)
    yield both
    for worker in both:
        assert worker.still_same()  # the connection was not re-opened to the other worker
        worker.client.close()


def _away_from_window_edge(window_s: float = 3600.0, margin_s: float = 10.0) -> None:
    left = (math.floor(time.time() / window_s) + 1) * window_s - time.time()
    if left < margin_s:
        time.sleep(left + 0.5)


def test_one_anonymous_limit_across_two_workers(pair):
    _away_from_window_edge()
    headers = {"x-forwarded-for": "203.0.113.77"}
    statuses = [(i % 2, pair[i % 2].post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/free"},
                                         headers).status_code) for i in range(12)]
    # Per-process counters would let 5 through each worker (10 in all).
    assert [s for _, s in statuses] == [200] * 5 + [429] * 7, statuses
    assert {w for w, s in statuses if s == 429} == {0, 1}  # both refuse once the shared limit is spent


def test_a_cooldown_in_one_worker_is_seen_by_the_other(workers, pair, mock_upstream):
    model = "x-ai/grok-code-fast-1"
    auth = {"authorization": f"Bearer {workers.create_account(10.0)}"}
    mock_upstream.patch(**{model: {"fail_next": 1, "fail_next_status": 429, "retry_after_s": 120}})
    first = pair[0].post("/v1/chat/completions", {**CHAT, "model": model}, auth)
    assert first.status_code == 503 and first.json()["error"]["code"] == "upstream_unavailable"
    deadline = time.monotonic() + 10
    while True:  # /v1/route never calls the provider: poll until the other worker has the cooldown
        explained = pair[1].post("/v1/route", {**CHAT, "model": model}, auth)
        if explained.status_code == 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert explained.json()["error"]["code"] == "model_cooling_down"
    second = pair[1].post("/v1/chat/completions", {**CHAT, "model": model}, auth)
    assert second.status_code == 503 and second.json()["error"]["code"] == "model_cooling_down"
    assert 100 <= int(second.headers["retry-after"]) <= 120
    assert mock_upstream.stats()["models"][model]["requests"] == 1  # nobody called it again


def test_a_session_keeps_its_model_across_workers(workers, pair, mock_upstream):
    auth = {"authorization": f"Bearer {workers.create_account(10.0)}"}
    first = pair[0].post("/v1/chat/completions", {**CHAT, "model": "kilo-auto/frontier"},
                         {**auth, "x-kilocode-mode": "plan", "x-kilocode-taskid": "w-sess-a"})
    assert first.json()["model"] == "anthropic/claude-opus-4.7"
    # The other worker knows what served the previous turn: Claude's reasoning is stripped
    # before qwen; an unknown session keeps it.
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "hello", "reasoning_content": "claude thoughts"},
               {"role": "user", "content": "go on"}]
    for session, stripped in (("w-sess-a", True), ("w-sess-unknown", False)):
        r = pair[1].post("/v1/chat/completions", {"model": "kilo-auto/balanced", "messages": history},
                         {**auth, "x-kilocode-taskid": session})
        assert r.status_code == 200
        sent = mock_upstream.last_request("qwen/qwen3.6-plus")["messages"]
        assert ("reasoning_content" not in sent[1]) is stripped, session


def test_a_dead_worker_stops_the_server_and_is_not_restarted(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--workers", "2") as gw:
        victim, survivor = _one_connection_each(gw.url)
        os.kill(victim.pid, signal.SIGKILL)
        assert gw.process.process.wait(30) == 1
        output = gw.process.output()
        assert "exited with status -9 while serving; stopping the others (workers are not restarted)" in output
        with pytest.raises(ProcessLookupError):
            os.kill(survivor.pid, 0)  # stopped and reaped by the parent
        assert output.count("listening on") == 1
