"""Fixtures shared by every suite. Append new fixtures below; keep this file small."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.support.mock_control import MockUpstreamHandle
from tests.support.processes import LISTENING_URL, running_process


@pytest.fixture(scope="session")
def mock_upstream_process() -> Iterator[MockUpstreamHandle]:
    """One real `autotier mock-upstream` process for the session (loopback, free port)."""
    command = [sys.executable, "-m", "router.cli", "mock-upstream", "--host", "127.0.0.1", "--port", "0"]
    with running_process(command, url_pattern=LISTENING_URL, health_path="/healthz") as proc:
        yield MockUpstreamHandle(proc.url)


@pytest.fixture
def mock_upstream(mock_upstream_process: MockUpstreamHandle) -> MockUpstreamHandle:
    """The session's mock upstream, reset to its start-up config with empty stats for this test."""
    mock_upstream_process.reset()
    return mock_upstream_process
