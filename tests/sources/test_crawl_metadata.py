"""Crawling a site whose pages use every common markup style, found through sitemaps and a feed:
what each page says reaches its images in the catalog and the text search, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app

from conftest import encode, photo
from fake_site import STYLES, Site, _html

CATALOGS = ["sqlite", "postgresql"]


def _open(tmp_path: Path, catalog: str, request: pytest.FixtureRequest | None) -> lookalike.Collection:
    where = request.getfixturevalue("postgres_url") if request and catalog != "sqlite" else ""
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


@pytest.mark.parametrize("catalog", CATALOGS)
def test_every_markup_style_reaches_its_image(
    tmp_path: Path, styles: Site, catalog: str, request: pytest.FixtureRequest
) -> None:
    base = styles.base
    with _open(tmp_path, catalog, request) as collection:
        report = collection.crawl([base + "/"])
        places = _places(collection)
        for style, (author, licence, tags, title) in STYLES.items():
            place = places[f"{base}/styles/{style}.png"]
            assert place.page_url == f"{base}/works/{style}.html", style
            assert place.title == title, style
            assert place.extra["author"] == author, style
            assert place.extra["licence"] in (licence, base + licence), style
            assert set(tags) <= set(place.tags), style
            [hit, *_] = collection.search(text=tags[0])  # a tag from the page is a searchable word
            assert any(o.uri == place.uri for o in hit.occurrences), style
        assert places[f"{base}/styles/microdata.png"].extra["price"] == "4.99"
        assert places[f"{base}/styles/microdata.png"].extra["currency"] == "USD"
        assert places[f"{base}/styles/classwords.png"].text.startswith("Amber knight, drawn by hand")
        failed = [f["url"][len(base) :] for f in collection.crawl_status()["failures"]]
    assert report.images_failed == 0
    assert failed and all(u.startswith(("/tags/", "/t/", "/u/")) for u in failed)  # links to pages not served


@pytest.mark.parametrize("catalog", CATALOGS)
def test_discovery_beyond_links(
    tmp_path: Path, styles: Site, catalog: str, request: pytest.FixtureRequest
) -> None:
    base = styles.base
    with _open(tmp_path, catalog, request) as collection:
        collection.crawl([base + "/"])
        places = _places(collection)
    # the works pages are linked from nowhere but the sitemap that robots.txt names (through an index)
    assert {f"/works/{s}.html" for s in STYLES} <= set(styles.requests())
    mapped = places[f"{base}/maps/map.png"]  # an image sitemap's entry: its caption, licence and page
    assert (
        mapped.text == "A hand drawn world map"
        and mapped.extra["licence"] == "https://example.org/map-licence"
    )
    assert mapped.page_url == f"{base}/works/jsonld.html"
    golem = places[f"{base}/news/golem.png"]  # a feed item's enclosure carries the item
    assert (golem.title, golem.text, golem.page_url) == (
        "Frost golem",
        "A golem of ice",
        f"{base}/news/golem.html",
    )
    assert set(golem.tags) == {"golem", "frost"}
    large = places[f"{base}/home/large.png"]  # the largest srcset candidate; the other is a variant
    assert large.extra["variants"] == [f"{base}/home/small.png"]
    assert "/home/small.png" not in styles.requests() and "/blank.gif" not in styles.requests()
    assert {f"{base}/home/lazy.png", f"{base}/home/bg.png"} <= places.keys()


def test_sitemaps_can_be_left_out(tmp_path: Path, styles: Site) -> None:
    with lookalike.open(
        tmp_path / "data",
        fetch={"allow_networks": ["127.0.0.0/8"]},
        crawl={"delay": 0, "sitemaps": False},
        ingest={"workers": 1},
    ) as collection:
        collection.crawl([styles.base + "/"])
    assert "/sitemap-index.xml" not in styles.requests() and "/feed.xml" in styles.requests()


def test_search_by_a_tag_from_the_page_on_the_command_line(tmp_path: Path, styles: Site) -> None:
    env = {"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_CRAWL__DELAY": "0"}
    data = str(tmp_path / "data")
    runner = CliRunner()
    crawled = runner.invoke(app, ["crawl", styles.base + "/", "--data", data], env=env)
    assert crawled.exit_code == 0, crawled.output
    found = runner.invoke(app, ["search", "--text", "goblin", "--data", data, "--json"], env=env)
    assert found.exit_code == 0, found.output
    [first, *_] = json.loads(found.output)
    place = first["occurrences"][0]
    assert place["uri"] == f"{styles.base}/styles/twitter.png" and place["extra"]["author"] == "Di Card"


@pytest.mark.parametrize("catalog", CATALOGS)
def test_each_crawled_copy_is_found_with_its_own_page(
    tmp_path: Path, site: Site, catalog: str, request: pytest.FixtureRequest
) -> None:
    """Upscaled copies of one picture, each on a page of its own: a search by one lists every
    file with its page, also where the near-duplicate collapse folds them into one result."""
    original = photo(7, (96, 72))
    sizes = [(96, 72), (144, 108), (192, 144), (240, 180), (288, 216)]
    links = []
    for n, size in enumerate(sizes):
        site.routes[f"/copies/{n}.png"] = (
            encode(original.resize(size, Image.Resampling.LANCZOS), "PNG"),
            "image/png",
        )
        site.routes[f"/copy/{n}.html"] = _html(f"<title>Copy {n}</title>", f'<img src="/copies/{n}.png">')
        links.append(f'<a href="/copy/{n}.html">copy {n}</a>')
    site.routes["/copies.html"] = _html("<title>Copies</title>", " ".join(links))
    with _open(tmp_path, catalog, request) as collection:
        collection.crawl([site.base + "/copies.html"])
        query = encode(original, "PNG")
        for collapse in (True, False):
            results = collection.search(query, k=10, collapse=collapse, include_junk=True)
            assert collapse == any(r.collapsed for r in results)  # folded into fewer results, or not
            seen = {}
            for result in results:
                for o in result.occurrences:
                    seen[o.uri] = o.page_url
                for member in result.members():
                    for o in member["occurrences"]:
                        seen[o["uri"]] = o.get("page_url")
            for n in range(len(sizes)):
                assert seen.get(f"{site.base}/copies/{n}.png") == f"{site.base}/copy/{n}.html", (collapse, n)


def test_sitemaps_go_through_scope_and_robots(tmp_path: Path, styles: Site) -> None:
    styles.routes["/robots.txt"] = (
        b"User-agent: *\nDisallow: /hidden/\nSitemap: /hidden/sitemap.xml\n"
        b"Sitemap: http://elsewhere.invalid/sitemap.xml\nSitemap: /sitemap-index.xml\n",
        "text/plain",
    )
    styles.routes["/hidden/sitemap.xml"] = styles.routes["/sitemap-index.xml"]
    with _open(tmp_path, "sqlite", None) as collection:
        report = collection.crawl([styles.base + "/"])
        status = collection.crawl_status()
    assert "/hidden/sitemap.xml" not in styles.requests() and report.robots_skipped == 1
    assert "elsewhere" not in json.dumps(status)  # another host's sitemap is not walked
    assert "/sitemap-works.xml" in styles.requests()


def test_a_crawl_stopped_part_way_goes_on_with_its_sitemaps_and_fetches_nothing_twice(
    tmp_path: Path, styles: Site
) -> None:
    with _open(tmp_path, "sqlite", None) as collection:
        first = collection.crawl([styles.base + "/"], max_pages=2)  # the home page and the feed, say
        assert first.pages == 2 and collection.crawl_status()["urls"]["page"]["pending"] > 0
        collection.crawl([styles.base + "/"])
        places = _places(collection)
        assert collection.crawl_status()["urls"]["page"]["pending"] == 0
    assert {f"{styles.base}/styles/{s}.png" for s in STYLES} <= places.keys()
    fetched = [t for t in styles.requests() if t != "/robots.txt"]
    assert sorted(fetched) == sorted(set(fetched))
