"""A file linked from two pages: each page is a place of its images, with what that page says;
each page keeps what it says of itself; author, licence and tags are searched (typos too)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_recipe
from test_recipe import write_recipe
from typer.testing import CliRunner

import lookalike
from lookalike.api import create_app
from lookalike.cli.main import app
from lookalike.records import PAGE_MARK

from asgi_client import serving
from conftest import zip_of
from fake_site import Site, _html, _png, kill_crawl_while_held, local_collection, served

shop = test_recipe.shop  # the shop's JSON API, served (a fixture)

CATALOGS = ["sqlite", "postgresql"]
ZERO = "https://creativecommons.org/publicdomain/zero/1.0/"
BY = "https://creativecommons.org/licenses/by/4.0/"


def two_pages() -> dict[str, tuple[bytes, str]]:
    """Page A links an image, an archive and page B; page B links the same image and archive.
    Each page names its own author, licence and tags."""
    return {
        "/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain"),
        "/": _html("<title>Shared art</title>", '<a href="a.html">first</a>'),
        "/a.html": _html(
            '<title>Amber gate</title><meta name="author" content="Ann Artist">',
            f'<a rel="license" href="{BY}">CC-BY</a> <a rel="tag" href="/t/gate">gate</a>'
            ' <img src="/img/shared.png"> <a href="b.html">more</a> <a href="/files/pack.zip">pack</a>',
        ),
        "/b.html": _html(
            '<title>Cobalt tower</title><meta name="author" content="Bo Builder">'
            '<meta name="keywords" content="verdigris, tower">',
            f'<a rel="license" href="{ZERO}">CC0</a>'
            ' <img src="/img/shared.png"> <a href="/files/pack.zip">same pack</a>',
        ),
        "/img/shared.png": (_png(60), "image/png"),
        "/files/pack.zip": (zip_of({"m/one.png": _png(61), "m/two.png": _png(62)}), "application/zip"),
    }


@pytest.fixture
def shared() -> Iterator[Site]:
    with served(Site(routes=two_pages())) as running:
        yield running


def _open(tmp_path: Path, catalog: str, request: pytest.FixtureRequest) -> lookalike.Collection:
    where = request.getfixturevalue("postgres_url") if catalog != "sqlite" else ""
    return lookalike.open(
        tmp_path / "data",
        catalog=where,
        fetch={"allow_networks": ["127.0.0.0/8"]},
        crawl={"delay": 0},
        ingest={"workers": 1},
    )  # type: ignore[arg-type]


def _places(collection: lookalike.Collection) -> dict[str, lookalike.Occurrence]:
    found = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())
    return {o.uri: o for places in found.values() for o in places}


def _expected(base: str) -> dict[str, tuple[str, str, str, str]]:
    """uri -> (page, title, author, licence) of every place the two pages give."""
    a = (f"{base}/a.html", "Amber gate", "Ann Artist", BY)
    b = (f"{base}/b.html", "Cobalt tower", "Bo Builder", ZERO)
    files = [
        f"{base}/img/shared.png",
        f"{base}/files/pack.zip!/m/one.png",
        f"{base}/files/pack.zip!/m/two.png",
    ]
    return {
        **{uri: a for uri in files},
        **{f"{uri}{PAGE_MARK}{base}/b.html": b for uri in files},
    }


def _seen(collection: lookalike.Collection) -> dict[str, tuple[str | None, str | None, str, str]]:
    return {
        uri: (o.page_url, o.title, o.extra.get("author"), o.extra.get("licence"))
        for uri, o in _places(collection).items()
    }


@pytest.mark.parametrize("catalog", CATALOGS)
def test_a_file_on_two_pages_is_a_place_on_each_with_that_pages_metadata(
    tmp_path: Path, shared: Site, catalog: str, request: pytest.FixtureRequest
) -> None:
    base = shared.base
    with _open(tmp_path, catalog, request) as collection:
        report = collection.crawl([base + "/"])
        assert _seen(collection) == _expected(base)
        assert collection.stats()["images"] == 3 and report.images_new == 3
        tower = _places(collection)[f"{base}/img/shared.png{PAGE_MARK}{base}/b.html"]
        assert "verdigris" in tower.tags and "gate" not in tower.tags
        # the image is found by either page's words, its author and its licence
        image = collection.search(_png(60), k=1, include_junk=True)[0].image_id
        for words in ("amber gate", "cobalt tower", "verdigris", "Builder", "Ann Artist", "publicdomain"):
            hits = collection.search(text=words)
            assert image in [h.image_id for h in hits], words
        # a one-letter typo of a tag, and of an author's name, that no signal ever read
        for typo in ("verdigrs", "buildr"):
            hits = collection.search(text=typo)
            assert image in [h.image_id for h in hits], typo
        # running again, and re-crawling, adds no place and fetches no file
        before = len(shared.log)
        collection.crawl([base + "/"])
        assert len(shared.log) == before
        collection.crawl([base + "/"], recrawl=True)
        assert _seen(collection) == _expected(base)
        assert {t for t, status in shared.log[before:] if status == 200} <= {"/robots.txt"}
        status = collection.crawl_status()
    files = [t for t, status in shared.log if status == 200 and t.startswith(("/img/", "/files/"))]
    assert sorted(files) == ["/files/pack.zip", "/img/shared.png"]  # each file fetched once
    pages = {p["url"]: p for p in status["pages"]}
    assert pages[f"{base}/b.html"]["title"] == "Cobalt tower"
    assert pages[f"{base}/b.html"]["extra"] == {"author": "Bo Builder", "licence": ZERO}
    assert pages[f"{base}/b.html"]["tags"] == ["verdigris", "tower"] and pages[f"{base}/b.html"]["files"] == 2
    assert (
        pages[f"{base}/a.html"]["extra"]["author"] == "Ann Artist" and pages[f"{base}/a.html"]["files"] == 2
    )


def test_a_changed_page_updates_its_places_and_its_own_row(tmp_path: Path, shared: Site) -> None:
    base = shared.base
    with _open(tmp_path, "sqlite", None) as collection:  # type: ignore[arg-type]
        collection.crawl([base + "/"])
        body, kind = shared.routes["/b.html"]
        shared.routes["/b.html"] = (body.replace(b"Bo Builder", b"Cy Carver"), kind)
        collection.crawl([base + "/"], recrawl=True)
        place = _places(collection)[f"{base}/img/shared.png{PAGE_MARK}{base}/b.html"]
        about = collection.catalog.frontier.about([f"{base}/b.html"])[f"{base}/b.html"]
        hits = collection.search(text="Carver")
    assert place.extra["author"] == "Cy Carver" and about["extra"]["author"] == "Cy Carver"
    assert {o.uri for h in hits for o in h.occurrences} >= {place.uri}


def test_a_page_that_links_a_file_no_more_loses_its_places_of_it(tmp_path: Path, shared: Site) -> None:
    base = shared.base
    with _open(tmp_path, "sqlite", None) as collection:  # type: ignore[arg-type]
        collection.crawl([base + "/"])
        body, kind = shared.routes["/b.html"]
        shared.routes["/b.html"] = (body.replace(b'<a href="/files/pack.zip">same pack</a>', b""), kind)
        collection.crawl([base + "/"], recrawl=True)
        seen = _seen(collection)
        gone = {u for u in _expected(base) if "pack.zip" in u and PAGE_MARK in u}
        assert seen == {u: v for u, v in _expected(base).items() if u not in gone}
        assert collection.stats()["images"] == 3  # page A still shows the pack
        assert collection.catalog.frontier.linked(f"{base}/b.html") == [f"{base}/img/shared.png"]


@pytest.mark.parametrize("hold", ["/img/shared.png", "/files/pack.zip", "/b.html"])
def test_a_killed_crawl_of_a_file_on_two_pages_resumes_with_nothing_lost_or_doubled(
    tmp_path: Path, shared: Site, hold: str
) -> None:
    shared.hold = hold
    kill_crawl_while_held(shared, tmp_path / "data", shared.base + "/")
    first = len(shared.log)
    with _open(tmp_path, "sqlite", None) as collection:  # type: ignore[arg-type]
        assert len(_seen(collection)) < 6  # the kill came mid-way
        collection.crawl([shared.base + "/"])
        assert _seen(collection) == _expected(shared.base)
        assert collection.stats()["images"] == 3 and collection.stats()["occurrences"] == 6
    again = [t for t, _ in shared.log[first:]]
    assert hold in again and "/" not in again and "/a.html" not in again  # done pages are not asked again


def test_pages_reach_the_cli_the_api_and_the_image_page(tmp_path: Path, shared: Site) -> None:
    data = str(tmp_path / "data")
    env = {"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_CRAWL__DELAY": "0"}
    runner = CliRunner()
    assert runner.invoke(app, ["crawl", shared.base + "/", "--data", data], env=env).exit_code == 0
    result = runner.invoke(app, ["crawl", "status", "--data", data], env=env, terminal_width=300)
    line = rf"page\s+{re.escape(shared.base)}/b.html\s+Cobalt tower\s+Bo Builder\s+{re.escape(ZERO)}\s+verdigris, tower"
    assert re.search(line, result.stdout), result.stdout
    status = json.loads(runner.invoke(app, ["crawl", "status", "--data", data, "--json"], env=env).stdout)
    assert {p["url"] for p in status["pages"]} == {f"{shared.base}/{p}" for p in ("", "a.html", "b.html")}
    with _open(tmp_path, "sqlite", None) as collection:  # type: ignore[arg-type]
        image = collection.search(_png(60), k=1, include_junk=True)[0].image_id
        with serving(create_app(collection)) as client:
            api = client.get("/api/crawl/status").json()
            info = client.get(f"/api/images/{image}").json()
            html = client.get(f"/images/{image}").text
            found = client.get("/api/search", params={"q": "Builder"}).json()
    assert {p["url"]: p["title"] for p in api["pages"]}[f"{shared.base}/b.html"] == "Cobalt tower"
    assert info["pages"][f"{shared.base}/b.html"]["extra"]["author"] == "Bo Builder"
    assert len(info["occurrences"]) == 2
    assert "found on" in html and "Cobalt tower</a> — by Bo Builder" in html
    assert "Amber gate</a> — by Ann Artist" in html and ZERO in html
    assert image in [r["id"] for r in found["results"]]


def test_an_image_two_api_items_name_is_a_place_of_each(tmp_path: Path, shop: Site) -> None:
    page = json.loads(shop.routes["/api/products?page=2"][0])
    page["data"]["products"][1]["images"].append({"src": "/img/1.png"})  # the goblin sticker shows the mug
    shop.routes["/api/products?page=2"] = (json.dumps(page).encode(), "application/json")
    with local_collection(tmp_path) as collection:
        collection.crawl([], recipe=write_recipe(tmp_path, shop.base))
        places = _places(collection)
        hits = collection.search(text="goblin")
    mug = f"{shop.base}/img/1.png"
    goblin = f"{shop.base}/products/green-goblin-sticker"
    assert places[mug].page_url == f"{shop.base}/products/red-dragon-mug"
    assert places[f"{mug}{PAGE_MARK}{goblin}"].title == "Green goblin sticker"
    assert places[f"{mug}{PAGE_MARK}{goblin}"].image_id == places[mug].image_id
    assert places[mug].image_id in [h.image_id for h in hits]
    assert [t for t in shop.requests() if t == "/img/1.png"] == ["/img/1.png"]  # fetched once
