"""An in-process HTTP client for the ASGI app (httpx's ASGI transport), shared by the API tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class Client:
    """httpx's ASGI transport on an event loop in its own thread, so the tests stay plain functions
    (and never meet the loop that Playwright's sync API keeps in the main thread)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(120)

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.run(self.http.get(url, **options))

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.run(self.http.post(url, **options))

    def delete(self, url: str, **options: Any) -> httpx.Response:
        return self.run(self.http.delete(url, **options))

    def close(self) -> None:
        self.run(self.http.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def serving(app: Any) -> Iterator[Client]:
    client = Client(app)
    try:
        yield client
    finally:
        client.close()
