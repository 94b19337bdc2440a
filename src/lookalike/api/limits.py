"""Request body limit: uploads larger than ``serve.max_upload_bytes`` get HTTP 413.

A pure ASGI middleware, so it counts bytes as they arrive, before any parser
spools them to disk.  A request that declares a larger ``Content-Length`` is
refused before it is parsed; one that sends more than it declared (or sends
chunks) is stopped when it crosses the limit.  Either way the rest of the body
is read and dropped, up to :data:`DRAIN_BYTES`, so the client reads the 413
answer instead of a reset connection.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookalike.api.errors import ApiError

__all__ = ["DRAIN_BYTES", "BodyLimit", "too_large"]

#: Most bytes of an oversized body read and dropped before answering 413.
DRAIN_BYTES = 256 * 1024 * 1024
#: Room for multipart boundaries, headers and form fields beside the image itself.
OVERHEAD = 64 * 1024

ErrorResponder = Callable[[Scope, ApiError], ASGIApp]


class BodyLimit:
    """Refuse request bodies too large for an upload of ``max_upload`` bytes with a 413 answer.

    The body may hold the image base64-encoded in JSON, so the limit on the whole
    body is 4/3 of ``max_upload`` plus :data:`OVERHEAD`; routes check the image itself.
    """

    def __init__(self, app: ASGIApp, max_upload: int, respond: ErrorResponder) -> None:
        self.app, self.max_upload, self.respond = app, max_upload, respond
        self.limit = max_upload * 4 // 3 + OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            if declared <= DRAIN_BYTES:
                await _drain(receive, 0)
            await self.respond(scope, self._error())(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if message.get("more_body", False):
                        await _drain(receive, received)
                    raise self._error()
            return message

        await self.app(scope, counted, send)

    def _error(self) -> ApiError:
        return too_large(self.max_upload)


def too_large(max_upload: int) -> ApiError:
    """The 413 error of an upload over ``serve.max_upload_bytes``."""
    return ApiError(413, "too_large", f"the upload is larger than serve.max_upload_bytes={max_upload} bytes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain(receive: Receive, received: int) -> None:
    while received <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
