"""The ASGI application: FastAPI with the routes, bearer-token auth and one error shape.

FastAPI because it derives /openapi.json from the pydantic models and signatures (schemathesis
tests the server against exactly that document) and serves the docs page at /docs; it runs on
anyio, which runs on trio, so the app lives in the CSMS's own trio loop (see ``server``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.api import charging, commands, sites
from adapters.api.json_body import JSONBody
from adapters.api.options import ApiOptions
from adapters.api.problems import ApiProblem, install_problem_handlers, problem
from adapters.api.reads import metrics_router, router
from adapters.api.tokens import TokenCheck

if TYPE_CHECKING:
    from adapters.csms import Csms

DESCRIPTION = """Operator API of a chargeward CSMS: stations, commands, transactions, events.

Authenticate with `Authorization: Bearer <token>` when the server has tokens configured
(`[api] tokens`, stored as `sha256:` hashes; `chargeward token new` makes one). Without tokens
the API only listens on loopback and asks for none.

Every error answers with a `Problem` body: `error` (a stable kind) and `message`.
"""

_bearer = HTTPBearer(auto_error=False, description="an API token from `chargeward token new`")


def _require_token(check: TokenCheck) -> Any:
    async def require_token(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not check.accepts(credentials.credentials):
            raise ApiProblem(
                401,
                "unauthorized",
                "missing or unknown bearer token" if credentials is None else "unknown bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_token


def build_app(csms: Csms, options: ApiOptions) -> FastAPI:
    """The API app for ``csms``; it requires a token on every route when ``options.tokens`` is set."""
    app = FastAPI(
        title="chargeward operator API",
        version="1",
        description=DESCRIPTION,
        responses={422: problem("the request does not match this document")},
        default_response_class=JSONBody,
    )
    app.state.csms = csms
    install_problem_handlers(app)
    check = TokenCheck(options.tokens)
    guard = (
        {
            "dependencies": [Depends(_require_token(check))],
            "responses": {401: problem("missing or unknown bearer token")},
        }
        if check
        else {}
    )
    app.include_router(router, **guard)  # type: ignore[arg-type]
    app.include_router(charging.router, **guard)  # type: ignore[arg-type]
    app.include_router(commands.router, **guard)  # type: ignore[arg-type]
    app.include_router(sites.router, **guard)  # type: ignore[arg-type]
    app.include_router(metrics_router, **guard)  # type: ignore[arg-type]
    return app
