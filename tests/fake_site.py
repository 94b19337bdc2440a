"""A small art site that tests serve themselves on 127.0.0.1: pages, images, archives, robots.txt.

The crawl tests drive it and so do the cluster tests; ``site`` is a pytest fixture.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import lookalike
from lookalike.collection import Collection

from conftest import encode, photo, zip_of

LAST_MODIFIED = "Sat, 21 Nov 2026 10:00:00 GMT"


@dataclass
class Site:
    """Routes by raw request target (path and query, as sent) and a log of (target, status)."""

    routes: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    faults: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)  # answered first
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # sent with a route's answers
    agents: set[str] = field(default_factory=set)  # User-Agent headers seen
    slow: dict[str, float] = field(default_factory=dict)  # seconds to wait before answering
    in_flight: int = 0
    peak: int = 0  # most requests answered at the same time
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[tuple[str, int]] = field(default_factory=list)
    base: str = ""
    hold: str | None = None  # a target whose answer waits for `release` (after `held` is set)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    needs: dict[str, dict[str, str]] = field(default_factory=dict)  # by path prefix: headers required (401)
    watch: str | None = None  # a request header whose value is logged in `watched`, per target
    watched: list[tuple[str, str | None]] = field(default_factory=list)

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
            site.agents.add(self.headers.get("User-Agent", ""))
            if site.watch:
                site.watched.append((self.path, self.headers.get(site.watch)))
            for prefix, needed in site.needs.items():
                if self.path.startswith(prefix) and any(self.headers.get(k) != v for k, v in needed.items()):
                    self._answer(401, b"a key is needed", "text/plain")
                    return
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
            extra = site.headers.get(self.path)
            if self.headers.get("If-None-Match") == etag:
                self._answer(304, b"", kind, etag, extra)
                return
            self._answer(200, body, kind, etag, extra)

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
            ' <img src="../img/a.png"> <img src="../img/b.png" alt="">'
            ' <picture><source srcset="../img/b2.png 2x"><img src="../img/b2-small.png"></picture>'
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


@contextlib.contextmanager
def served(site: Site) -> Iterator[Site]:
    """``site`` served on 127.0.0.1 (a port of its own) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with served(Site(routes=art_site())) as running:
        yield running


@pytest.fixture
def styles() -> Iterator[Site]:
    """:func:`styles_site`, served."""
    with served(Site(routes=styles_site())) as running:
        yield running


@pytest.fixture
def cdn() -> Iterator[Site]:
    """A second host (another port): a CDN with files, a page and a robots.txt of its own."""
    routes = {
        "/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain"),
        "/img/x.png": (_png(30), "image/png"),
        "/img/y.png": (_png(31), "image/png"),
        "/gallery.html": _html("<title>CDN gallery</title>", '<img src="/img/y.png">'),
    }
    with served(Site(routes=routes)) as running:
        yield running


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


# One work per markup style: (style, author, licence, tags, title); each page shows /styles/<style>.png
STYLES = {
    "jsonld": (
        "Ann Jsonld",
        "https://creativecommons.org/licenses/by/4.0/",
        ("wyvern", "ember"),
        "Ember wyvern",
    ),
    "microdata": (
        "Bo Micro",
        "https://creativecommons.org/licenses/by-sa/4.0/",
        ("sword", "steel"),
        "Steel sword",
    ),
    "opengraph": (
        "Cy Graph",
        "https://creativecommons.org/publicdomain/zero/1.0/",
        ("potion", "azure"),
        "Azure potion",
    ),
    "twitter": ("Di Card", "https://example.org/licence/free", ("goblin", "moss"), "Moss goblin"),
    "microformats": (
        "Ed Format",
        "https://creativecommons.org/licenses/by-nc/4.0/",
        ("castle", "dusk"),
        "Dusk castle",
    ),
    "dublincore": ("Fay Core", "CC0 1.0", ("tileset", "marsh"), "Marsh tileset"),
    "classwords": ("Gus Class", "https://opensource.org/licenses/MIT", ("knight", "amber"), "Amber knight"),
}


def _style_page(style: str, image: str) -> tuple[bytes, str]:
    author, licence, tags, title = STYLES[style]
    keywords = ", ".join(tags)
    img = f'<img src="{image}" alt="{title}">'
    if style == "jsonld":
        item = {
            "@context": "https://schema.org",
            "@type": "ImageObject",
            "name": title,
            "contentUrl": image,
            "author": {"@type": "Person", "name": author},
            "license": licence,
            "keywords": list(tags),
        }
        return _html(f'<title>Site</title><script type="application/ld+json">{json.dumps(item)}</script>', "")
    if style == "microdata":
        return _html(
            "<title>Site</title>",
            (
                '<div itemscope itemtype="https://schema.org/Product">'
                f'<h1 itemprop="name">{title}</h1><img itemprop="image" src="{image}">'
                f'<span itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">{author}</span></span>'
                f'<link itemprop="license" href="{licence}"><meta itemprop="keywords" content="{keywords}">'
                '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
                '<span itemprop="price" content="4.99">$4.99</span><meta itemprop="priceCurrency" content="USD"></div></div>'
            ),
        )
    if style == "opengraph":
        tags_meta = "".join(f'<meta property="article:tag" content="{t}">' for t in tags)
        return _html(
            f'<title>Site</title><meta property="og:title" content="{title}"><meta property="article:author" content="{author}">'
            f'{tags_meta}<link rel="license" href="{licence}">',
            img,
        )
    if style == "twitter":
        return _html(
            f'<title>Site</title><meta name="twitter:title" content="{title}"><meta name="twitter:creator" content="{author}">'
            f'<meta name="keywords" content="{keywords}"><meta name="dcterms.license" content="{licence}">',
            img,
        )
    if style == "microformats":
        tag_links = "".join(f'<a rel="tag" href="/tags/{t}">{t}</a>' for t in tags)
        return _html(
            "<title>Site</title>",
            (
                f'<article class="h-entry"><h1 class="p-name">{title}</h1>'
                f'<a class="p-author h-card" rel="author" href="/u/1">{author}</a>'
                f'<img class="u-photo" src="{image}">{tag_links}<a rel="license" href="{licence}">licence</a></article>'
            ),
        )
    if style == "dublincore":
        return _html(
            f'<title>Site</title><meta name="DC.title" content="{title}"><meta name="DC.creator" content="{author}">'
            f'<meta name="DC.rights" content="{licence}"><meta name="DC.subject" content="{keywords}">',
            img,
        )
    tag_items = "".join(f'<li><a href="/t/{t}">{t}</a></li>' for t in tags)
    return _html(
        f"<title>{title}</title>",
        (
            f"<figure>{img}<figcaption>{title}, drawn by hand</figcaption></figure>"
            f'<p class="artist-name">by <a href="/u/2">{author}</a></p>'
            f'<div id="license-block">Licence: <a href="{licence}">terms</a></div><ul class="post-tags">{tag_items}</ul>'
        ),
    )


def styles_site() -> dict[str, tuple[bytes, str]]:
    """A site whose work pages each use one markup style, reached from a sitemap (named in robots.txt),
    a feed and lazy-loaded, srcset and background images on the home page."""
    routes: dict[str, tuple[bytes, str]] = {
        "/robots.txt": (b"User-agent: *\nSitemap: /sitemap-index.xml\n", "text/plain"),
        "/": _html(
            '<title>Styles</title><link rel="alternate" type="application/rss+xml" href="/feed.xml">',
            '<img src="/blank.gif" data-src="/home/lazy.png">'
            ' <img srcset="/home/small.png 320w, /home/large.png 1280w" src="/home/small.png">'
            ' <div style="background-image: url(/home/bg.png)">banner</div>',
        ),
        "/sitemap-index.xml": (
            b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<sitemap><loc>/sitemap-works.xml</loc></sitemap></sitemapindex>",
            "application/xml",
        ),
        "/feed.xml": (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><item><title>Frost golem</title>'
            b"<link>/news/golem.html</link><description>A golem of ice</description><category>golem</category>"
            b'<category>frost</category><enclosure url="/news/golem.png" type="image/png" length="1"/></item></channel></rss>',
            "application/rss+xml",
        ),
        "/news/golem.html": _html("<title>Frost golem</title>", ""),
        "/news/golem.png": (_png(40), "image/png"),
    }
    urls = []
    for n, style in enumerate(STYLES):
        image = f"/styles/{style}.png"
        routes[f"/works/{style}.html"] = _style_page(style, image)
        routes[image] = (_png(20 + n), "image/png")
        urls.append(f"<url><loc>/works/{style}.html</loc></url>")
    urls.append(
        "<url><loc>/works/jsonld.html</loc><image:image><image:loc>/maps/map.png</image:loc>"
        "<image:caption>A hand drawn world map</image:caption><image:license>https://example.org/map-licence</image:license>"
        "</image:image></url>"
    )
    routes["/maps/map.png"] = (_png(41), "image/png")
    routes["/sitemap-works.xml"] = (
        (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">' + "".join(urls) + "</urlset>"
        ).encode(),
        "application/xml",
    )
    for name, seed in (("lazy", 42), ("large", 43), ("bg", 44)):
        routes[f"/home/{name}.png"] = (_png(seed), "image/png")
    return routes


def local_collection(tmp_path: Path, **crawl: object) -> Collection:
    """A collection in ``tmp_path/data`` that may fetch from loopback, with no politeness delay."""
    return lookalike.open(
        tmp_path / "data",
        fetch={"allow_networks": ["127.0.0.0/8"]},
        crawl={"delay": 0, **crawl},
        ingest={"workers": 1},
    )


def kill_crawl_while_held(server: Any, data: Path, *args: str) -> None:
    """Run ``lookalike crawl ARGS --data DATA`` (loopback allowed, no delay) and SIGKILL it while
    ``server`` holds one of its requests (``server.held`` set, ``server.release`` not yet), then let
    the server answer again: a crawl killed mid-way."""
    env = {
        **os.environ,
        "LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]',
        "LOOKALIKE_CRAWL__DELAY": "0",
        "LOOKALIKE_INGEST__WORKERS": "1",
    }
    command = [sys.executable, "-m", "lookalike", "crawl", *args, "--data", str(data)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert server.held.wait(60), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        server.release.set()
        if process.poll() is None:
            process.kill()
