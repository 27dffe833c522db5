"""The README's quick start, run line by line: `serve --demo` in the background, its funded
demo key, and answers for `kilo-auto/frontier` from the official openai and anthropic SDKs.

Only what a test must change is changed: the install line is skipped (this environment
has the packages), `.venv/bin/` is this interpreter's folder, and port 8080 a free port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tests.support.processes import RunningProcess, free_port, running_process

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _stop_group(pgid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after `timeout_s`."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)  # ProcessLookupError once every member is gone
            time.sleep(0.1)
        os.killpg(pgid, signal.SIGKILL)


def quick_start_lines() -> list[str]:
    """The commands of the README's first bash block (the one that starts `serve --demo`)."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    block = next(b for b in blocks if "serve --demo" in b)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_quick_start_gets_answers_from_both_sdks(tmp_path):
    lines = quick_start_lines()
    assert "pip install" in lines[0]
    port = str(free_port())
    bin_dir = str(Path(sys.executable).parent) + "/"
    script = "set -e\n" + "\n".join(
        line.replace(".venv/bin/", bin_dir).replace("8080", port).replace("serve --demo", f"serve --demo --port {port}")
        for line in lines[1:]) + "\n"
    log = tmp_path / "output.txt"  # a file: the background gateway keeps its stdout open
    with log.open("w") as out:
        proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True,
                                env={k: v for k, v in os.environ.items()
                                     if not k.startswith(("OPENAI_", "ANTHROPIC_", "AUTOTIER_"))})
    try:
        proc.wait(timeout=240)
    finally:
        _stop_group(proc.pid)  # the background gateway and its mock
    output = log.read_text()
    assert proc.returncode == 0, output
    answers = re.findall(r"^\[mock (\S+)\] hello$", output, re.M)
    assert answers == ["anthropic/claude-sonnet-4.6"] * 2, output  # frontier, no mode: Sonnet
    stored = (tmp_path / "autotier.db.demo-key").read_text().strip()
    printed = re.search(r"^export OPENAI_API_KEY=(at-\S+) OPENAI_BASE_URL=(\S+)$", output, re.M)
    assert printed and printed.groups() == (stored, f"http://127.0.0.1:{port}/v1"), output
    assert f"export ANTHROPIC_API_KEY={stored} ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in output
    assert f"export KILO_API_KEY={stored} KILO_API_URL=http://127.0.0.1:{port}" in output


def _output_with(proc: RunningProcess, text: str, timeout_s: float = 30.0) -> str:
    """The process's output once it contains `text` (or after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while text not in proc.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc.output()


def test_the_demo_key_is_reused_across_restarts(tmp_path):
    command = [sys.executable, "-m", "router.cli", "serve", "--demo", "--port", "0", "--workers", "1",
               "--db", str(tmp_path / "demo.db")]
    pattern = re.compile(r"gateway listening on (http://\S+)")
    keys = []
    for _ in range(2):
        with running_process(command, url_pattern=pattern, start_timeout_s=90) as proc:
            text = _output_with(proc, "export KILO_API_KEY=")  # the key lines follow the listening line
            keys.append(re.search(r"demo: API key (at-\S+) \((new|reused)", text).groups())
            proc.process.terminate()
            assert proc.process.wait(20) == 0
    assert keys[0][1] == "new" and keys[1] == (keys[0][0], "reused")
    assert (tmp_path / "demo.db.demo-key").read_text().strip() == keys[0][0]
