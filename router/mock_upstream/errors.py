"""Error bodies in each provider API's own shape, keyed by HTTP status."""

from __future__ import annotations

import json
import math
from typing import Literal

from starlette.responses import Response

ApiShape = Literal["chat", "responses", "messages"]

# status -> (OpenAI error type, OpenAI error code)
_OPENAI = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", "timeout"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "timeout"),
    529: ("server_error", "overloaded"),
}

# status -> Anthropic error type
_ANTHROPIC = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_MESSAGES = {
    429: "Rate limit reached for {model} (injected by mock-upstream).",
    404: "The model `{model}` does not exist or you do not have access to it.",
}


def error_body(api: ApiShape, status: int, message: str) -> dict[str, object]:
    """The JSON error object `api` uses for `status`."""
    if api == "messages":
        kind = _ANTHROPIC.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    kind, code = _OPENAI.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def error_response(
    api: ApiShape, status: int, *, model: str = "", message: str | None = None,
    retry_after_s: float | None = None,
) -> Response:
    """An error reply; 429s carry `retry-after` (whole seconds) and `retry-after-ms`."""
    if message is None:
        message = _MESSAGES.get(status, "Injected upstream error {status} for {model}.")
        message = message.format(model=model, status=status)
    headers = {"x-should-retry": "true" if status == 429 or status >= 500 else "false"}
    if status == 429 and retry_after_s is not None:
        headers["retry-after"] = str(math.ceil(retry_after_s))
        headers["retry-after-ms"] = str(int(retry_after_s * 1000))
    body = json.dumps(error_body(api, status, message), separators=(",", ":"))
    return Response(body, status_code=status, headers=headers, media_type="application/json")
