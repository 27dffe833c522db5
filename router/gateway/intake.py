"""Reading one HTTP request: the JSON body (size and content-type checked), the caller
(API key -> account), the client IP (X-Forwarded-For only via trusted proxies) and the
Kilo headers."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from router.contract import ANONYMOUS, Account
from router.errors import AutotierError
from router.gateway.accounts import AccountRow, Ledger
from router.gateway.settings import Network
from router.gateway.wire import bad_request

ANONYMOUS_KEYS = frozenset({"", "anonymous"})


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed body; 415 for a non-JSON content type, 413 over `max_bytes`, 400 for
    bytes that are not JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise bad_request(f"content type must be application/json, got {content_type!r}",
                          "unsupported_media_type", 415)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise bad_request("invalid Content-Length header", "invalid_body")
        if int(declared) > max_bytes:
            raise bad_request(f"request body over {max_bytes} bytes", "request_too_large", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise bad_request(f"request body over {max_bytes} bytes", "request_too_large", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise bad_request("request body is empty; send a JSON object", "invalid_body")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"request body is not valid JSON: {exc}"[:200], "invalid_json") from None


def client_ip(request: Request, trusted: tuple[Network, ...]) -> str | None:
    """The direct peer, or, when the peer is a trusted proxy, the right-most address of
    X-Forwarded-For that is not itself a trusted proxy."""
    peer = request.client.host if request.client else None
    if not peer or not trusted or not _in(peer, trusted):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _valid(hop):
            return peer
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def api_key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key", "").strip()


@dataclass(frozen=True, slots=True)
class Caller:
    row: AccountRow | None
    account: Account

    @property
    def account_id(self) -> int | None:
        return self.row.id if self.row else None


async def authenticate(request: Request, ledger: Ledger) -> Caller:
    """Missing key or `anonymous` -> anonymous; a known key -> its account; else 401.
    The lookup runs on a worker thread: the ledger may be a remote database, or busy
    committing a usage row, and the event loop must not wait for it."""
    key = api_key(request)
    if key.lower() in ANONYMOUS_KEYS:
        return Caller(None, ANONYMOUS)
    row = await asyncio.to_thread(ledger.lookup, key)
    if row is None:
        raise AutotierError("invalid API key; create one with `autotier accounts create`",
                            code="invalid_api_key", status=401)
    return Caller(row, Account(authenticated=True, balance=row.balance))


@dataclass(frozen=True, slots=True)
class KiloHeaders:
    mode: str | None
    session_id: str | None
    parent_session_id: str | None
    editor: str | None
    feature: str | None
    machine_id: str | None


def kilo_headers(request: Request) -> KiloHeaders:
    h = request.headers
    return KiloHeaders(
        mode=h.get("x-kilocode-mode") or None,
        session_id=h.get("x-kilocode-taskid") or h.get("x-session-id") or None,
        parent_session_id=h.get("x-kilocode-parent-taskid") or None,
        editor=h.get("x-kilocode-editorname") or None,
        feature=h.get("x-kilocode-feature") or None,
        machine_id=h.get("x-kilocode-machineid") or None,
    )
