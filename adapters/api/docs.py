"""/docs (Swagger UI) and /redoc with their assets served by this server, not loaded from a CDN.

The assets are the files the ``fastapi-offline`` package ships (Swagger UI's bundle and CSS, ReDoc's
standalone bundle): an operator on an isolated site network gets a working docs page, and the page
loads no third-party script into a browser that holds an API token. Only the files are used; the
package's ``FastAPIOffline`` class is not needed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def assets_directory() -> Path:
    return Path(str(files("fastapi_offline").joinpath("static")))


def install(app: FastAPI) -> None:
    """Add GET /docs, /redoc and the assets under /docs/assets (all open, like /openapi.json)."""
    app.mount(ASSETS, StaticFiles(directory=assets_directory()), name="docs-assets")

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
