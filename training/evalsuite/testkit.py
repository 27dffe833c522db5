"""The sandbox side of the `unit_tests` grader: copied into the run folder as `evalsuite_kit.py`.

Run as `python -I -S evalsuite_kit.py <timeout_s>` in a fresh folder holding `solution.py`
(the answer's code) and `tests.py` (the case's checks), with the run's nonce on stdin (not in
argv or the environment, where the answer could read it). It reads the nonce and puts
/dev/null in place of stdin, limits itself (CPU, memory, file size, processes) before anything
of the answer runs, imports the solution, runs each top-level statement of the tests, and
writes one result line `@@evalsuite <nonce> {json}` to the stdout it had at start. Standard
library only.

Test-creation cases use `run_answer_tests`: it runs the answer's own test functions
against an implementation (the module file shipped with the case, or a source string
of a buggy variant). A minimal `pytest` stand-in (raises, approx, mark.parametrize,
param, fail, skip) is installed as `pytest`, since the real one is not importable here.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import math
import os
import re
import sys
import types
import unittest

MEMORY_BYTES = 1 << 30
FILE_BYTES = 16 << 20
EXTRA_TASKS = 16  # tasks (processes and threads) a run may add: memory <= (1 + 16) GiB


def limit_self(timeout_s: float) -> None:
    """Rlimits on this process (and what it forks): applied here, not in preexec_fn,
    because the grader may be called from several threads at once."""
    import resource

    cpu = int(math.ceil(timeout_s)) + 1
    for name, value in (("RLIMIT_CPU", cpu), ("RLIMIT_AS", MEMORY_BYTES), ("RLIMIT_FSIZE", FILE_BYTES),
                        ("RLIMIT_CORE", 0), ("RLIMIT_NOFILE", 256), ("RLIMIT_MSGQUEUE", 0)):
        _set(resource, name, value)
    if os.getuid() != 0:  # root ignores RLIMIT_NPROC; for others it counts every task of the user
        _set(resource, "RLIMIT_NPROC", _tasks_of_user() + EXTRA_TASKS)


def read_nonce() -> str:
    """The nonce the sandbox wrote on stdin (until EOF); stdin is /dev/null afterwards."""
    data = b""
    while len(data) < 256 and (chunk := os.read(0, 256)):
        data += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return data.decode("ascii", "replace").strip()


def _set(resource: types.ModuleType, name: str, value: int) -> None:
    try:
        soft, hard = resource.getrlimit(getattr(resource, name))
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(getattr(resource, name), (value, hard))
    except (AttributeError, ValueError, OSError):
        pass


def _tasks_of_user() -> int:
    uid, count = os.getuid(), 0
    try:
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.stat(f"/proc/{pid}").st_uid == uid:
                        count += len(os.listdir(f"/proc/{pid}/task"))
                except OSError:
                    continue
    except OSError:
        return 4096
    return count


# ---- the pytest stand-in ----------------------------------------------------------------

class _Skipped(Exception):
    pass


class _ExcInfo:
    def __init__(self) -> None:
        self.type: type | None = None
        self.value: BaseException | None = None


class _Raises:
    def __init__(self, expected: type | tuple, match: str | None) -> None:
        self.expected, self.match, self.info = expected, match, _ExcInfo()

    def __enter__(self) -> _ExcInfo:
        return self.info

    def __exit__(self, kind, value, tb) -> bool:
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None and not re.search(self.match, str(value)):
            raise AssertionError(f"{str(value)!r} does not match {self.match!r}")
        self.info.type, self.info.value = kind, value
        return True


class _Approx:
    def __init__(self, expected, rel: float | None, abs_: float | None) -> None:
        self.expected, self.rel, self.abs = expected, 1e-6 if rel is None else rel, 1e-12 if abs_ is None else abs_

    def _close(self, a, b) -> bool:
        return a == b or math.isclose(a, b, rel_tol=self.rel, abs_tol=self.abs)

    def __eq__(self, other) -> bool:
        if isinstance(self.expected, (list, tuple)):
            pairs = zip(other, self.expected, strict=False)
            return len(other) == len(self.expected) and all(self._close(a, b) for a, b in pairs)
        if isinstance(self.expected, dict):
            return other.keys() == self.expected.keys() and all(self._close(other[k], v)
                                                                for k, v in self.expected.items())
        return self._close(other, self.expected)

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"


class _Param(tuple):
    pass


class _Mark:
    @staticmethod
    def parametrize(names, values, ids=None, **_):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)

        def wrap(fn):
            fn.__dict__.setdefault("_evalsuite_params", []).insert(0, (names, list(values)))
            return fn
        return wrap

    def __getattr__(self, name):  # skip, xfail, slow, ...: recorded, not acted on (skip is)
        def mark(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:
                if name == "skip":
                    args[0]._evalsuite_skip = True
                return args[0]

            def wrap(fn):
                if name == "skip" or (name == "skipif" and args and args[0]):
                    fn._evalsuite_skip = True
                return fn
            return wrap
        return mark


def _raises(expected, *args, match=None, **kwargs):
    if args:
        with _Raises(expected, match) as info:
            args[0](*args[1:], **kwargs)
        return info
    return _Raises(expected, match)


def _skip(reason: str = "") -> None:
    raise _Skipped(reason)


def _fail(reason: str = "") -> None:
    raise AssertionError(reason)


pytest_shim = types.ModuleType("pytest")
pytest_shim.__dict__.update(
    raises=_raises, approx=lambda e, rel=None, abs=None: _Approx(e, rel, abs), mark=_Mark(),
    param=lambda *values, **_: _Param(values), skip=_skip, fail=_fail, fixture=lambda *a, **k: (a[0] if a and
                                                                                             callable(a[0]) else
                                                                                             (lambda f: f)))


# ---- running the answer's own tests (test-creation cases) ---------------------------------

def _calls(fn):
    """Argument sets for one test function: its parametrize marks expanded (product)."""
    layers = getattr(fn, "_evalsuite_params", [])
    if not layers:
        return [{}]
    expanded = []
    for names, values in layers:
        rows = []
        for v in values:
            v = tuple(v) if isinstance(v, _Param) or len(names) > 1 else (v,)
            rows.append(dict(zip(names, v, strict=False)))
        expanded.append(rows)
    return [dict(kv for part in combo for kv in part.items()) for combo in itertools.product(*expanded)]


def run_answer_tests(module: str, source: str | None = None, answer_path: str = "solution.py") -> tuple[int, int]:
    """Run the answer's test functions with `module` bound to the file `<module>.py` here, or to
    `source` when given (a buggy variant). Returns (tests run, tests failed); an answer that does
    not even load counts as one failed test."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[name]
    if source is not None:
        mod = types.ModuleType(module)
        exec(compile(source, f"<{module} variant>", "exec"), mod.__dict__)
        sys.modules[module] = mod
    else:
        __import__(module)
    with open(answer_path, encoding="utf-8") as f:
        code = f.read()
    ns: dict = {"__name__": "answer_tests"}
    try:
        exec(compile(code, answer_path, "exec"), ns)
    except BaseException:  # noqa: BLE001 - tests that cannot load against this variant fail
        return 1, 1
    ran = failed = 0
    for name, obj in list(ns.items()):
        if name.startswith("test") and isinstance(obj, types.FunctionType):
            for kwargs in _calls(obj):
                if getattr(obj, "_evalsuite_skip", False):
                    continue
                ran += 1
                failed += not _passes(functools.partial(obj, **kwargs))
        elif isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj is not unittest.TestCase:
            result = unittest.TestResult()
            suite = unittest.TestLoader().loadTestsFromTestCase(obj)
            suite.run(result)
            ran += result.testsRun
            failed += len(result.failures) + len(result.errors)
        elif isinstance(obj, type) and name.startswith("Test"):
            for attr in [a for a, v in vars(obj).items() if a.startswith("test") and callable(v)]:
                for kwargs in _calls(getattr(obj, attr)):
                    ran += 1
                    failed += not _passes(functools.partial(_method, obj, attr, kwargs))
    return ran, failed


def _method(cls, attr, kwargs):
    inst = cls()
    if hasattr(inst, "setup_method"):
        inst.setup_method(getattr(inst, attr))
    getattr(inst, attr)(**kwargs)


def _passes(call) -> bool:
    try:
        call()
    except _Skipped:
        return True
    except BaseException:  # noqa: BLE001 - any error is a failed test
        return False
    return True


# ---- the harness -------------------------------------------------------------------------

def _where(stmt: ast.stmt, source: str) -> str:
    text = (ast.get_source_segment(source, stmt) or "").splitlines()
    first = text[0].strip() if text else ""
    return f"line {stmt.lineno}: {first[:100]}"


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {text[0][:160]}" if text else "")


def main(timeout_s: float) -> int:
    nonce = read_nonce()
    out = os.dup(1)  # the result goes here even if the answer replaces or closes sys.stdout
    limit_self(timeout_s)
    sys.path.insert(0, os.getcwd())
    sys.modules["pytest"] = pytest_shim
    sys.modules["evalsuite_kit"] = sys.modules[__name__]
    with open("tests.py", encoding="utf-8") as f:
        source = f.read()
    result: dict = {"checks": 0, "passed": 0, "failures": []}
    ns: dict = {"__name__": "evalsuite_tests"}
    try:
        exec("from solution import *", ns)
    except BaseException as exc:  # noqa: BLE001
        result["failures"].append("solution does not import: " + _error(exc))
        result["fatal"] = True
    else:
        body = ast.parse(source, "tests.py").body
        checks = [any(isinstance(node, ast.Assert) for node in ast.walk(stmt)) for stmt in body]
        result["checks"] = sum(checks)
        for stmt, is_check in zip(body, checks, strict=True):
            try:
                exec(compile(ast.Module([stmt], []), "tests.py", "exec"), ns)
            except BaseException as exc:  # noqa: BLE001
                result["failures"].append(f"{_where(stmt, source)}: {_error(exc)}")
                if not is_check:  # a failed setup step makes the rest meaningless
                    result["fatal"] = True
                    break
            else:
                result["passed"] += is_check
    ok = not result["failures"]
    os.write(out, f"\n@@evalsuite {nonce} {json.dumps(result)}\n".encode())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1])))
