"""The API docs pages, ``/docs`` (Swagger UI) and ``/redoc``, from files installed with the package.

FastAPI's own docs pages load Swagger UI from a CDN, so a server without internet
showed a blank page.  These serve the scripts and styles that the ``fastapi-offline``
package ships (part of the ``web`` extra) under ``/docs/assets``; the pages send a
Content-Security-Policy that lets nothing else be loaded.
"""

from __future__ import annotations

from importlib.util import find_spec

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS", "ASSETS_PACKAGE", "CSP", "add_docs"]

#: Where the docs pages' scripts, styles and icon are served.
ASSETS = "/docs/assets"
#: The package whose ``static`` folder holds Swagger UI and ReDoc.
ASSETS_PACKAGE = "fastapi_offline"
#: The docs pages' Content-Security-Policy: this server only.  Swagger UI starts from an
#: inline script and styles its elements inline; ReDoc runs its search in a blob worker.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'; form-action 'self'"
)
MISSING = (
    "<!doctype html><title>API docs</title><p>The API docs need the <code>fastapi-offline</code> package: "
    "<code>pip install 'lookalike[web]'</code>. The OpenAPI description is at "
    '<a href="/openapi.json">/openapi.json</a>.</p>'
)


def add_docs(app: FastAPI) -> None:
    """``/docs``, its OAuth2 redirect and ``/redoc`` on ``app`` (made with ``docs_url=None``)."""
    if find_spec(ASSETS_PACKAGE) is None:  # a partial install: say what is missing, load nothing

        @app.get("/docs", include_in_schema=False)
        async def missing() -> HTMLResponse:
            return HTMLResponse(MISSING, 503, _headers())

        return
    app.mount(ASSETS, StaticFiles(packages=[(ASSETS_PACKAGE, "static")]), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} · API",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        )
        return _secured(page)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return _secured(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} · API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return _secured(page)


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _secured(page: HTMLResponse) -> HTMLResponse:
    page.headers.update(_headers())
    return page
