"""The ASGI application: FastAPI with the routes, scoped bearer tokens, rate limits and one error shape.

FastAPI because it derives /openapi.json from the pydantic models and signatures (schemathesis
tests the server against exactly that document) and serves the docs page at /docs; it runs on
anyio, which runs on trio, so the app lives in the CSMS's own trio loop (see ``server``). The docs
page and its Swagger UI / ReDoc assets are served from the ``fastapi-offline`` package's files
(``adapters.api.docs``), so /docs works without reaching a CDN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import trio
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.api import charging, commands, docs, needs, nodes, security, sites, upstream
from adapters.api.json_body import JSONBody
from adapters.api.options import ApiOptions
from adapters.api.problems import ApiProblem, install_problem_handlers, problem
from adapters.api.reads import metrics_router, router
from adapters.api.scopes import RateLimiter, Scope, ScopedTokens, retry_after

if TYPE_CHECKING:
    from adapters.csms import Csms

DESCRIPTION = """Operator API of a chargeward CSMS: stations, commands, transactions, events.

Authenticate with `Authorization: Bearer <token>` when the server has tokens configured (stored as
`sha256:` hashes; `chargeward token new --scope SCOPE` makes one). A token's scope decides what it may
do: `read` (GET routes and /metrics), `command` (also commands to stations), `admin` (also station
password rotation; `[api] tokens`), `metrics` (only /metrics). Each token is rate-limited: 429 with
Retry-After. Without tokens the API only listens on loopback and asks for none.

Every error answers with a `Problem` body: `error` (a stable kind) and `message`.
"""

_bearer = HTTPBearer(auto_error=False, description="an API token from `chargeward token new`")


def _require(tokens: ScopedTokens, limiter: RateLimiter, needed: Scope) -> Any:
    async def require_token(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        found = tokens.scope_of(credentials.credentials) if credentials is not None else None
        if found is None:
            raise ApiProblem(
                401,
                "unauthorized",
                "missing or unknown bearer token" if credentials is None else "unknown bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scope, key = found
        if not scope.allows(needed):
            raise ApiProblem(
                403,
                "forbidden",
                f"this token's scope is {scope.name.lower()}; this needs {needed.name.lower()}",
            )
        wait = limiter.take(key, trio.current_time())
        if wait is not None:
            raise ApiProblem(
                429,
                "rate_limited",
                f"this token's rate limit is reached; retry in {retry_after(wait)} s",
                headers={"Retry-After": retry_after(wait)},
            )

    return require_token


def build_app(csms: Csms, options: ApiOptions) -> FastAPI:
    """The API app for ``csms``; it requires a token of the right scope on every route when
    ``options`` has tokens."""
    app = FastAPI(
        title="chargeward operator API",
        version="1",
        description=DESCRIPTION,
        responses={422: problem("the request does not match this document")},
        default_response_class=JSONBody,
        docs_url=None,
        redoc_url=None,
    )
    app.state.csms = csms
    install_problem_handlers(app)
    docs.install(app)
    tokens = ScopedTokens(options.scopes())
    limiter = RateLimiter(options.rate_limit, options.rate_burst)

    def guard(needed: Scope) -> dict[str, Any]:
        if not tokens:
            return {}
        return {
            "dependencies": [Depends(_require(tokens, limiter, needed))],
            "responses": {
                401: problem("missing or unknown bearer token"),
                403: problem(f"the token's scope does not include {needed.name.lower()}"),
                429: problem("the token's rate limit is reached (rate_limited); see Retry-After"),
            },
        }

    app.include_router(router, **guard(Scope.READ))
    app.include_router(charging.router, **guard(Scope.READ))
    app.include_router(commands.router, **guard(Scope.COMMAND))
    app.include_router(needs.router, **guard(Scope.READ))
    app.include_router(needs.writes, **guard(Scope.COMMAND))
    app.include_router(nodes.router, **guard(Scope.READ))
    app.include_router(security.router, **guard(Scope.ADMIN))
    app.include_router(sites.router, **guard(Scope.READ))
    app.include_router(sites.writes, **guard(Scope.COMMAND))
    app.include_router(upstream.router, **guard(Scope.READ))
    app.include_router(metrics_router, **guard(Scope.METRICS))
    return app
