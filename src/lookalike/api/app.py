"""The app factory: :func:`create_app` builds the FastAPI app over one collection.

``create_app(collection)`` serves an open collection (the caller closes it);
``create_app(settings)`` opens the collection at start-up and closes it at
shut-down.  If the collection cannot be opened, the app still starts and answers
503 until it can (it retries every few seconds).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from lookalike.api import browse, explore, pages, rest
from lookalike.api.docs import add_docs
from lookalike.api.errors import ApiError, body, describe
from lookalike.api.limits import BodyLimit
from lookalike.api.service import Service
from lookalike.collection import Collection
from lookalike.errors import BackendError, LookalikeError
from lookalike.settings import Settings, load_settings

__all__ = ["create_app"]

DESCRIPTION = """Self-hosted reverse image search over one collection.

Search by an uploaded image, an image URL, an indexed image's id, words, or an image
and words together; add and remove images; read an image's facts, thumbnail and file.
Errors are `{"error": {"reason": ..., "message": ...}}` with the HTTP status that fits.
Write endpoints need the API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) when
`serve.api_key` is set; without it they take only requests to a loopback `Host`.  A `POST` may
carry its fields in the query string too (`?k=5`).
"""


def create_app(source: Collection | Settings | None = None, watch: Sequence[str | Path] = ()) -> FastAPI:
    """The web service over a collection, or over the collection that ``settings`` name.

    ``watch``: folders a watcher keeps the collection in step with while the service runs (a
    thread of its own, started and stopped with the app; see :mod:`lookalike.usecases.watch`).
    """
    from lookalike import __version__

    if source is None:
        source = load_settings()
    service = Service(source)
    if watch:
        from lookalike.usecases.watch import Background

        service.watching = Background(service.settings, watch, log=_log)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(BackendError):  # answered with 503 until it opens
            await anyio.to_thread.run_sync(service.collection)
        if service.watching is not None:
            service.watching.start()
        try:
            yield
        finally:
            if service.watching is not None:
                await anyio.to_thread.run_sync(service.watching.stop)
            await anyio.to_thread.run_sync(service.close)

    app = FastAPI(
        title="lookalike",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package's own files, offline: add_docs
        redoc_url=None,
    )
    app.state.service = service
    app.state.limiter = anyio.CapacityLimiter(service.settings.serve.threads)
    _handle_errors(app)
    app.include_router(rest.router)
    app.include_router(browse.router)
    app.include_router(explore.router)
    app.include_router(pages.router)
    app.include_router(browse.pages)
    app.include_router(explore.pages)
    add_docs(app)
    app.mount("/static", StaticFiles(packages=[("lookalike", "web/static")]), name="static")
    app.add_middleware(BodyLimit, max_upload=service.settings.serve.max_upload_bytes, respond=_responder)
    return app


def _log(line: str) -> None:
    """What the watcher says, beside the server's own log lines."""
    import logging

    logging.getLogger("lookalike.watch").warning(line)


def _is_api(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    return path.startswith("/api/") or path == "/api" or path.startswith(("/docs", "/redoc", "/openapi"))


def error_response(request: Request, status: int, reason: str, message: str, **extra: Any) -> Response:
    """The error as JSON under /api, as a page elsewhere."""
    if _is_api(request.scope):
        content: dict[str, Any] = body((status, reason, message))
        content["error"].update(extra)
        return JSONResponse(content, status_code=status)
    return pages.error_page(request, status, reason, message)


def _responder(scope: Scope, error: ApiError) -> ASGIApp:
    """The answer of the body limit, before the app sees the request."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await error_response(request, error.status, error.reason, error.message)(scope, receive, send)

    return answer


def _handle_errors(app: FastAPI) -> None:
    async def lookalike_error(request: Request, exc: Exception) -> Response:
        status, reason, message = describe(exc)
        response = error_response(request, status, reason, message)
        if isinstance(exc, ApiError):
            response.headers.update(exc.headers)
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        response = error_response(request, exc.status_code, reason, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        message = "; ".join(f"{p['where']}: {p['message']}" for p in problems) or "invalid request"
        return error_response(request, 422, "invalid_request", message, detail=problems)

    async def unexpected(request: Request, exc: Exception) -> Response:
        status, reason, message = describe(exc)
        return error_response(request, status, reason, message)

    app.add_exception_handler(LookalikeError, lookalike_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def app_from_environment() -> FastAPI:
    """The app of each server process when ``serve.workers`` > 1 (settings from the environment)."""
    return create_app(load_settings())
