"""One JSON error shape for every error the API returns, and the handlers that produce it.

Every 4xx and 5xx answer has this body (``tests/test_api_errors.py`` pins it)::

    {"error": {"status": 422, "code": "invalid_region",
               "message": "region: Input should be 'NSW1', 'QLD1', 'SA1', 'TAS1' or 'VIC1'
                           (got 'XYZ1')",
               "parameter": "region", "value": "XYZ1",
               "allowed": ["NEM", "NSW1", "QLD1", "SA1", "TAS1", "VIC1"]}}

``status``, ``code`` and ``message`` are always there; ``parameter``, ``value``, ``allowed`` and
``limit`` when they apply. Codes are stable (clients branch on them, never on the message):

* 422 ``invalid_region``, ``invalid_fuel``, ``invalid_date``, ``invalid_range``,
  ``invalid_resolution``, ``invalid_format``, ``invalid_interconnector``, ``invalid_parameter``
  (any other), ``missing_parameter``, ``range_too_long`` (with ``limit``), ``query_refused``;
* 404 ``not_found`` (no such route) and ``*_not_found`` (e.g. ``station_not_found``);
  401 ``unauthorized`` (a bearer token is required or wrong); 405 ``method_not_allowed``;
* 503 ``store_unavailable`` (the lake or its manifest cannot be read), ``query_timeout``,
  ``temporarily_unavailable``; 500 ``internal_error`` (a bug: it is logged with its traceback).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nemdash.api.models import ErrorDetail, ErrorResponse
from nemdash.errors import (
    InvalidParameter,
    NemdashError,
    QueryError,
    StoreError,
    TransientError,
)

log = logging.getLogger(__name__)

#: Error code of a request parameter that fails validation, by parameter name.
PARAMETER_CODES: Mapping[str, str] = {
    "region": "invalid_region",
    "fuel": "invalid_fuel",
    "start": "invalid_date",
    "end": "invalid_date",
    "at": "invalid_date",
    "resolution": "invalid_resolution",
    "format": "invalid_format",
    "interconnector": "invalid_interconnector",
}
_HTTP_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    429: "too_many_requests",
}
#: Seconds a client is told to wait (``Retry-After``) after a 503.
RETRY_AFTER = 5
_VALUE_CHARS = 200

#: The OpenAPI description of the error answers every route may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "A bearer token is required or was wrong."},
    404: {"model": ErrorResponse, "description": "Not found."},
    422: {"model": ErrorResponse, "description": "A parameter is wrong (says which and why)."},
    503: {"model": ErrorResponse, "description": "The store cannot be read right now."},
}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    parameter: str | None = None,
    value: object = None,
    allowed: Sequence[str] | str | None = None,
    limit: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A response in the one error shape."""
    if isinstance(allowed, str):
        allowed = [allowed]
    detail = ErrorDetail(
        status=status,
        code=code,
        message=message,
        parameter=parameter,
        value=_show(value) if value is not None else None,
        allowed=list(allowed) if allowed is not None else None,
        limit=limit,
    )
    body = ErrorResponse(error=detail).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _show(value: object) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def _parameter_of(location: Sequence[object]) -> str:
    """The parameter name of a validation error's location (``("query", "region", 0)``)."""
    names = [str(part) for part in location[1:] if isinstance(part, str)]
    return names[0] if names else ".".join(map(str, location))


def install_error_handlers(app: FastAPI, allowed: Mapping[str, Sequence[str]]) -> None:
    """Make every error of ``app`` answer in the one shape; ``allowed`` lists the values
    accepted for each enumerated parameter (named in validation errors)."""

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        first = problems[0] if problems else {}
        parameter = _parameter_of(first.get("loc", ()))
        kind = str(first.get("type", ""))
        code = "missing_parameter" if kind == "missing" else PARAMETER_CODES.get(parameter)
        given = first.get("input")
        message = f"{parameter}: {first.get('msg', 'invalid value')}"
        if kind != "missing" and given is not None:
            message += f" (got {_show(given)!r})"
        if len(problems) > 1:
            others = sorted({_parameter_of(p.get("loc", ())) for p in problems[1:]})
            message += f"; also wrong: {', '.join(others)}"
        context = first.get("ctx") or {}
        bound = next((context[k] for k in ("le", "lt", "ge", "gt") if k in context), None)
        return error_response(
            422,
            code or "invalid_parameter",
            message,
            parameter=parameter,
            value=None if kind == "missing" else given,
            allowed=allowed.get(parameter),
            limit=bound if isinstance(bound, int) and not isinstance(bound, bool) else None,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.url.path} (see /docs for the API's routes)"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    async def invalid_parameter(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidParameter)
        status = 404 if exc.code.endswith("_not_found") else 422
        return error_response(
            status,
            exc.code,
            str(exc),
            parameter=exc.parameter,
            value=exc.value,
            allowed=exc.allowed,
            limit=exc.limit,
        )

    async def query_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc.__cause__, duckdb.InterruptException):
            return _unavailable("query_timeout", f"{exc}; try a shorter range")
        return error_response(422, "query_refused", str(exc))

    async def store_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("cannot read the store for %s: %s", request.url.path, exc)
        return _unavailable("store_unavailable", f"the store cannot be read: {exc}")

    async def transient(request: Request, exc: Exception) -> JSONResponse:
        return _unavailable("temporarily_unavailable", str(exc))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("error answering %s", request.url.path, exc_info=exc)
        return error_response(
            500,
            "internal_error",
            f"internal error ({type(exc).__name__}); it has been logged",
        )

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(InvalidParameter, invalid_parameter)
    app.add_exception_handler(QueryError, query_error)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(sqlite3.Error, store_error)
    app.add_exception_handler(duckdb.IOException, store_error)
    app.add_exception_handler(TransientError, transient)
    app.add_exception_handler(NemdashError, unexpected)
    app.add_exception_handler(Exception, unexpected)


def _unavailable(code: str, message: str) -> JSONResponse:
    return error_response(503, code, message, headers={"Retry-After": str(RETRY_AFTER)})
