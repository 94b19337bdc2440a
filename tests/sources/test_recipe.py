"""Crawl recipes: a small shop's JSON API that the tests serve themselves on 127.0.0.1."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lookalike.catalog import Catalog
from lookalike.cli import render
from lookalike.cli.main import app
from lookalike.errors import ConfigError
from lookalike.records import CrawlUrl
from lookalike.sources.crawl.recipe import LISTING, load_recipe, parse_recipe

from fake_site import Site, _handler, _indexed, _png, kill_crawl_while_held, local_collection

runner = CliRunner()
JSON = "application/json"

#: The shop's products; the API serves them 2 to a page in three styles of pagination.
PRODUCTS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Red dragon mug",
        "handle": "red-dragon-mug",
        "body_html": "<p>A <b>red</b> mug with a dragon</p>",
        "price": 12.5,
        "currency": "EUR",
        "tags": ["mug", "dragon"],
        "vendor": "Acme",
        "images": [{"src": "/img/1.png"}, {"src": "/img/2.png"}],
    },
    {
        "id": 2,
        "name": "Blue knight poster",
        "handle": "blue-knight-poster",
        "body_html": "A poster",
        "price": "9.00",
        "currency": "EUR",
        "tags": "poster, knight",
        "vendor": "Acme",
        "images": [{"src": "http://HOST/img/3.png"}],
    },
    {"id": 3, "name": "Gift card", "handle": "gift-card", "price": 25, "tags": [], "images": []},
    {
        "id": 4,
        "name": "Green goblin sticker",
        "handle": "green-goblin-sticker",
        "price": 2,
        "tags": ["sticker", "goblin"],
        "images": [{"src": "/img/4.png"}],
    },
    {
        "id": 5,
        "name": "Golden lamp",
        "handle": "golden-lamp",
        "price": 40,
        "tags": "lamp",
        "images": [{"src": "/img/5.png"}, {"src": "/img/5.png"}],  # the same image twice: one URL
    },
]
PER_PAGE = 2
PAGES = 3  # pages with items; a fourth is empty


def shop_routes(base: str) -> dict[str, tuple[bytes, str]]:
    """The images, and the same products paged by number, by offset and by next links."""
    products = json.loads(json.dumps(PRODUCTS).replace("http://HOST", base))
    routes = {f"/img/{n}.png": (_png(40 + n), "image/png") for n in range(1, 6)}
    for page in range(PAGES + 1):
        items = products[page * PER_PAGE : (page + 1) * PER_PAGE]
        routes[f"/api/products?page={page + 1}"] = (json.dumps({"data": {"products": items}}).encode(), JSON)
        offset = page * PER_PAGE
        routes[f"/api/list?offset={offset}&limit={PER_PAGE}"] = (json.dumps(items).encode(), JSON)
        if page < PAGES:
            following: str | None = f"/api/cursor?after={offset + PER_PAGE}"  # relative, then absolute
            if page == 1:
                following = base + str(following)
            if page == PAGES - 1:
                following = None
            cursor = "/api/cursor" + (f"?after={offset}" if page else "")
            routes[cursor] = (json.dumps({"results": items, "links": {"next": following}}).encode(), JSON)
            routes[f"/api/linked?page={page + 1}"] = (json.dumps({"items": items}).encode(), JSON)
    return routes


#: HTTP Link headers of the shop's fourth style of pagination: relative, then absolute, then none.
LINKS = {
    "/api/linked?page=1": '</api/linked?page=2>; rel="next"',
    "/api/linked?page=2": '</api/linked?page=1>; rel="prev", <BASE/api/linked?page=3>; rel="next"',
    "/api/linked?page=3": '</api/linked?page=2>; rel="prev"',
}


@pytest.fixture
def shop() -> Iterator[Site]:
    site = Site()

    class Handler(_handler(site)):  # type: ignore[misc]  # the test site's, with Link headers
        def end_headers(self) -> None:
            if self.path in LINKS:
                self.send_header("Link", LINKS[self.path].replace("BASE", site.base))
            super().end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    site.routes = shop_routes(site.base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


FIELDS = """
[fields]
images = "images[*].src"
title = "name"
description = "body_html"
price = "price"
currency = "currency"
tags = "tags"
link = "/products/{handle}"

[fields.extra]
vendor = "vendor"
sku = "id"
"""
PAGINATION = {
    "page": ('url = "{base}/api/products?page={{page}}"\nitems = "data.products"', 'kind = "page"'),
    "offset": (
        'url = "{base}/api/list?offset={{offset}}&limit={{limit}}"',
        f'kind = "offset"\nlimit = {PER_PAGE}',
    ),
    "next": ('url = "{base}/api/cursor"\nitems = "$.results"', 'kind = "next"\nfield = "links.next"'),
    "link": ('url = "{base}/api/linked?page=1"\nitems = "items"', 'kind = "next"'),  # the Link header
}


def write_recipe(tmp_path: Path, base: str, kind: str = "page", more: str = "", name: str = "shop") -> Path:
    head, pagination = PAGINATION[kind]
    path = tmp_path / f"{name}.toml"
    text = f"{head.format(base=base)}\n\n[pagination]\n{pagination}\n{more}\n{FIELDS}"
    path.write_text(text, encoding="utf-8")
    return path


def expected(base: str) -> dict[str, tuple[str | None, str | None]]:
    """uri -> (page_url, title) of every image the shop's items name."""
    page = f"{base}/products/"
    return {
        f"{base}/img/1.png": (page + "red-dragon-mug", "Red dragon mug"),
        f"{base}/img/2.png": (page + "red-dragon-mug", "Red dragon mug"),
        f"{base}/img/3.png": (page + "blue-knight-poster", "Blue knight poster"),
        f"{base}/img/4.png": (page + "green-goblin-sticker", "Green goblin sticker"),
        f"{base}/img/5.png": (page + "golden-lamp", "Golden lamp"),
    }


def api_requests(site: Site) -> list[str]:
    return [t for t in site.requests() if t.startswith("/api/")]


@pytest.mark.parametrize("kind", ["page", "offset", "next", "link"])
def test_each_kind_of_pagination_reads_every_page_and_indexes_every_item(
    tmp_path: Path, shop: Site, kind: str
) -> None:
    with local_collection(tmp_path) as collection:
        report = collection.crawl([], recipe=write_recipe(tmp_path, shop.base, kind))
        assert _indexed(collection) == expected(shop.base)
        status = collection.crawl_status()
    pages = PAGES if kind in ("next", "link") else PAGES + 1  # number and offset stop at the empty page
    assert report.pages == pages and len(api_requests(shop)) == pages
    assert report.items == 5 and report.items_without_images == 1  # the gift card  # type: ignore[attr-defined]
    assert report.image_urls == 5 and report.files == 5 and report.images_new == 5  # type: ignore[attr-defined]
    assert status["urls"][LISTING] == {"pending": 0, "done": pages, "failed": 0, "refused": 0}
    assert sorted(shop.requests()) == sorted(set(shop.requests()))  # nothing fetched twice


def test_the_mapped_fields_are_searchable_and_shown_with_results(tmp_path: Path, shop: Site) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([], recipe=write_recipe(tmp_path, shop.base))
        found = collection.search(text="knight", include_junk=True)  # a tag, from a comma string
        mug = collection.search(text="dragon", include_junk=True)
    place = found[0].occurrences[0]
    assert (
        place.uri == f"{shop.base}/img/3.png" and place.page_url == f"{shop.base}/products/blue-knight-poster"
    )
    assert place.tags == ("poster", "knight") and place.title == "Blue knight poster"
    assert place.extra == {"price": "9.00", "currency": "EUR", "vendor": "Acme", "sku": 2}
    first = next(o for r in mug for o in r.occurrences if o.uri.endswith("/img/1.png"))
    assert first.text == "A red mug with a dragon" and first.extra["price"] == 12.5  # markup read as words


def test_max_pages_of_a_recipe_ends_the_pagination(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base, "page", more="max_pages = 2")
    with local_collection(tmp_path) as collection:
        report = collection.crawl([], recipe=recipe)
        assert report.pages == 2 and collection.stats()["images"] == 4
    assert api_requests(shop) == ["/api/products?page=1", "/api/products?page=2"]


def test_running_again_fetches_nothing_and_a_recrawl_asks_conditionally(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base)
    with local_collection(tmp_path) as collection:
        collection.crawl([], recipe=recipe)
        before, places = len(shop.log), collection.stats()["occurrences"]
        again = collection.crawl([], recipe=recipe)
        assert len(shop.log) == before and again.pages == again.files == 0
        recrawl = collection.crawl([], recipe=recipe, recrawl=True)
        assert collection.stats()["occurrences"] == places and _indexed(collection) == expected(shop.base)
    assert {status for target, status in shop.log[before:] if target != "/robots.txt"} == {
        304
    }  # all unchanged
    # the API pages are asked again (304); their images are not: a re-crawl is bounded by its pages
    assert recrawl.not_modified == PAGES + 1 and recrawl.images_new == 0


def test_max_pages_of_a_run_leaves_the_rest_for_the_next(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base)
    with local_collection(tmp_path) as collection:
        first = collection.crawl([], recipe=recipe, max_pages=1)
        assert first.pages == 1 and collection.crawl_status()["urls"][LISTING]["pending"] == 1
        collection.crawl([], recipe=recipe)
        assert _indexed(collection) == expected(shop.base)
    fetched = [t for t in shop.requests() if t != "/robots.txt"]  # read once per run
    assert sorted(fetched) == sorted(set(fetched))


def test_a_killed_recipe_crawl_resumes_with_nothing_lost_or_fetched_twice(tmp_path: Path, shop: Site) -> None:
    shop.hold = "/img/4.png"  # on the third page: the first two pages' images are committed by then
    recipe = write_recipe(tmp_path, shop.base)
    kill_crawl_while_held(shop, tmp_path / "data", "--recipe", str(recipe))
    first = shop.requests()
    with local_collection(tmp_path) as collection:
        assert 1 <= collection.stats()["images"] < 5  # the kill came mid-way
        collection.crawl([], recipe=recipe)
        assert _indexed(collection) == expected(shop.base) and collection.stats()["occurrences"] == 5
    again = shop.requests()[len(first) :]
    refetched = set(again) & set(first) - {shop.hold}
    assert shop.hold in again and not any(t.startswith("/api/") for t in refetched - {"/api/products?page=3"})
    assert len(refetched) < 4  # at most what was in flight (crawl.concurrency) when killed


def test_a_listing_that_is_not_json_fails_with_its_reason(tmp_path: Path, shop: Site) -> None:
    shop.routes["/api/products?page=2"] = (b"<html>maintenance</html>", "text/html")
    with local_collection(tmp_path) as collection:
        report = collection.crawl([], recipe=write_recipe(tmp_path, shop.base))
        status = collection.crawl_status()
        assert collection.stats()["images"] == 3  # the first page's
    assert report.failed == 1 and report.failures == {"unreadable": 1}
    assert status["failures"][0]["url"].endswith("/api/products?page=2")
    assert "not JSON" in status["failures"][0]["last_error"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('items = "x"\n[fields]\nimages = "a"', "url: Field required"),
        ('url = "{base}/?p={page}"\n[pagination]\nkind = "pages"\n[fields]\nimages = "a"', "pagination.kind"),
        ('url = "{base}/?p={page}"\n[pagination]\nkind = "page"\n[fields]\nimages = "a["', "fields.images"),
        (
            'url = "{base}/"\n[pagination]\nkind = "next"\nfield = "a..b"\n[fields]\nimages = "a"',
            "pagination.field: bad path",
        ),
        ('url = "{base}/"\n[pagination]\nkind = "page"\n[fields]\nimages = "a"', "needs {page} in the URL"),
        ('url = "{base}/?p={page}"\n[fields]\nimages = "a"', "does not fill {page}"),
        ('url = "{base}/"\n[fields]\nimages = "a"\ntitel = "name"', "fields.titel: Extra inputs"),
        (
            'url = "{base}/"\n[fields]\nimages = "a"\n[fields.extra]\nsku = "b..c"',
            "fields.extra: sku: bad path",
        ),
        ('url = "ftp://x/"\n[fields]\nimages = "a"', "not an http(s) URL"),
        ('url = "{base}/"\n[fields]', "fields.images: Field required"),
        ('url = "{base}/\n', "not valid TOML"),
    ],
)
def test_a_bad_recipe_is_refused_naming_the_key_and_nothing_is_made(
    tmp_path: Path, shop: Site, text: str, said: str
) -> None:
    recipe = tmp_path / "bad.toml"
    recipe.write_text(text.replace("{base}", shop.base), encoding="utf-8")
    result = runner.invoke(app, ["crawl", "--recipe", str(recipe), "--data", str(tmp_path / "data")])
    assert result.exit_code == 2 and said in " ".join(result.stderr.split()) and "bad.toml" in result.stderr
    assert not (tmp_path / "data").exists() and not shop.log


def test_a_missing_recipe_file_and_start_urls_with_a_recipe_are_refused(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["crawl", "--recipe", str(tmp_path / "none.toml"), "--data", str(tmp_path)])
    assert missing.exit_code == 2 and "cannot read the recipe" in missing.stderr
    both = runner.invoke(app, ["crawl", "http://a.example/", "--recipe", str(tmp_path / "x.toml")])
    assert both.exit_code == 2 and "takes no start URLs" in both.stderr
    with pytest.raises(ConfigError, match=r"pagination\.limit"):
        parse_recipe(
            {
                "url": "http://a.example/?o={offset}",
                "pagination": {"kind": "offset"},
                "fields": {"images": "a"},
            }
        )


def test_the_cli_crawls_a_recipe_and_search_shows_each_result_with_its_link(
    tmp_path: Path, shop: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = write_recipe(tmp_path, shop.base, "offset")
    data = ["--data", str(tmp_path / "data")]
    env = {"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_CRAWL__DELAY": "0"}
    crawled = runner.invoke(app, ["crawl", "--recipe", str(recipe), *data, "--json"], env=env)
    assert crawled.exit_code == 0, crawled.output
    report = json.loads(crawled.stdout)
    assert (report["items"], report["image_urls"], report["images_new"]) == (5, 5, 5)
    plain = runner.invoke(app, ["crawl", "--recipe", str(recipe), *data], env=env)
    assert "5 items read" not in plain.stdout and "0 items read" in plain.stdout  # nothing new on a re-run
    found = runner.invoke(app, ["search", "--text", "goblin", "--include-junk", *data, "--json"])
    results = json.loads(found.stdout)
    assert [o["uri"] for r in results for o in r["occurrences"]] == [f"{shop.base}/img/4.png"]
    place = results[0]["occurrences"][0]
    assert place["page_url"] == f"{shop.base}/products/green-goblin-sticker" and place["extra"]["price"] == 2
    status = runner.invoke(app, ["crawl", "status", *data])
    assert "listings: 0 pending, 4 done, 0 failed" in status.stdout
    out = io.StringIO()  # on a terminal, the table shows each place with its page
    monkeypatch.setattr(
        render, "console", Console(file=out, force_terminal=True, width=250, color_system=None)
    )
    runner.invoke(app, ["search", "--text", "goblin", "--include-junk", *data])
    assert f"page {shop.base}/products/green-goblin-sticker" in out.getvalue()


def test_a_queued_recipe_crawl_is_run_by_a_worker(tmp_path: Path, shop: Site) -> None:
    shop_file = write_recipe(tmp_path, shop.base, "next")
    queued = runner.invoke(
        app, ["crawl", "--recipe", str(shop_file), "--queue", "--json", "--data", str(tmp_path / "data")]
    )
    assert queued.exit_code == 0 and json.loads(queued.stdout) == {"queued": 1}, queued.output
    with local_collection(tmp_path) as collection:
        assert collection.enqueue_crawl([], recipe=load_recipe(shop_file)) == 0  # queued already
        assert shop.log == []  # queued, not crawled
    shop_file.unlink()  # a worker needs no file: the job holds the recipe
    result = runner.invoke(
        app,
        ["worker", "--drain", "--data", str(tmp_path / "data")],
        env={"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_CRAWL__DELAY": "0"},
    )
    assert result.exit_code == 0, result.output
    with local_collection(tmp_path) as collection:
        assert _indexed(collection) == expected(shop.base)


def test_listing_urls_live_in_the_frontier_on_every_catalog(catalog: Catalog) -> None:
    recipe = parse_recipe(
        {"url": "http://a.example/api?page={page}", "pagination": {"kind": "page"}, "fields": {"images": "i"}}
    )
    first = recipe.listing(0)
    assert catalog.frontier.add([first, CrawlUrl("http://a.example/i.png", "file")]) == 2
    claimed = catalog.frontier.claim(10, [LISTING])
    assert [(u.url, u.kind, u.depth) for u in claimed] == [("http://a.example/api?page=1", LISTING, 0)]
    assert parse_recipe(claimed[0].metadata["recipe"]) == recipe  # it keeps the recipe that reads it
    assert catalog.frontier.counts()[LISTING]["pending"] == 1
    now = CrawlUrl(
        "http://a.example/i.png", "file", page_url="http://a.example/p", metadata={"tags": ["new"]}
    )
    catalog.frontier.describe([now, CrawlUrl("http://a.example/unknown.png", "file", title="x")])
    assert catalog.frontier.get("http://a.example/i.png") == CrawlUrl(
        "http://a.example/i.png", "file", page_url="http://a.example/p", metadata={"tags": ["new"]}
    )
    assert catalog.frontier.get("http://a.example/unknown.png") is None  # describe adds nothing


def test_a_catalog_from_before_recipes_keeps_its_frontier(tmp_path: Path) -> None:
    import sqlite3

    from lookalike.catalog.schema import migrations
    from lookalike.catalog.sqlite import SqliteDatabase

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    for number, script in migrations("sqlite")[:7]:  # the frontier knew pages and files only
        old.executescript(f"{script}\nPRAGMA user_version = {number};")
    old.execute(
        "INSERT INTO crawl_url(url, kind, state, etag, metadata, updated_at, lease_until)"
        " VALUES ('http://a.example/', 'page', 'done', '\"e1\"', NULL, 1, NULL),"
        " ('http://a.example/i.png', 'file', 'pending', NULL, '{\"tags\": [\"x\"]}', 2, 5)"
    )
    old.commit()
    old.close()
    catalog = Catalog(SqliteDatabase(path))
    try:
        page, image = (
            catalog.frontier.get("http://a.example/"),
            catalog.frontier.get("http://a.example/i.png"),
        )
        assert page is not None and page.state == "done" and page.etag == '"e1"'
        assert image is not None and image.metadata == {"tags": ["x"]}
        assert catalog.frontier.add([CrawlUrl("http://a.example/api", LISTING)]) == 1
        claimed = catalog.frontier.claim(10, ["file", LISTING])
        assert [u.url for u in claimed] == [
            "http://a.example/i.png",
            "http://a.example/api",
        ]  # ids kept, in order
    finally:
        catalog.close()


def test_the_worked_example_of_the_docs_and_the_example_recipe_read_as_the_docs_say() -> None:
    import re
    import tomllib

    from lookalike.sources.crawl.recipe import item_entries

    root = Path(__file__).resolve().parents[2]
    section = (root / "docs" / "cli.md").read_text(encoding="utf-8").split("### `lookalike crawl --recipe")[1]
    answer = json.loads(re.findall(r"```json\n(.*?)```", section, re.S)[0])
    documented = parse_recipe(tomllib.loads(re.findall(r"```toml\n(.*?)```", section, re.S)[0]))
    assert load_recipe(root / "examples" / "recipes" / "shop.toml") == documented
    page = "https://shop.example/products.json?limit=50&page=1"
    assert documented.listing(0).url == page
    found = list(item_entries(documented, answer["products"][0], page))
    assert [e.url for e in found] == [
        "https://cdn.shop.example/files/mug-front.jpg",
        "https://cdn.shop.example/files/mug-back.jpg",
    ]
    assert {(e.page_url, e.title) for e in found} == {
        ("https://shop.example/products/dragon-mug", "Dragon mug")
    }
    assert found[0].metadata == {
        "text": "A mug with a red dragon",
        "tags": ["mug", "dragon"],
        "extra": {"currency": "EUR", "price": "12.50", "vendor": "Acme", "sku": "MUG-7"},
    }


def test_a_recrawl_takes_what_changed_items_say_now_and_keeps_it(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base)
    page = "/api/products?page=2"
    with local_collection(tmp_path) as collection:
        collection.crawl([], recipe=recipe)
        answer = json.loads(shop.routes[page][0])
        goblin = answer["data"]["products"][1]
        goblin["price"], goblin["tags"] = 3, ["sticker", "goblin", "monster"]
        shop.routes[page] = (json.dumps(answer).encode(), JSON)  # the item changed, its image did not
        report = collection.crawl([], recipe=recipe, recrawl=True)
        assert report.places_changed == 1 and report.images_new == 0  # type: ignore[attr-defined]
        found = collection.search(text="monster", include_junk=True)
        assert [o.uri for r in found for o in r.occurrences] == [f"{shop.base}/img/4.png"]
        assert found[0].occurrences[0].extra["price"] == 3
        shop.routes["/img/4.png"] = (_png(99), "image/png")  # later the image changes, its page does not
        collection.crawl([], recipe=recipe, recrawl=True)
        place = collection.search(text="monster", include_junk=True)[0].occurrences[0]
        assert place.uri == f"{shop.base}/img/4.png" and place.extra["price"] == 3  # not the first price
        assert collection.stats()["occurrences"] == 5


def test_an_edited_recipe_reads_the_pages_read_again_with_its_new_mapping(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base)
    with local_collection(tmp_path) as collection:
        collection.crawl([], recipe=recipe)
        recipe.write_text(recipe.read_text(encoding="utf-8") + 'slug = "handle"\n', encoding="utf-8")
        shop.routes["/api/products?page=1"] = (
            shop.routes["/api/products?page=1"][0] + b" ",
            JSON,
        )  # a new ETag
        report = collection.crawl([], recipe=recipe, recrawl=True)
        places = {
            o.uri: o
            for r in collection.search(text="dragon knight", include_junk=True)
            for o in r.occurrences
        }
    assert report.places_changed == 3  # the first page's three images  # type: ignore[attr-defined]
    assert places[f"{shop.base}/img/3.png"].extra["slug"] == "blue-knight-poster"
