"""Opt-in request capture (issue 15): off by default; when on, only the user's own text is
kept (never the system prompt, tool results or environment details, nor a tool result sent
as a user message in the XML tool protocol), redacted, with the operator's hook applied, the
session's first text only on request, and deleted once expired."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from classifier.session import parse_request
from router.gateway.accounts import Ledger
from router.gateway.capture import CapturePolicy, load_hook, redact, user_part
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
    # AWS secret access keys, in every form
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtn",
     "aws_secret_access_key = [REDACTED_SECRET]"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtn", "KEY=[REDACTED_SECRET]"),
    ('{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', "wJalrXUtn", '"[REDACTED_SECRET]"'),
    ("use wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY as the secret", "wJalrXUtn", "use [REDACTED_SECRET] as"),
    ("export AWS_SECRET_ACCESS_KEY='Qx7vR2mK9pLw4nT8sB1cY6hJ3fD5gZ0aE+uW/iOk'", "Qx7vR2mK", "[REDACTED_SECRET]"),
    # provider and platform keys
    ("stripe key sk_live_51H8abcdEFGHijklMNOPqrstUVWXyz0123456789", "sk_live_51", "[REDACTED_KEY]"),
    ("restricted rk_live_51H8abcdEFGHijklMNOPqrst and test sk_test_4eC39HqLyjWDarjtT1zdp7dc", "_51H8",
     "restricted [REDACTED_KEY] and test [REDACTED_KEY]"),
    ("const maps = 'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY'", "AIzaSyD", "'[REDACTED_KEY]'"),
    ("post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now", "T00000000",
     "post to [REDACTED_KEY] now"),
    ("app token xapp-1-A0123456789-1234567890123-abcdef0123456789", "xapp-1", "[REDACTED_KEY]"),
    ("//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abc", "_authToken="),
    ("HF hf_abcdefghijklmnopqrstuvwxyzABCDEFGH here", "hf_abc", "HF [REDACTED_KEY] here"),
    ("gitlab glpat-abcdefghij1234567890", "glpat-", "[REDACTED_KEY]"),
    ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "sk-ant", "[REDACTED_KEY]"),
    # HTTP and command-line credentials
    ("curl -H 'Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ='", "YWRtaW46", "Basic [REDACTED_TOKEN]"),
    ("curl -u admin:S3cr3t!pass https://api.example.com", "S3cr3t", "-u admin:[REDACTED_SECRET] https"),
    ("curl --user 'deploy:correct horse' x", "deploy:correct", "--user 'deploy:[REDACTED_SECRET]"),
    # credentials in URLs, any host
    ("clone https://deploy:Sup3rS3cretPw@git.example.com/repo.git", "Sup3r",
     "https://deploy:[REDACTED_SECRET]@git.example.com/repo.git"),
    ("DATABASE_URL=postgres://admin:hunter2pass@10.1.2.3:5432/prod", "hunter2pass",
     "postgres://admin:[REDACTED_SECRET]@10.1.2.3:5432/prod"),
    ("cache at redis://:pw0rd@cache:6379/0 ok", "pw0rd", "redis://:[REDACTED_SECRET]@cache:6379/0 ok"),
    ("amqp://guest:guest@rabbit/ and mongodb+srv://u:p%40ss@cluster0/db", "p%40ss",
     "amqp://guest:[REDACTED_SECRET]@rabbit/ and mongodb+srv://u:[REDACTED_SECRET]@cluster0/db"),
    # key blocks, whole or cut
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF3x9KQBCAC7\n=ab12\n-----END PGP PRIVATE KEY BLOCK-----\nok",
     "lQOYBF", "[REDACTED_PRIVATE_KEY]\nok"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----",
     "b3Blbn", "[REDACTED_PRIVATE_KEY]"),
    ("the tail of it:\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1+\n"
     "-----END PRIVATE KEY-----\nthanks", "MIIEvQ", "the tail of it:\n[REDACTED_PRIVATE_KEY]\nthanks"),
    # values after secret-sounding names
    ("db_password=Tr0ub4dor&3", "Tr0ub4dor", "db_password=[REDACTED_SECRET]"),
    ("DB_PASSWORD=supersecret", "supersecret", "DB_PASSWORD=[REDACTED_SECRET]"),
    ("password: abc", "abc", "password: [REDACTED_SECRET]"),
    ('password = "correct horse battery staple"', "horse", 'password = "[REDACTED_SECRET]"'),
    ("DB_PASSWORD: str = 'hunter2'", "hunter2", "'[REDACTED_SECRET]'"),
    ("passphrase=Tr0ub4dor&3xyz", "Tr0ub4dor", "passphrase=[REDACTED_SECRET]"),
    ("client_secret: Zx9-abcdefghijklmnop", "Zx9-abc", "client_secret: [REDACTED_SECRET]"),
    ("api_key = 'abcdefghijklmnopqrstuvwxyzABCDEF'", "abcdefgh", "api_key = '[REDACTED_SECRET]'"),
    ("apiKey: 'QmXkTwRvBnPaLsDcJhYg'", "QmXkTw", "apiKey: '[REDACTED_SECRET]'"),
    ("GITHUB_TOKEN=0123456789abcdef0123456789abcdef01234567", "0123456789abcdef", "GITHUB_TOKEN=[REDACTED_SECRET]"),
    ('"private_key_id": "8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"', "8f3c2a1b", '"[REDACTED_SECRET]"'),
    ("mysql --password=s3cr3t -h db", "s3cr3t", "--password=[REDACTED_SECRET] -h db"),
    # card numbers (Luhn-valid), whole or grouped
    ("card 4111 1111 1111 1111 exp 12/29 cvv 123", "4111", "card [REDACTED_CARD] exp 12/29 cvv 123"),
    ("amex 3782-822463-10005 and 5555555555554444", "8224", "amex [REDACTED_CARD] and [REDACTED_CARD]"),
    # anything else 32+ characters that mixes cases and digits at random
    ("the webhook secret is Q7dKp2XvL9mRt4BnW8sYc3FhJ6gZa1Ue, keep it", "Q7dKp2", "is [REDACTED_SECRET], keep"),
    ("see https://example.com/hook/Q7dKp2XvL9mRt4BnW8sYc3FhJ6gZa1UeN0/run", "Q7dKp2",
     "https://example.com/hook/[REDACTED_SECRET]/run"),
]


@pytest.mark.parametrize(("text", "secret", "placeholder"), SECRETS)
def test_each_kind_of_secret_is_redacted(text, secret, placeholder):
    cleaned = redact(text)
    assert secret not in cleaned and placeholder in cleaned, cleaned


PYTHON_FILE = '''"""Upstream client with retries."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str | None = None
    password: str | None = None
    token_limit: int = 4096
    sort_key: str = "created_at"


class UpstreamClient:
    def __init__(self, settings: Settings, password: str, token: str | None = None) -> None:
        self.settings = settings
        self.password = password
        self.http = httpx.Client(base_url=settings.base_url, timeout=DEFAULT_TIMEOUT_S)
        api_key = os.environ.get("UPSTREAM_API_KEY") or settings.api_key
        token = token or get_token()
        self.headers = {"authorization": f"Bearer {api_key}", "x-request-token": token}

    def login(self, username: str, password: str) -> dict:
        if password == self.password:
            return {"user": username}
        credentials = self.http.post("/login", json={"user": username, "password": password})
        secret_key = settings_module.SECRET_KEY
        return credentials.json()

    def fetch(self, path: str, attempts: int = 3) -> dict:
        for attempt in range(attempts):
            response = self.http.get(path, headers=self.headers)
            if response.status_code not in RETRY_STATUSES:
                response.raise_for_status()
                return response.json()
            delay = min(2 ** attempt, 8) * 0.5
            log.warning("retrying %s in %.1fs (attempt %d)", path, delay, attempt + 1)
            time.sleep(delay)
        raise RuntimeError(f"gave up on {path} after {attempts} attempts")


def getUserAccountSettingsForOrganization(org_id: str) -> dict:
    return {"org": org_id, "feature_flags": ["beta", "v2_dashboard"], "key": "name"}


def test_handles_http2_UpgradeRequired_properly(client: UpstreamClient) -> None:
    assert client.fetch("/v1/models/gpt-4o-mini-2024-07-18/versions") is not None
'''

STACK_TRACE = '''Traceback (most recent call last):
  File "/home/dev/Projects/MyApp2/src/myapp/cli.py", line 42, in main
    result = client.fetch("/v1/items/123e4567-e89b-12d3-a456-426614174000")
  File "/home/dev/.venv/lib/python3.11/site-packages/httpx/_client.py", line 1055, in get
    return self.request("GET", url, params=params, headers=headers)
  File "/home/dev/.venv/lib/python3.11/site-packages/httpx/_transports/default.py", line 233, in handle_request
    raise mapped_exc(message) from exc
httpx.ConnectTimeout: timed out after 30.0s (request id 7f9c2ba4e88f827d616045507605853e)
  at com.example.service.UserAccountService2.process(UserAccountService2.java:118)
  at org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)
'''

GIT_LOG = '''commit 3f2c1a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39
Author: Dev Person <dev@users.noreply.invalid>
Date:   Tue Nov 3 10:12:44 2026 +0000

    Fix retry loop in UpstreamClient.fetch (#1234)

commit 9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b
Merge: 1a2b3c4 5d6e7f8
Date:   Mon Nov 2 18:01:09 2026 +0000

    Merge branch 'feature/http2-upgrade' into main
    See https://github.com/example/app/commit/9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b/src/Main.java
'''

JSON_CONFIG = '''{
  "name": "autotier-dev",
  "version": "2.4.1",
  "port": 8080,
  "log_level": "info",
  "upstream": {"base_url": "https://api.example.com/v1", "timeout_ms": 30000, "retries": 3},
  "cache": {"ttl_s": 300, "key_prefix": "atr:", "primary_key": "id", "sort_key": "created_at"},
  "auth": {"type": "oauth2", "token_url": "https://auth.example.com/oauth/token", "scopes": ["read", "write"]},
  "password_min_length": 12,
  "features": ["capture", "feedback", "http2"],
  "build": {"commit": "3f2c1a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39", "id": "123e4567-e89b-12d3-a456-426614174000"},
  "started": 1764669600000
}
'''

PROSE = [
    "at-least-one-of-these-options must hold", "token = get_token()", "the key is in the drawer",
    "Add retry with exponential backoff to UpstreamClient.fetch", "git diff HEAD~1 -- src/app.py",
    "def secret_sauce(value): return value * 2",
    "Why does the password reset form accept an empty password? Check validate_password() in auth/forms.py",
    "Rename getUserAccountSettingsForOrganization to get_org_settings across the codebase",
    "The build on 2026-11-02 took 1764669600000 ms? No, that's a timestamp; the run id was 4000 12 3456.",
    "Use the UUID 123e4567-e89b-12d3-a456-426614174000 and commit 3f2c1a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",
    "clone https://github.com/example/app.git and ssh://git.example.com:2222/app.git",
    "if password == confirm: save(password=password)",
    "The Basic plan costs 10 USD; authorization is handled by the gateway",
]


@pytest.mark.parametrize("text", [PYTHON_FILE, STACK_TRACE, JSON_CONFIG, *PROSE])
def test_ordinary_code_and_prose_stay(text):
    assert redact(text) == text


def test_a_git_log_keeps_its_shas():
    """Hex SHAs (40 characters, one case) and UUIDs stay; only the author's address goes."""
    assert redact(GIT_LOG) == GIT_LOG.replace("dev@users.noreply.invalid", "[REDACTED_EMAIL]")


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",  # fails the Luhn check
    "order 1234567890123456 shipped",  # starts with 1: not a card
    "getUserAccountSettingsForOrganization2 and Win32ApiWrapperForX86And64BitTargets",
    "3f2c1a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39 ABCDEF0123456789ABCDEF0123456789ABCDEF01",
    "src/components/UserAccountSettings/ButtonGroup2/index.tsx",
])
def test_what_looks_like_a_secret_but_is_not_stays(text):
    assert redact(text) == text


@pytest.mark.timeout(60)
def test_redaction_ends_on_inputs_built_to_backtrack():
    """8,000 characters (the capture's cap) of code with secrets, and inputs built to make a
    regular expression backtrack, all finish (no catastrophic backtracking; the time per
    call is measured by benchmarks/feedback_cost.py, not asserted here)."""
    mixed = (PYTHON_FILE + STACK_TRACE + GIT_LOG + JSON_CONFIG + "".join(t for t, _, _ in SECRETS)) * 4
    texts = [mixed[:8000], "Ab1+/" * 1600, ("a." * 4000), ("4444 " * 1600), "4" * 8000, ("password: " * 800),
             ("-u a:b " * 1200)[:8000], ("http://a:" * 900)[:8000], ("feedback\n<feedback>\n" * 400)[:8000],
             # quadratic before: 0.8 s, 0.3 s, 0.5 s (a secret-sounding name's prefix and `auth...` tail)
             "auth" * 2000, "credential" * 800, "a_auth_" * 1143, "token" * 1600, "secret_" * 1143,
             # 120 ms each (the lookahead for a digit or capital), 15 ms (JWT segments), 14 ms (key body lines)
             "sk-" * 2667, "at-" * 2667, "eyJ-" * 2000, ("A" * 16 + "\n") * 470 + "-----END",
             # user_part: 30 ms (`<feedback>` openings with no closing tag), 5 ms (long lines of them)
             ("feedback\n<feedback>\n" * 400)[:7986] + "<file_content>", "feedback" * 998 + "<file_content>",
             "instructions" * 665 + "<file_content>"]
    for text in texts:
        assert "[REDACTED" in redact(text) or text[:10] in redact(text)
        user_part(text)



def test_a_run_that_is_not_a_secret_is_skipped_whole_and_what_follows_is_still_read():
    """The patterns that match a whole run and let a function decide (linear time) keep the
    earlier patterns' results: only a run that is a secret goes."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    assert redact(f"eyJ-eyJ-eyJa.bbbb then {jwt}") == "eyJ-eyJ-eyJa.bbbb then [REDACTED_TOKEN]"
    assert redact("sk-only-lowercase-words-here-a and sk-sk-sk-abcdefghijklmnopqrsT") == (
        "sk-only-lowercase-words-here-a and [REDACTED_KEY]")
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
    lines = "abcdefghijklmnopqrstuvwxyz\nabcdefghijklmnopqrstuvwxyz\n"
    assert redact(f"{lines}\n{body}") == f"{lines}\n[REDACTED_PRIVATE_KEY]"
    task = "<task>\nfix it\n</task>\n[read_file for 'a'] Result:\n"
    assert user_part(f"{task}{_DENIED}\n<feedback>\nno closing tag\n{_DENIED}\n<feedback>\nnor here") == "fix it"
    assert user_part(f"{task}{_DENIED}\n<feedback>\nuse the docker db\n</feedback>") == "fix it\nuse the docker db"

_DENIED = "The user denied this operation and provided the following feedback:"
_COMPLETION = ("The user has provided feedback on the results. Consider their input to continue the task, and then"
               " attempt completion again.")
# The older Cline / Roo / Kilo XML tool protocol sends a tool's result as the user's message:
# (latest user text as parse_request reads it, what capture keeps: None = nothing).
TOOL_RESULTS = [
    ("[read_file for '.env'] Result:\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None),
    ("[execute_command for 'cat ~/.netrc'] Result:\nCommand executed.\nOutput:\nmachine api login me password pw", None),
    ("[list_files] Result:\nsrc/\ntests/", None),
    ("[use_mcp_tool for 'github'] Result:\n{\"issues\": []}", None),
    ("<function_results>\n<result>\n<stdout>DB_PASS=x</stdout>\n</result>\n</function_results>", None),
    ("<tool_result>\n{\"rows\": [[\"alice\", \"555-0100\"]]}\n</tool_result>", None),
    # file contents that look like typed blocks are not typed blocks
    ("[read_file for 'notes.md'] Result:\n# Notes\n<answer>\nprivate notes\n</answer>", None),
    ("[read_file for 'prompts.txt'] Result:\n<task>\nsecret plan\n</task>", None),
    # the typed part kept
    (f"[execute_command for 'rm -rf build'] Result:\n{_DENIED}\n<feedback>\nuse make clean instead\n</feedback>",
     "use make clean instead"),
    (f"[attempt_completion] Result:\n{_COMPLETION}\n<feedback>\nAlso handle HTTP 429\n</feedback>",
     "Also handle HTTP 429"),
    ("[ask_followup_question for 'Which database?'] Result:\n<answer>\nPostgres 16\n</answer>", "Postgres 16"),
    ("<task>\nFix the bug in 'src/app.py' (see below for file content)\n</task>\n\n<file_content path=\"src/app.py\">"
     "\nSECRET=1\n</file_content>", "Fix the bug in 'src/app.py' (see below for file content)"),
    ("Why does this fail?\n\n<file_content path=\"config.yaml\">\npassword: x\n</file_content>", "Why does this fail?"),
    ("[read_file for 'a.py'] Result:\nimport os\n[write_to_file for 'a.py'] Result:\n"
     f"{_DENIED}\n<feedback>\nno, keep the old name 'a.py' (see below for file content)\n\n"
     "<file_content path=\"a.py\">\nimport os\n</file_content>\n</feedback>",
     "no, keep the old name 'a.py' (see below for file content)"),
    ("[TASK RESUMPTION] This task was interrupted 3 minutes ago. The current working directory is now"
     " '/home/jane/app'.\n\nNew instructions for task continuation:\n<user_message>\nskip the tests\n</user_message>",
     "skip the tests"),
    # no tool result: unchanged
    ("Fix the flaky test in tests/test_client.py", "Fix the flaky test in tests/test_client.py"),
    ("<task>\nRename UpstreamClient\n</task>", "<task>\nRename UpstreamClient\n</task>"),
    ("my parser chokes on lines like [x] Result: foo", "my parser chokes on lines like [x] Result: foo"),
]


@pytest.mark.parametrize(("text", "kept"), TOOL_RESULTS)
def test_tool_results_are_dropped_or_cut_to_the_typed_part(text, kept):
    assert user_part(text) == kept


def _cline(*turns: str) -> dict:
    """A chat body as Cline sends it: each tool result a user message (header and output in
    text blocks of their own), the environment details after it."""
    env = {"type": "text", "text": "<environment_details>\n# VSCode Visible Files\n.env\n</environment_details>"}
    messages: list[dict] = [{"role": "system", "content": "You are Cline"}]
    for i, turn in enumerate(turns):
        if i:
            messages.append({"role": "assistant", "content": "<read_file>\n<path>.env</path>\n</read_file>"})
        head, _, rest = turn.partition("\n")
        blocks = [{"type": "text", "text": head}] + ([{"type": "text", "text": rest}] if rest else [])
        messages.append({"role": "user", "content": [*blocks, env]})
    return {"messages": messages}


def test_a_snapshot_of_a_tool_result_is_none_or_the_typed_part():
    policy = CapturePolicy(rate=1.0, context=True)
    task = "<task>\nWhy can't the app reach the database?\n</task>"
    body = _cline(task, "[read_file for '.env'] Result:\nDATABASE_URL=postgres://app:hunter2@db/prod")
    assert parse_request(body).latest_user.startswith("[read_file for '.env'] Result:")
    assert policy.snapshot(parse_request(body), "r1") is None
    body = _cline(task, f"[execute_command for 'psql'] Result:\n{_DENIED}\n<feedback>\nuse the docker db\n</feedback>")
    snap = policy.snapshot(parse_request(body), "r2")
    assert snap is not None and (snap.text, snap.context) == ("use the docker db", task)
    # the first text a tool result too: no context, the latest text still kept
    body = _cline("[list_files] Result:\nsrc/", "Now add tests")
    snap = policy.snapshot(parse_request(body), "r3")
    assert snap is not None and (snap.text, snap.context) == ("Now add tests", None)


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


def test_a_tool_result_sent_as_the_users_message_is_not_captured(capturing):
    before = len(_captures(capturing))
    task = "<task>\nWhy can't the app reach the database?\n</task>"
    for turn in ("[read_file for '.env'] Result:\nSTRIPE_KEY=sk_live_51H8abcdEFGHijklMNOP and DB_PASSWORD=x",
                 f"[execute_command for 'psql'] Result:\n{_DENIED}\n<feedback>\nuse the docker db\n</feedback>"):
        r = capturing.post("/v1/chat/completions", {**_cline(task, turn), "model": "kilo-auto/free", "stream": False})
        assert r.status_code == 200, r.text
    assert [c["text"] for c in _captures(capturing)[before:]] == ["use the docker db"]


def test_context_hook_and_expiry(mock_upstream_process, tmp_path):
    flags = ("--capture-rate", "1", "--capture-context", "--capture-redact", "builtins:str.upper",
             "--capture-retention-days", "1")
    with start_gateway(mock_upstream_process, tmp_path, *flags) as handle:
        r = handle.post("/v1/chat/completions", _kilo("now add tests", "chat_mid"))
        assert r.status_code == 200, r.text
        [capture] = _captures(handle)
        assert capture["text"] == "NOW ADD TESTS"
        assert capture["context"] == '"ADD RETRY WITH EXPONENTIAL BACKOFF TO UPSTREAMCLIENT.FETCH"'
        assert capture["expires"] - capture["time"] == pytest.approx(86400)
    ledger = Ledger(handle.db)
    try:
        def stored() -> int:
            return ledger.run(lambda tx: tx.execute("SELECT COUNT(*) FROM captures").fetchone()[0])

        # Expire it by hand (no retention short enough to outlast a start and a request but
        # not a sleep: that raced on a loaded machine).
        ledger.run(lambda tx: tx.execute("UPDATE captures SET expires = ?", (time.time() - 1,)))
        assert _captures(handle) == []  # expired rows are no longer read
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
