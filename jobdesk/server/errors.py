"""Every failure as `{"error": {"code", "message"}}`, mapped in one place.

JobdeskError carries its own status and code (core/errors.py); the rest are
framework and driver exceptions a client can provoke. Anything a client sends
must end here as a 4xx: a 500 means a bug in jobdesk, and is logged as one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobdesk.core.errors import JobdeskError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    out = dict(headers or {})
    if status == 401:
        out.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=out or None)


async def _jobdesk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JobdeskError)
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return error_response(exc.status, exc.code, exc.message, getattr(exc, "headers", None))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
    if status == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(status, _CODES.get(status, "http_error"), message, exc.headers)


def describe_validation(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each error as {field, message}, the field named as the client wrote it."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        # "body.maxAttempts" reads worse than "maxAttempts"; query and path keep their prefix.
        if loc and loc[0] == "body":
            loc = loc[1:]
        out.append({"field": ".".join(loc) or "(body)", "message": str(err.get("msg", "invalid"))})
    return out


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if errors and errors[0].get("type") == "json_invalid":
        ctx = errors[0].get("ctx") or {}
        return error_response(400, "invalid_json", f"the body is not valid JSON: {ctx.get('error', '')}")
    fields = describe_validation(errors)
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:10])
    return error_response(422, "invalid_input", f"invalid request: {message}", fields=fields)


async def _data_error(request: Request, exc: Exception) -> Response:
    # PostgreSQL refused a value that passed validation: a NUL character, a
    # \u0000 escape in JSON, a JSON document nested too deep.
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return error_response(422, "invalid_input", f"the database refused a value: {reason}")


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: PostgreSQL unavailable: %s", request.method, request.url.path, exc)
    return error_response(503, "database_unavailable", "PostgreSQL is unavailable; try again shortly")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(JobdeskError, _jobdesk_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.DataError, _data_error)
    app.add_exception_handler(psycopg.errors.ProgramLimitExceeded, _data_error)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, before the app reads any of it.

    The body is read here, up to the limit, and handed on in one piece: a
    limit enforced while the app reads would surface as a parse error instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await error_response(400, "bad_request", "invalid Content-Length header")(scope, receive, send)
            return
        if declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        await error_response(413, "request_too_large", message)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, 0 when absent, None when unreadable."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return 0
