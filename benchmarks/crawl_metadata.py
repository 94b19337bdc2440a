"""Crawl metadata recall: author, licence, tags and title read from each markup style.

A generated gallery site served on 127.0.0.1: ``--per-style`` work pages in each
markup style (schema.org JSON-LD, schema.org microdata, OpenGraph, Twitter cards,
microformats, Dublin Core, class and id words, labelled rows), each with one image and
every ``--zip-every``-th with a zip of two more (archive members take the page's
metadata too).  Every page has the same chrome: a header, a listing's pagination, a
"popular tags" cloud and a copyright footer.  Work pages are reached from paginated
listings and from a sitemap that robots.txt names.  Nothing is configured: no
``crawl.selectors``.

Measured per style, over every file (images and archive members):

* **recall** of author, licence and title (the value read equals the page's) and of
  tags (the share of the page's tags found);
* **tag precision**: the share of the tags read that are the page's (the tag cloud is
  the trap).

Example::

    python benchmarks/crawl_metadata.py --per-style 20
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, print_machine, print_table, write_json
from crawl_throughput import generated_images

import lookalike

WORDS = [
    "amber",
    "azure",
    "castle",
    "dragon",
    "dusk",
    "ember",
    "frost",
    "goblin",
    "golem",
    "harbour",
    "knight",
    "marsh",
    "moss",
    "potion",
    "steel",
    "sword",
    "tileset",
    "tower",
    "wyvern",
    "kite",
    "owl",
    "raven",
    "comet",
    "lantern",
    "meadow",
    "ruin",
    "sprite",
]
NAMES = [
    "Ann",
    "Bo",
    "Cy",
    "Di",
    "Ed",
    "Fay",
    "Gus",
    "Hal",
    "Ivy",
    "Jo",
    "Kai",
    "Lu",
    "Mo",
    "Ned",
    "Oli",
    "Pia",
]
LICENCES = [
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/licenses/by-sa/4.0/",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "https://opensource.org/licenses/MIT",
]
STYLES = ("jsonld", "microdata", "opengraph", "twitter", "microformats", "dublincore", "classwords", "labels")
CLOUD = ("popular", "trending", "featured")


def _work(rng: random.Random, n: int) -> dict[str, Any]:
    tags = rng.sample(WORDS, 3)
    return {
        "title": f"{tags[0].title()} {rng.choice(WORDS)} {n}",
        "author": f"{rng.choice(NAMES)} {rng.choice(NAMES)}son",
        "licence": rng.choice(LICENCES),
        "tags": tags,
        "variant": rng.randrange(2),  # two ways of writing each style, as sites differ
    }


def _jsonld(w: dict[str, Any], image: str) -> str:
    t, a, lic, tags = w["title"], w["author"], w["licence"], w["tags"]
    if w["variant"]:
        item: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "ImageObject",
            "contentUrl": image,
            "name": t,
            "author": a,
            "license": {"@type": "CreativeWork", "url": lic},
            "keywords": tags,
        }
    else:
        item = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "name": f"{t} | Gallery"},
                {
                    "@type": "VisualArtwork",
                    "name": t,
                    "creator": {"@type": "Person", "name": a},
                    "license": lic,
                    "keywords": ", ".join(tags),
                    "image": {"@type": "ImageObject", "contentUrl": image},
                },
            ],
        }
    return f'<script type="application/ld+json">{json.dumps(item)}</script>'


def _head(style: str, w: dict[str, Any], image: str) -> str:
    t, a, lic, tags, v = w["title"], w["author"], w["licence"], w["tags"], w["variant"]
    handle = "@" + a.split()[0].lower()
    if style == "jsonld":
        return _jsonld(w, image)
    if style == "opengraph":
        metas = "".join(f'<meta property="article:tag" content="{x}">' for x in tags)
        author = (  # OpenGraph's article:author is a profile URL; the name is then in meta author
            f'<meta property="article:author" content="https://gallery.example/u/{handle[1:]}">'
            f'<meta name="author" content="{a}">'
            if v
            else f'<meta property="article:author" content="{a}">'
        )
        return (
            f'<meta property="og:title" content="{t}"><meta property="og:type" content="article">'
            f'{author}{metas}<link rel="license" href="{lic}">'
        )
    if style == "twitter":
        creator = f'<meta name="twitter:creator" content="{handle}"><meta name="author" content="{a}">'
        return (
            f'<meta name="twitter:card" content="summary_large_image"><meta name="twitter:title" content="{t}">'
            f"{creator if v else f'<meta name=twitter:creator content={json.dumps(a)}>'}"
            f'<meta name="keywords" content="{", ".join(tags)}"><link rel="license" href="{lic}">'
        )
    if style == "dublincore":
        if v:
            subjects = "".join(f'<meta name="dcterms.subject" content="{x}">' for x in tags)
            return (
                '<link rel="schema.DCTERMS" href="http://purl.org/dc/terms/">'
                f'<meta name="dcterms.title" content="{t}"><meta name="dcterms.creator" content="{a}">'
                f'<meta name="dcterms.license" content="{lic}">{subjects}'
            )
        return (
            f'<meta name="DC.title" content="{t}"><meta name="DC.creator" content="{a}">'
            f'<meta name="DC.rights" content="{lic}"><meta name="DC.subject" content="{"; ".join(tags)}">'
        )
    return ""


def _body(style: str, w: dict[str, Any], image: str, extra: str) -> str:
    t, a, lic, tags, v = w["title"], w["author"], w["licence"], w["tags"], w["variant"]
    img = f'<img src="{image}" alt="{t}">'
    if style == "microdata" and v:
        return (
            f'<div itemscope itemtype="https://schema.org/ImageObject"><h1 itemprop="name">{t}</h1>'
            f'<img itemprop="contentUrl" src="{image}"><span itemprop="author">{a}</span>'
            f'<link itemprop="license" href="{lic}"><span itemprop="keywords">{", ".join(tags)}</span>'
            f"{extra}</div>"
        )
    if style == "microdata":
        return (
            f'<div itemscope itemtype="https://schema.org/CreativeWork"><h1 itemprop="name">{t}</h1>'
            f'<img itemprop="image" src="{image}"><p>by <span itemprop="author" itemscope '
            f'itemtype="https://schema.org/Person"><span itemprop="name">{a}</span></span></p>'
            f'<a itemprop="license" href="{lic}">licence</a><meta itemprop="keywords" content="{",".join(tags)}">'
            f"{extra}</div>"
        )
    if style == "microformats":
        if v:
            words = " ".join(f'<span class="p-category">{x}</span>' for x in tags)
            author = f'<div class="p-author h-card"><span class="p-name">{a}</span></div> {words}'
        else:
            links = " ".join(f'<a rel="tag" href="/tag/{x}.html">{x}</a>' for x in tags)
            author = f'<a class="p-author h-card" href="/u/{a.split()[0]}.html">{a}</a> {links}'
        return (
            f'<article class="h-entry"><h1 class="p-name">{t}</h1><img class="u-photo" src="{image}">'
            f'{author}<a rel="license" href="{lic}">some rights reserved</a>{extra}</article>'
        )
    if style == "classwords":
        if v:
            return (
                f'<h1>{t}</h1>{img}<span class="byline">by {a}</span>'
                f'<p class="license">Licensed under <a href="{lic}">these terms</a></p>'
                f'<div class="tags">Tags: {", ".join(tags)}</div>{extra}'
            )
        items = "".join(f'<li><a href="/tag/{x}.html">{x}</a></li>' for x in tags)
        return (
            f'<h1 class="work-title">{t}</h1><figure>{img}<figcaption>{t}</figcaption></figure>'
            f'<div class="artist-info">Artist: <a href="/u/{a.split()[0]}.html">{a}</a></div>'
            f'<div id="license-box"><a href="{lic}">Licence terms</a></div><ul class="post-tags">{items}</ul>{extra}'
        )
    if style == "labels":
        if v:
            links = ", ".join(f'<a href="/tag/{x}.html">{x}</a>' for x in tags)
            return (
                f"<h1>{t}</h1>{img}<dl><dt>Artist:</dt><dd>{a}</dd><dt>Licence:</dt>"
                f'<dd><a href="{lic}">terms</a></dd><dt>Tags:</dt><dd>{links}</dd></dl>{extra}'
            )
        return (
            f"<h1>{t}</h1>{img}<table><tr><th>Artist</th><td>{a}</td></tr>"
            f'<tr><th>License</th><td><a href="{lic}">{lic.split("/")[-2] or "terms"}</a></td></tr>'
            f"<tr><th>Tags</th><td>{', '.join(tags)}</td></tr></table>{extra}"
        )
    return f"<h1>{t}</h1>{img}{extra}"


def _chrome(listing: int) -> tuple[str, str]:
    cloud = "".join(f'<a href="/tag/{x}.html">{x}</a> ' for x in CLOUD)
    top = f'<header><a href="/">Gallery</a> <nav><a href="/list/{listing}.html">back to listing</a></nav></header>'
    bottom = f'<aside class="sidebar"><h3>Popular</h3>{cloud}</aside><footer class="copyright">© 2026 Gallery</footer>'
    return top, bottom


def _zip(images: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, data in enumerate(images):
            archive.writestr(f"pack/{n}.png", data)
    return buffer.getvalue()


def build_site(
    per_style: int, zip_every: int, seed: int
) -> tuple[dict[str, bytes], dict[str, tuple[str, dict[str, Any]]]]:
    """The routes, and each file's path -> (style, the work it shows)."""
    rng = random.Random(seed)
    total = per_style * len(STYLES)
    images = generated_images(total * 3)
    routes: dict[str, bytes] = {}
    truth: dict[str, tuple[str, dict[str, Any]]] = {}
    pages: list[str] = []
    for n in range(total):
        style = STYLES[n % len(STYLES)]
        work, image = _work(rng, n), f"/img/{n}.png"
        routes[image] = images[n]
        truth[image] = (style, work)
        extra = ""
        if zip_every and n % zip_every == 0:
            routes[f"/files/{n}.zip"] = _zip(images[total + 2 * n : total + 2 * n + 2])
            truth[f"/files/{n}.zip!/pack/0.png"] = truth[f"/files/{n}.zip!/pack/1.png"] = (style, work)
            extra = f'<a href="/files/{n}.zip">download the pack</a>'
        top, bottom = _chrome(n // 10)
        head = f"<title>{work['title']} | Gallery</title>{_head(style, work, image)}"
        body = top + _body(style, work, image, extra) + bottom
        routes[f"/work/{n}.html"] = (
            f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()
        )
        pages.append(f"/work/{n}.html")
    for listing in range(0, total, 10):
        links = "".join(f'<a href="{p}">work</a> ' for p in pages[listing : listing + 10])
        more = f'<a href="/list/{listing // 10 + 1}.html">next</a>' if listing + 10 < total else ""
        routes[f"/list/{listing // 10}.html"] = f"<html><body>{links}{more}</body></html>".encode()
    routes["/"] = b'<html><body><a href="/list/0.html">works</a></body></html>'
    urls = "".join(f"<url><loc>{p}</loc></url>" for p in pages)
    routes["/sitemap.xml"] = (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()
    routes["/robots.txt"] = b"User-agent: *\nAllow: /\nSitemap: /sitemap.xml\n"
    return routes, truth


def serve(routes: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    kinds = {
        ".html": "text/html; charset=utf-8",
        ".xml": "application/xml",
        ".zip": "application/zip",
        ".png": "image/png",
        ".txt": "text/plain",
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            kind = next((k for suffix, k in kinds.items() if self.path.endswith(suffix)), "text/html")
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def score(
    places: dict[str, Any], base: str, truth: dict[str, tuple[str, dict[str, Any]]]
) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, float]] = {
        s: dict.fromkeys(("files", "found", "author", "licence", "title", "tags", "tag_precision"), 0.0)
        for s in STYLES
    }
    for path, (style, work) in truth.items():
        row = sums[style]
        row["files"] += 1
        place = places.get(base + path)
        if place is None:
            continue
        row["found"] += 1
        row["author"] += place.extra.get("author") == work["author"]
        row["licence"] += place.extra.get("licence") == work["licence"]
        row["title"] += place.title == work["title"]
        got = set(place.tags)
        row["tags"] += len(got & set(work["tags"])) / len(work["tags"])
        row["tag_precision"] += len(got & set(work["tags"])) / len(got) if got else 0.0
    return {s: {k: (v / r["files"] if k != "files" else v) for k, v in r.items()} for s, r in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-style", type=int, default=20, help="Work pages in each markup style.")
    parser.add_argument(
        "--zip-every", type=int, default=5, help="Every n-th page also links a zip (0: none)."
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="Write the figures as JSON to this file ('-': stdout).")
    args = parser.parse_args()
    routes, truth = build_site(args.per_style, args.zip_every, args.seed)
    server, base = serve(routes)
    facts = machine()
    print_machine(facts)
    with tempfile.TemporaryDirectory() as home:
        settings = {
            "fetch": {"allow_networks": ["127.0.0.0/8"]},
            "crawl": {"delay": 0},
            "ingest": {"workers": 1},
        }
        with lookalike.open(home, **settings) as collection:  # type: ignore[arg-type]
            began = time.perf_counter()
            report = collection.crawl([base + "/"])
            seconds = time.perf_counter() - began
            found = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())
            places = {o.uri: o for group in found.values() for o in group}
    server.shutdown()
    figures = score(places, base, truth)
    rows = [
        [s, int(f["files"]), f["found"], f["author"], f["licence"], f["tags"], f["title"], f["tag_precision"]]
        for s, f in figures.items()
    ]
    print(
        f"site: {len(STYLES)} styles x {args.per_style} pages, {len(truth)} files; crawl {seconds:.1f} s "
        f"({report.pages} pages, {report.files} files)"
    )
    print_table(["style", "files", "found", "author", "licence", "tags", "title", "tag precision"], rows)
    worst = min(min(f[k] for k in ("author", "licence", "tags", "title")) for f in figures.values())
    print(f"lowest recall of any field in any style: {worst:.3f} (target >= 0.95)")
    if args.json:
        write_json(args.json, {"machine": facts, "args": vars(args), "seconds": seconds, "styles": figures})


if __name__ == "__main__":
    main()
