"""In-process units: live state, Retry-After parsing, header safety, param merging."""

from __future__ import annotations

import asyncio

import pytest

from router.gateway.handlers import header_safe, merge_params
from router.gateway.live_state import InProcessState
from router.gateway.upstream import parse_retry_after


def test_cooldowns_feed_the_availability_view():
    state = InProcessState()
    state.cool_down("m", 10, now=100.0)
    state.cool_down("m", 2, now=100.0)  # a shorter cooldown never shortens a longer one
    assert not state.availability(105.0).is_available("m")
    assert state.cooldown_left("m", 105.0) == pytest.approx(5.0)
    assert state.availability(110.0).is_available("m")


def test_rate_limit_window():
    state = InProcessState()

    def hit(now: float) -> float | None:
        return asyncio.run(state.hit("ip", 2, 60, now=now))

    assert [hit(0.0 + i) for i in range(2)] == [None, None]
    assert hit(10.0) == pytest.approx(50.0)
    assert hit(61.0) is None  # next window


def test_sessions_are_bounded():
    state = InProcessState(max_sessions=2)
    for s in "abc":
        asyncio.run(state.remember_session(s, f"model-{s}"))
    assert asyncio.run(state.session_model("a")) is None and asyncio.run(state.session_model("c")) == "model-c"


@pytest.mark.parametrize("value, expected", [
    ("3", 3.0), ("0", 0.0), ("1.5", 1.5), (None, None), ("soon", None),
    ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),
])
def test_retry_after(value, expected):
    assert parse_retry_after(value, now=40.0) == expected


def test_header_safe_and_merge():
    assert header_safe("caf\u00e9\n" + "x" * 50, 20) == "caf??" + "x" * 12 + "..."
    body = {"text": {"format": {"type": "text"}}, "reasoning": {"effort": "high"}}
    merged = merge_params(body, {"text": {"verbosity": "low"}, "reasoning": {"effort": "low"}})
    assert merged == {"text": {"format": {"type": "text"}, "verbosity": "low"}, "reasoning": {"effort": "low"}}
    assert body["reasoning"] == {"effort": "high"}
