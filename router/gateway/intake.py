"""Reading one HTTP request: the JSON body (size and content-type checked), the caller
(API key -> account), the client IP (X-Forwarded-For only via trusted proxies) and the
Kilo headers."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from router.contract import ANONYMOUS, Account
from router.errors import AutotierError
from router.gateway.accounts import AccountRow, Ledger
from router.gateway.settings import Network
from router.gateway.wire import bad_request

ANONYMOUS_KEYS = frozenset({"", "anonymous"})
# Bodies above this are parsed on a worker thread: a multi-megabyte JSON document takes
# tens of milliseconds to parse, and the event loop serves every other request meanwhile.
PARSE_OFF_LOOP_BYTES = 256 * 1024
# Client-chosen ids that are stored and used as keys (session, mode, machine).
MAX_ID_CHARS = 256


def parse_json(raw: bytes) -> Any:
    """JSON text -> value; 400 for bytes that are not JSON or text that is not valid
    Unicode (a lone surrogate such as "\\udfff" parses in Python but cannot be sent on)."""
    if not raw.strip():
        raise bad_request("request body is empty; send a JSON object", "invalid_body")
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise bad_request(f"request body is not valid JSON: {exc}"[:200], "invalid_json") from None
    # Only a \\uD800-\\uDFFF escape can produce a surrogate; check the text only then.
    if b"\\ud" in raw or b"\\uD" in raw:
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError as exc:
            if "surrogate" in str(exc):
                raise bad_request("request body contains a lone UTF-16 surrogate (e.g. \\udfff), "
                                  "which is not valid Unicode text", "invalid_text") from None
    return value


async def read_json(request: Request, max_bytes: int, timeout_s: float | None = None,
                    validate: Callable[[Any], Any] | None = None) -> Any:
    """The parsed body (passed through `validate` when given, off the event loop for big
    bodies); 415 for a non-JSON content type, 413 over `max_bytes`, 408 when the body has
    not arrived within `timeout_s`, 400 for bytes that are not JSON or not valid text."""
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
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise bad_request(f"request body over {max_bytes} bytes", "request_too_large", 413)
                chunks.append(chunk)
    except TimeoutError:
        raise bad_request(f"the request body did not arrive within {timeout_s:g}s", "request_timeout", 408) from None
    raw = b"".join(chunks)

    def parse() -> Any:
        value = parse_json(raw)
        return validate(value) if validate is not None else value

    return await asyncio.to_thread(parse) if len(raw) > PARSE_OFF_LOOP_BYTES else parse()


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


def limit_key(address: str | None) -> str:
    """The unit rate limits count by: an IPv4 address, or an IPv6 address's /64 network
    (one subscriber usually holds a whole /64, so per-/128 limits are free to evade)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(ip)


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


def _id_header(request: Request, *names: str) -> str | None:
    for name in names:
        value = request.headers.get(name)
        if value:
            if len(value) > MAX_ID_CHARS:
                raise bad_request(f"header {name} is longer than {MAX_ID_CHARS} characters", "header_too_long")
            return value
    return None


def kilo_headers(request: Request) -> KiloHeaders:
    """The Kilo headers; 400 for one longer than MAX_ID_CHARS (they are stored and used as keys)."""
    return KiloHeaders(
        mode=_id_header(request, "x-kilocode-mode"),
        session_id=_id_header(request, "x-kilocode-taskid", "x-session-id"),
        parent_session_id=_id_header(request, "x-kilocode-parent-taskid"),
        editor=_id_header(request, "x-kilocode-editorname"),
        feature=_id_header(request, "x-kilocode-feature"),
        machine_id=_id_header(request, "x-kilocode-machineid"),
    )
