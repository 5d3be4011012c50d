"""Error responses: one JSON shape (:class:`~adapters.api.models.Problem`) for every failure.

Route code raises :class:`ApiProblem`; FastAPI's own request-validation and routing errors are
rewritten into the same shape, so a client parses one kind of error body and /openapi.json can
document it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from adapters.api.json_body import JSONBody
from adapters.api.models import Problem


class ApiProblem(Exception):
    """An error answer: HTTP ``status``, the stable ``error`` kind, a message and optional extras."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = Problem(error=error, message=message, **extra)
        self.headers = headers


def unknown_station(station_id: str) -> ApiProblem:
    return ApiProblem(404, "unknown_station", f"no station {station_id!r} has ever connected")


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a Problem answer."""
    return {"model": Problem, "description": description}


def _answer(status: int, body: Problem, headers: Mapping[str, str] | None = None) -> JSONBody:
    return JSONBody(jsonable_encoder(body, exclude_none=True), status_code=status, headers=headers)


async def _on_problem(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, ApiProblem)
    return _answer(exc.status, exc.body, exc.headers)


async def _on_invalid_request(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return _answer(422, Problem(error="invalid_request", message=message, details=errors))


async def _on_http_error(request: Request, exc: Exception) -> JSONBody:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed(request))}
    return _answer(exc.status_code, Problem(error=kind, message=str(exc.detail)), headers)


def _allowed(request: Request) -> list[str]:
    """Every method /openapi.json documents at this path: Starlette's 405 names only
    the first route's, and a path served by several routes (GET and PUT of one resource) has more."""
    path = request.url.path
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)), path):
            methods |= {method.upper() for method in item if method != "parameters"}
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_invalid_request)
    app.add_exception_handler(HTTPException, _on_http_error)
