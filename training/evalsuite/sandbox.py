"""Run an answer's Python code against a case's checks in a separate, limited process.

Best effort, not a security boundary: a fresh temporary folder as cwd, `python -I -S`
(no user site, no site-packages, no PYTHON* variables), an environment of PATH and a
locale only, stdin closed, its own session (the whole process group is killed on
timeout), and rlimits the child sets on itself before the answer runs (`testkit.py`).
There is no network or filesystem isolation: run suites from untrusted sources in a
container. See data/eval_suite/README.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KIT = Path(__file__).with_name("testkit.py")
RESERVED = {"solution.py", "tests.py", "evalsuite_kit.py", "stdout.txt", "stderr.txt"}
FILE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.(py|txt|json|csv|yaml|cfg|ini|md)$")
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class RunResult:
    passed: bool
    checks: int  # top-level test statements that hold an assert
    checks_passed: int
    detail: str


def bad_file_name(name: object) -> str | None:
    """Why `name` cannot be an extra file of a unit_tests case (None when it can)."""
    if not isinstance(name, str) or not FILE_NAME.match(name):
        return f"{name!r} must be a plain file name such as helpers.py"
    if name in RESERVED:
        return f"{name!r} is reserved by the sandbox"
    return None


def run_python(solution: str, tests: str, *, files: Mapping[str, str] | None = None,
               timeout_s: float = 10.0) -> RunResult:
    """Write solution.py, tests.py and `files` into a fresh folder and run the tests there."""
    nonce = secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="evalsuite-") as tmp:
        folder = Path(tmp)
        (folder / "solution.py").write_text(solution, encoding="utf-8")
        (folder / "tests.py").write_text(tests, encoding="utf-8")
        (folder / "evalsuite_kit.py").write_text(KIT.read_text(encoding="utf-8"), encoding="utf-8")
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")
        # Output goes to files, not pipes: RLIMIT_FSIZE then caps a reply that prints forever.
        with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "evalsuite_kit.py", nonce, str(timeout_s)],
                cwd=folder, env=dict(ENV, HOME=tmp, TMPDIR=tmp), stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, start_new_session=True, close_fds=True)
            try:
                code = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return RunResult(False, 0, 0, f"timed out after {timeout_s:g}s")
            finally:
                _kill_group(proc)  # whatever it forked and left behind
        stdout = _tail(folder / "stdout.txt")
        stderr = _tail(folder / "stderr.txt")
    return _read(stdout, stderr, code, nonce)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(path: Path, limit: int = 64 << 10) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - limit))
        return f.read().decode("utf-8", "replace")


def _read(stdout: str, stderr: str, code: int, nonce: str) -> RunResult:
    marker = f"@@evalsuite {nonce} "
    lines = [ln for ln in stdout.splitlines() if ln.startswith(marker)]
    if not lines:
        why = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
        return RunResult(False, 0, 0, f"{why} before the tests finished" + (f": {last[:200]}" if last else ""))
    result = json.loads(lines[-1][len(marker):])
    checks, passed, failures = result["checks"], result["passed"], result["failures"]
    if code == 0 and not failures:
        return RunResult(True, checks, passed, f"{passed} of {checks} checks passed")
    head = f"{passed} of {checks} checks passed" if not result.get("fatal") or checks else "failed"
    return RunResult(False, checks, passed, f"{head}; {failures[0]}" if failures else f"{head}; exit {code}")
