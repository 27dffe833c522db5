"""Opt-in request capture (issue 15): off by default; when on, only the user's own text is
kept (never the system prompt, tool results or environment details), redacted, with the
operator's hook applied, the session's first text only on request, and deleted once expired."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from router.gateway.accounts import Ledger
from router.gateway.capture import CapturePolicy, load_hook, redact
from tests.gateway.conftest import start_gateway
from tests.support.processes import wait_for
from training.shapes import wrap

SECRETS = [
    ("my key is sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4", "sk-proj-A1b2", "[REDACTED_KEY]"),
    ("gateway key at-AsEk5kINKrAOoGZlkV_XizJzzoYoBqN3Oy_8Hu2duzE works", "at-AsEk5", "[REDACTED_KEY]"),
    ("AWS AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "[REDACTED_KEY]"),
    ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", "ghp_16C7", "[REDACTED_KEY]"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11", "[REDACTED_KEY]"),
    ("slack xoxb-123456789012-abcdefghij", "xoxb-1234", "[REDACTED_KEY]"),
    ("curl -H 'Authorization: Bearer abc.DEF-123_456789xyz'", "abc.DEF-123", "Bearer [REDACTED_TOKEN]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "eyJhbGci", "[REDACTED_TOKEN]"),
    ("API_KEY=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d08188",
     "API_KEY=[REDACTED_SECRET]"),
    ('client_secret: "dGhpcyBpcyBhIHNlY3JldCB2YWx1ZTEyMw=="', "dGhpcyBp", "[REDACTED_SECRET]"),
    ("db password=hunter22 please", "hunter22", "password=[REDACTED_SECRET]"),
    ("write to jane.doe+work@example.co.uk today", "jane.doe", "[REDACTED_EMAIL]"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----\nthanks",
     "MIIEpAIB", "[REDACTED_PRIVATE_KEY]\nthanks"),
]


@pytest.mark.parametrize(("text", "secret", "placeholder"), SECRETS)
def test_each_kind_of_secret_is_redacted(text, secret, placeholder):
    cleaned = redact(text)
    assert secret not in cleaned and placeholder in cleaned, cleaned


@pytest.mark.parametrize("text", [
    "at-least-one-of-these-options must hold", "token = get_token()", "the key is in the drawer",
    "Add retry with exponential backoff to UpstreamClient.fetch", "git diff HEAD~1 -- src/app.py",
    "def secret_sauce(value): return value * 2",
])
def test_ordinary_code_and_prose_stay(text):
    assert redact(text) == text


def test_policy_sampling_hook_and_bounds():
    assert not CapturePolicy().sampled("atr-x")  # off by default
    half = CapturePolicy(rate=0.5)
    picks = [half.sampled(f"id-{i}") for i in range(2000)]
    assert picks == [half.sampled(f"id-{i}") for i in range(2000)]  # deterministic per id
    assert 800 < sum(picks) < 1200
    assert CapturePolicy(rate=1.0, hook=str.upper).clean("mail a@b.io") == "MAIL [REDACTED_EMAIL]"
    assert load_hook("builtins:str.upper") is str.upper
    for spec, rate, days in (("nope", 0.1, 1.0), ("no_such_module_x:f", 0.1, 1.0), ("json:nothing", 0.1, 1.0),
                             (None, 1.5, 1.0), (None, 0.5, 0.0)):
        with pytest.raises(ValueError):
            CapturePolicy.from_settings(rate, days, False, spec)


def _kilo(prompt: str, shape: str = "chat_first") -> dict:
    body = wrap(prompt, shape)
    body.pop("mode", None)
    return {**body, "model": "kilo-auto/free", "stream": False}


def _captures(handle) -> list[dict]:
    ledger = Ledger(handle.db)
    try:
        return ledger.captures()
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def capturing(mock_upstream_process, tmp_path_factory):
    with start_gateway(mock_upstream_process, tmp_path_factory.mktemp("capture"), "--capture-rate", "1") as handle:
        yield handle


def test_capture_is_off_by_default(gateway):
    r = gateway.post("/v1/chat/completions", _kilo("Refactor the cache module"))
    assert r.status_code == 200
    assert _captures(gateway) == []


def test_a_capture_keeps_only_the_users_redacted_text(capturing):
    prompt = "Fix the flaky test; my key is sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4, mail bob@example.com"
    session = f"cap-{uuid.uuid4().hex[:8]}"
    r = capturing.post("/v1/chat/completions", _kilo(prompt, "chat_loop"), headers={"x-session-id": session})
    assert r.status_code == 200, r.text
    row = next(u for u in capturing.ledger_rows() if u["session_id"] == session)
    [capture] = [c for c in _captures(capturing) if c["usage_id"] == row["id"]]
    assert capture["text"] == "Fix the flaky test; my key is [REDACTED_KEY], mail [REDACTED_EMAIL]"
    assert capture["context"] is None  # only with --capture-context
    assert (capture["api"], capture["tier"], capture["model"]) == ("chat", "free", row["resolved_model"])
    assert capture["n_tool_results"] == 4 and capture["prompt_tokens"] == row["tokens_in"] > 0
    assert capture["difficulty"] is None  # a rule tier decided, not the classifier
    assert capture["expires"] - capture["time"] == pytest.approx(30 * 86400)
    assert capture["account_id"] is None


def test_messages_and_responses_are_captured_and_bad_input_is_not(capturing):
    before = len(_captures(capturing))
    for path, shape in (("/v1/messages", "messages_mid"), ("/v1/responses", "responses_first")):
        r = capturing.post(path, _kilo(f"Explain {path}", shape))
        assert r.status_code == 200, r.text
    texts = [c["text"] for c in _captures(capturing)[before:]]
    assert texts == ["Explain /v1/messages", "Explain /v1/responses"]
    assert capturing.post("/v1/chat/completions", {"model": "kilo-auto/free", "messages": []}).status_code == 400
    assert len(_captures(capturing)) == before + 2


def test_context_hook_and_expiry(mock_upstream_process, tmp_path):
    flags = ("--capture-rate", "1", "--capture-context", "--capture-redact", "builtins:str.upper",
             "--capture-retention-days", "0.00002")  # about 1.7 s
    with start_gateway(mock_upstream_process, tmp_path, *flags) as handle:
        r = handle.post("/v1/chat/completions", _kilo("now add tests", "chat_mid"))
        assert r.status_code == 200, r.text
        [capture] = _captures(handle)
        assert capture["text"] == "NOW ADD TESTS"
        assert capture["context"] == '"ADD RETRY WITH EXPONENTIAL BACKOFF TO UPSTREAMCLIENT.FETCH"'
    time.sleep(2.0)
    assert _captures(handle) == []  # expired rows are no longer read
    ledger = Ledger(handle.db)
    try:
        def stored() -> int:
            return ledger.run(lambda tx: tx.execute("SELECT COUNT(*) FROM captures").fetchone()[0])

        assert stored() == 1
        with start_gateway(mock_upstream_process, tmp_path, *flags):  # the sweeper deletes them at start-up
            wait_for(lambda: stored() == 0, timeout_s=10)
    finally:
        ledger.close()


def test_a_failing_hook_drops_the_capture_not_the_request(mock_upstream_process, tmp_path):
    with start_gateway(mock_upstream_process, tmp_path, "--capture-rate", "1", "--capture-redact", "json:loads") as h:
        r = h.post("/v1/chat/completions", _kilo("this is not JSON"))
        assert r.status_code == 200
        assert len(h.ledger_rows()) == 1 and _captures(h) == []


def test_bad_capture_flags_stop_the_start():
    for flags in (["--capture-rate", "2"], ["--capture-redact", "no_such_module_x:f"]):
        done = subprocess.run([sys.executable, "-m", "router.cli", "serve", "--port", "0", *flags],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--capture-" in done.stderr, done.stderr
