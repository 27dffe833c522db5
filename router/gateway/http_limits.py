"""Limits on the HTTP layer itself, before a request reaches the app.

uvicorn's httptools parser buffers a request's headers without bound and waits for them
forever: a 64 MiB header is read into memory, and a client that sends one byte a minute
holds a connection open indefinitely. `BoundedHttpToolsProtocol` answers 431 when the
request line and headers pass `max_header_bytes` in all or `max_headers` fields, and 408
(then closes) when they have not all arrived within `header_timeout_s` of the first byte.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("autotier.gateway")


def _reply(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header size, count and time limits (class
    attributes, set by `limited_protocol`)."""

    max_header_bytes = 64 * 1024
    max_headers = 100
    header_timeout_s = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._header_size = 0  # request line and headers of the current request, as parsed
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_timer()

    def _start_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._awaiting_headers:
            self._header_bytes += len(data)
            self._start_timer()
        super().data_received(data)
        # Still in the headers after this chunk: every byte counted so far is header bytes.
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes:
            self._refuse(431, "Request Header Fields Too Large",
                         f"request line and headers over {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._header_count = self._header_size = 0

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_size += len(name) + len(value) + 4
        if self._header_count <= self.max_headers:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._cancel_timer()
        if self._header_count > self.max_headers:
            self._refuse(431, "Request Header Fields Too Large", f"more than {self.max_headers} header fields")
        elif self._header_size > self.max_header_bytes:
            self._refuse(431, "Request Header Fields Too Large",
                         f"request line and headers over {self.max_header_bytes} bytes")
        if not self.transport.is_closing():
            super().on_headers_complete()

    # A refused request's body may follow in the same read: there is no request cycle for it.
    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.transport.is_closing():
            super().on_message_complete()
        self._awaiting_headers = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def _cancel_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self._awaiting_headers or self.transport.is_closing():
            return
        if self._header_bytes:
            self._refuse(408, "Request Timeout", f"headers not received within {self.header_timeout_s:g}s")
        elif self.cycle is None:  # connected and never sent a byte
            self.transport.close()

    def _refuse(self, status: int, reason: str, message: str) -> None:
        if self.transport.is_closing():
            return
        log.info("refused a request from %s: %s", self.client[0] if self.client else "?", message)
        self._cancel_timer()
        self.transport.write(_reply(status, reason, message))
        self.transport.close()


def limited_protocol(max_header_bytes: int, max_headers: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` with these limits."""
    return type("LimitedHttpToolsProtocol", (BoundedHttpToolsProtocol,), {
        "max_header_bytes": max_header_bytes, "max_headers": max_headers, "header_timeout_s": header_timeout_s,
    })
