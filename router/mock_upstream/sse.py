"""Server-sent events: encoding and a paced response that can drop its connection mid-stream."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

DONE = b"data: [DONE]\n\n"
_CUT_MESSAGE = "ASGI callable returned without completing response."


def dumps(obj: Any) -> str:
    """Compact JSON text."""
    return json.dumps(obj, separators=(",", ":"))


def data(obj: Any) -> bytes:
    """One unnamed event (OpenAI chat style): `data: {...}`."""
    return f"data: {dumps(obj)}\n\n".encode()


def named(obj: dict[str, Any]) -> bytes:
    """One named event whose name is the object's "type" (Responses and Anthropic style)."""
    return f"event: {obj['type']}\ndata: {dumps(obj)}\n\n".encode()


class EventStream(Response):
    """An ASGI response that sends `events` with delays, or drops the connection after `cut_after`.

    Delays are seconds. Without delays or a cut the events go out in one write, which keeps the
    mock cheap under load. A cut returns without finishing the body, so the server closes the
    socket and the client sees a truncated chunked response, like a provider dying mid-stream.
    """

    def __init__(
        self, events: list[bytes], *, first_delay_s: float = 0.0, delay_s: float = 0.0,
        cut_after: int | None = None, headers: dict[str, str] | None = None,
    ) -> None:
        self.events = events
        self.status_code = 200
        self.background = None
        self.first_delay_s = first_delay_s
        self.delay_s = delay_s
        self.cut_after = cut_after
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        self.raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        cut = self.cut_after
        if not self.first_delay_s and not self.delay_s and cut is None:
            await send({"type": "http.response.body", "body": b"".join(self.events), "more_body": False})
            return
        for index, event in enumerate(self.events):
            if cut is not None and index >= cut:
                return
            delay = self.first_delay_s if index == 0 else self.delay_s
            if delay:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if cut is not None and cut <= len(self.events):
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _DropCutNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _CUT_MESSAGE


def silence_cut_notices() -> None:
    """Keep uvicorn from logging an error for every injected mid-stream cut (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropCutNotice) for f in logger.filters):
        logger.addFilter(_DropCutNotice())
