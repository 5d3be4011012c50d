"""Serve the API app with hypercorn's trio worker, inside the CSMS's own trio nursery.

hypercorn drives the ASGI app on the running trio loop (no asyncio, no second process); with
port 0 the OS picks a free port and :func:`serve_api` reports the one it got.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, cast

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

from adapters.api.app import build_app
from adapters.api.options import ApiOptions

if TYPE_CHECKING:
    from adapters.csms import Csms

logger = logging.getLogger("chargeward.api")


def _bind(options: ApiOptions) -> str:
    host = f"[{options.host}]" if ":" in options.host and not options.host.startswith("[") else options.host
    return f"{host}:{options.port}"


async def serve_api(
    csms: Csms, options: ApiOptions, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve until cancelled; ``task_status.started`` gets the bound port."""
    config = HypercornConfig()
    config.bind = [_bind(options)]
    config.accesslog = None
    config.errorlog = logger
    if options.tls_cert is not None and options.tls_key is not None:
        config.certfile, config.keyfile = options.tls_cert, options.tls_key  # TLS 1.2+, ECDHE+AESGCM
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(
                serve,
                cast(ASGIFramework, build_app(csms, options)),
                config,
                shutdown_trigger=trio.sleep_forever,
            )
        )
        port = int(binds[0].rsplit(":", 1)[1])
        scheme = "https" if options.tls_cert is not None else "http"
        logger.info("API on %s://%s:%d (docs at /docs)", scheme, options.host, port)
        task_status.started(port)
