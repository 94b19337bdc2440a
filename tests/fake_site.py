"""A small art site that tests serve themselves on 127.0.0.1: pages, images, archives, robots.txt.

The crawl tests drive it and so do the cluster tests; ``site`` is a pytest fixture.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lookalike.collection import Collection

from conftest import encode, photo, zip_of

LAST_MODIFIED = "Sat, 21 Nov 2026 10:00:00 GMT"


@dataclass
class Site:
    """Routes by raw request target (path and query, as sent) and a log of (target, status)."""

    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    faults: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)  # answered first
    slow: dict[str, float] = field(default_factory=dict)  # seconds to wait before answering
    in_flight: int = 0
    peak: int = 0  # most requests answered at the same time
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[tuple[str, int]] = field(default_factory=list)
    base: str = ""
    hold: str | None = None  # a target whose answer waits for `release` (after `held` is set)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def requests(self) -> list[str]:
        return [target for target, _ in self.log]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            # counted while the request is worked on, not while its answer is written: a loaded
            # machine can run the client's next request before this thread gets back from writing
            with site.lock:
                site.in_flight += 1
                site.peak = max(site.peak, site.in_flight)
            try:
                time.sleep(site.slow.get(self.path, 0))
            finally:
                with site.lock:
                    site.in_flight -= 1
            self._get()

        def _get(self) -> None:
            if site.faults.get(self.path):
                status, headers = site.faults[self.path].pop(0)
                self._answer(status, b"try later", "text/plain", extra=headers)
                return
            route = site.routes.get(self.path)
            if route is None:
                self._answer(404, b"not here", "text/plain")
                return
            body, kind = route
            if self.path == site.hold:
                site.held.set()
                site.release.wait(30)
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, b"", kind, etag)
                return
            self._answer(200, body, kind, etag)

        def _answer(
            self,
            status: int,
            body: bytes,
            kind: str,
            etag: str | None = None,
            extra: dict[str, str] | None = None,
        ) -> None:
            site.log.append((self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a killed client
                    self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _png(seed: int) -> bytes:
    return encode(photo(seed, (64, 48)), "PNG")


def _html(head: str, body: str) -> tuple[bytes, str]:
    page = f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"
    return page.encode("utf-8"), "text/html; charset=utf-8"


def art_site() -> dict[str, tuple[bytes, str]]:
    """A listing, two content pages, tag pages, images, a zip, robots.txt, a private area."""
    return {
        "/robots.txt": (b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/": _html(
            "<title>Art site</title>",
            '<a href="work/1.html">Red dragon</a> <a href="/work/2.html?x=1&amp;y=2">Blue knight</a>'
            ' <a href="private/secret.html">secret</a> <a href="missing.html">gone</a>'
            ' <a href="http://elsewhere.invalid/page.html">elsewhere</a> <a href="#top">top</a>',
        ),
        "/work/1.html": _html(
            '<title>Red dragon | Art site</title><meta property="og:title" content="Red dragon">'
            '<meta property="og:description" content="A red dragon sprite">'
            '<meta name="author" content="Ann Artist">',
            '<a rel="tag" href="/tags/dragon.html">dragon</a> <a rel="tag" href="/tags/red.html">red</a>'
            ' <a rel="license" href="https://creativecommons.org/licenses/by/4.0/">CC-BY 4.0</a>'
            ' <img src="../img/a.png"> <img srcset="../img/b.png 1x, ../img/b2.png 2x" alt="">'
            ' <img src="/private/hidden.png"> <a href="../files/pack.zip">Download the pack</a>',
        ),
        "/work/2.html?x=1&y=2": _html(
            "<title>Blue knight</title>", '<img src="/img/c%20d.png"> <a href="1.html">see also</a>'
        ),
        "/tags/dragon.html": _html("<title>dragon</title>", '<a href="../work/1.html">Red dragon</a>'),
        "/tags/red.html": _html("<title>red</title>", ""),
        "/private/secret.html": _html("<title>secret</title>", '<img src="/private/p.png">'),
        "/private/hidden.png": (_png(90), "image/png"),
        "/private/p.png": (_png(91), "image/png"),
        "/img/a.png": (_png(1), "image/png"),
        "/img/b.png": (_png(2), "image/png"),
        "/img/b2.png": (_png(3), "image/png"),
        "/img/c%20d.png": (_png(4), "image/png"),
        "/files/pack.zip": (
            zip_of({"art/h.png": _png(5), "art/tiles/g.png": _png(6), "art/readme.txt": b"hello"}),
            "application/zip",
        ),
    }


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site(routes=art_site())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


def _indexed(collection: Collection) -> dict[str, tuple[str | None, str | None]]:
    """uri -> (page_url, title) of every usable place."""
    places = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())
    return {o.uri: (o.page_url, o.title) for found in places.values() for o in found}


def _expected(base: str) -> dict[str, tuple[str | None, str | None]]:
    red = (f"{base}/work/1.html", "Red dragon")
    return {
        f"{base}/img/a.png": red,
        f"{base}/img/b.png": red,
        f"{base}/img/b2.png": red,
        f"{base}/files/pack.zip!/art/h.png": red,
        f"{base}/files/pack.zip!/art/tiles/g.png": red,
        f"{base}/img/c%20d.png": (f"{base}/work/2.html?x=1&y=2", "Blue knight"),
    }
