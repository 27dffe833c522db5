"""The `autotier mock-upstream` command, the in-process server, config files and the process helper."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from router.mock_upstream import MockConfig, MockConfigError, MockServer
from tests.support.processes import LISTENING_URL, ProcessStartError, running_process

CLI = [sys.executable, "-m", "router.cli", "mock-upstream", "--host", "127.0.0.1"]
CONFIG_YAML = """\
seed: 7
default: {latency_ms: 0}
models:
  flaky: {fail_next: 1, error_status: 429, retry_after_s: 3}
  "legacy-*": {unavailable: true}
"""


def test_cli_reads_a_yaml_config_and_prints_its_url(tmp_path: Path) -> None:
    path = tmp_path / "mock.yaml"
    path.write_text(CONFIG_YAML)
    with running_process([*CLI, "--port", "0", "--config", str(path)], url_pattern=LISTENING_URL) as proc:
        assert proc.output().startswith("mock-upstream listening on http://127.0.0.1:")
        config = httpx.get(proc.url + "/_mock/config").json()
        assert config["seed"] == 7 and config["models"]["legacy-*"]["unavailable"] is True
        first = httpx.post(proc.url + "/v1/chat/completions",
                           json={"model": "flaky", "messages": [{"role": "user", "content": "x"}]})
        assert first.status_code == 429 and first.headers["retry-after"] == "3"


@pytest.mark.parametrize(("text", "expected"), [
    ("models: {m: {error_rate: 1.5}}", "models.m.error_rate"),
    ("models: {m: {error_status: 418}}", "models.m.error_status"),
    ("models: {m: {latency: 5}}", "models.m.latency"),
    ("- not a mapping", "must be a mapping"),
])
def test_bad_config_files_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MockConfigError, match=expected):
        MockConfig.from_file(path)


def test_cli_exits_2_on_a_bad_config(tmp_path: Path) -> None:
    from router.cli import main

    path = tmp_path / "bad.json"
    path.write_text('{"default": {"error_rate": -1}}')
    assert main(["mock-upstream", "--config", str(path)]) == 2


def test_patterns_and_exact_keys() -> None:
    config = MockConfig.from_dict({"models": {"a-*": {"latency_ms": 1}, "a-exact": {}, "*": {"latency_ms": 2}}})
    assert [config.key_for(m) for m in ("a-exact", "a-1", "zzz")] == ["a-exact", "a-*", "*"]
    assert MockConfig().key_for("anything") == "default"


def test_helper_substitutes_a_free_port_and_polls_health() -> None:
    with running_process([*CLI, "--port", "{port}"], health_path="/healthz") as proc:
        assert httpx.get(proc.url + "/healthz").json() == {"status": "ok"}
    assert proc.process.poll() is not None


def test_helper_reports_output_when_the_command_dies() -> None:
    command = [sys.executable, "-c", "print('boom: no config'); raise SystemExit(3)"]
    with pytest.raises(ProcessStartError, match="exited with 3(.|\n)*boom: no config"), \
            running_process(command, url_pattern=LISTENING_URL, start_timeout_s=5):
        pass


def test_helper_stops_the_whole_process_group() -> None:
    script = 'sleep 300 & echo "child $!"; echo "listening on http://127.0.0.1:9"; wait'
    with running_process(["bash", "-c", script], url_pattern=LISTENING_URL) as proc:
        child = int(next(line for line in proc.lines if line.startswith("child")).split()[1])
        os.kill(child, 0)  # alive while the block runs
    deadline = time.monotonic() + 3
    while _alive(child):
        if time.monotonic() > deadline:
            pytest.fail(f"child {child} outlived its parent's group")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (killed, not yet reaped by its new parent) counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stop_is_prompt_with_a_request_hanging() -> None:
    with running_process([*CLI, "--port", "0"], url_pattern=LISTENING_URL) as proc:
        httpx.patch(proc.url + "/_mock/config", json={"models": {"m": {"timeout": True}}}).raise_for_status()
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        hanging = threading.Thread(target=lambda: pytest.raises(
            httpx.HTTPError, httpx.post, proc.url + "/v1/chat/completions", json=body, timeout=30), daemon=True)
        hanging.start()
        time.sleep(0.2)
        start = time.monotonic()
    assert time.monotonic() - start < 4.5
    hanging.join(5)


def test_in_process_server() -> None:
    with MockServer(MockConfig.from_dict({"models": {"m": {"unavailable": True}}})) as mock:
        reply = httpx.post(mock.url + "/v1/messages", json={"model": "m", "max_tokens": 5, "messages": []})
        assert reply.status_code == 404 and reply.json()["type"] == "error"
        ok = httpx.post(mock.url + "/chat/completions", json={"model": "n", "messages": [{"role": "user",
                                                                                          "content": "no /v1"}]})
        assert ok.json()["choices"][0]["message"]["content"] == "[mock n] no /v1"
