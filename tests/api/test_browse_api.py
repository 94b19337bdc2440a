"""Browsing through the web service (``GET /api/images``, ``/browse``, the front page) and kept query images."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lookalike
from lookalike import Collection
from lookalike.api import create_app
from lookalike.api.browse import page_numbers
from lookalike.api.queries import KeptQueries

from asgi_client import Client, serving
from conftest import encode, photo

TAGS = ["bird sky", "sea boat", "bird", "building", "sea"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    for seed in range(len(TAGS)):
        name = f"p{seed}.{'jpg' if seed % 2 else 'png'}"
        photo(seed, (320 + 40 * seed, 240)).save(root / name)
    lines = [json.dumps({"path": f"p{n}.{'jpg' if n % 2 else 'png'}", "tags": t}) for n, t in enumerate(TAGS)]
    (root / "meta.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def opened(tmp_path: Path, **serve: Any) -> Collection:
    return lookalike.open(tmp_path / "data", ingest={"workers": 1}, serve=serve)


@pytest.fixture
def client(tmp_path: Path, folder: Path) -> Iterator[Client]:
    with opened(tmp_path) as collection:
        collection.index([folder], metadata=folder / "meta.jsonl")
        with serving(create_app(collection)) as c:
            yield c


def listed(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/images", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def files(body: dict[str, Any]) -> list[str]:
    return [Path(r["occurrences"][0]["uri"]).name for r in body["results"]]


def test_the_listing_sorts_filters_and_pages(client: Client) -> None:
    assert files(listed(client, sort="path")) == ["p0.png", "p1.jpg", "p2.png", "p3.jpg", "p4.png"]
    assert files(listed(client, sort="-pixels"))[0] == "p4.png"  # the widest
    birds = listed(client, sort="path", tag="bird", facets="true")
    assert files(birds) == ["p0.png", "p2.png"] and birds["total"] == 2
    assert {f["value"]: f["count"] for f in birds["facets"]["format"]} == {"PNG": 2}
    assert {f["value"]: f["count"] for f in birds["facets"]["tag"]}["sea"] == 2  # other tags still counted
    assert files(listed(client, sort="path", tag=["bird", "sea"], format="jpeg")) == ["p1.jpg"]
    page = listed(client, sort="path", k=2, offset=2)
    assert files(page) == ["p2.png", "p3.jpg"] and (page["total"], page["k"], page["offset"]) == (5, 2, 2)
    first = page["results"][0]
    assert first["links"]["page"] == f"/images/{first['id']}" and first["added_at"] > 0
    assert listed(client, sort="path", filter="licence:CC0")["total"] == 0


def test_the_listing_refuses_bad_parameters(client: Client) -> None:
    bad = client.get("/api/images", params={"sort": "colour"})
    assert bad.status_code == 422 and "'-added'" in bad.json()["error"]["message"]
    assert client.get("/api/images", params={"k": 0}).status_code == 422
    assert client.get("/browse", params={"page": 0}).status_code == 422


def test_the_browse_page_has_a_grid_facets_sorts_and_pages(client: Client) -> None:
    page = client.get("/browse", params={"sort": "path", "tag": "bird"})
    assert page.status_code == 200
    text = page.text
    assert text.count('class="card listed"') == 2 and "1–2 of 2 images, filtered" in text
    assert 'href="/browse?sort=path"' in text  # the bird facet, on: its link takes it off
    assert (
        '<option value="path" selected>' in text and 'name="tag" value="bird"' in text
    )  # the sort keeps the filter
    front = client.get("/")
    assert front.text.count('class="card listed"') == 5 and "Browse all 5 images" in front.text
    assert 'href="/browse"' in front.text


def test_an_empty_collection_says_how_to_index(tmp_path: Path) -> None:
    with opened(tmp_path) as empty, serving(create_app(empty)) as client:
        for path in ("/", "/browse"):
            page = client.get(path)
            assert page.status_code == 200 and "Nothing indexed yet" in page.text
            assert "lookalike index DIR" in page.text
        assert listed(client) == {"results": [], "total": 0, "offset": 0, "k": 48, "sort": "-added"}


def test_page_numbers_skip_the_middle() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(5, 20) == [1, None, 3, 4, 5, 6, 7, None, 20]
    assert page_numbers(2, 4) == [1, 2, 3, 4]


# ---- kept query images -----------------------------------------------------------------------------------


def test_an_uploaded_query_has_an_address_that_survives_a_restart(tmp_path: Path, folder: Path) -> None:
    query = encode(photo(3, (360, 240)), "JPEG", quality=80)
    with opened(tmp_path) as collection:
        collection.index([folder], metadata=folder / "meta.jsonl")
        with serving(create_app(collection)) as client:
            posted = client.post("/", files={"file": ("q.jpg", query)})
    location = posted.headers["location"]
    sha = location.rsplit("=", 1)[1]
    assert posted.status_code == 303 and len(sha) == 64 and (tmp_path / "data" / "queries" / sha).exists()
    with opened(tmp_path) as again, serving(create_app(again)) as client:  # a new server over the same folder
        page = client.get(location)
        assert page.status_code == 200 and "p3.jpg" in page.text
        assert client.get(f"/query/{sha}").content == query
        gone = client.get("/?img=" + "0" * 64)
        assert gone.status_code == 404 and "no longer kept" in gone.text and "serve.keep_queries" in gone.text
        assert client.get("/query/..%2Fcatalog.sqlite").status_code == 404


def test_the_api_keeps_an_upload_and_searches_it_again_by_hash(client: Client) -> None:
    query = encode(photo(1, (360, 240)), "JPEG", quality=80)
    first = client.post("/api/search", files={"file": ("q.jpg", query)}, data={"k": "1"}).json()
    kept = first["query_image"]
    assert kept["page"] == f"/?img={kept['sha256']}"
    assert kept["search"] == f"/api/search?img={kept['sha256']}"
    again = client.get("/api/search", params={"img": kept["sha256"], "k": 1}).json()
    assert again["results"][0]["id"] == first["results"][0]["id"]
    missing = client.get("/api/search", params={"img": "f" * 64})
    assert missing.status_code == 404 and "serve.keep_queries" in missing.json()["error"]["message"]
    words = client.get("/api/search", params={"q": "bird"}).json()
    assert "query_image" not in words


def test_kept_queries_are_bounded_and_the_least_recently_used_go(tmp_path: Path) -> None:
    kept = KeptQueries(tmp_path / "queries", max_items=2, max_bytes=100)
    a = kept.put(b"a" * 10)
    b = kept.put(b"b" * 10)
    os.utime(tmp_path / "queries" / a, (1, 1))
    os.utime(tmp_path / "queries" / b, (2, 2))
    assert kept.get(a) == b"a" * 10  # a search by it renews it: b is now the oldest
    c = kept.put(b"c" * 10)
    assert kept.get(b) is None and kept.get(a) is not None and kept.get(c) is not None
    big = kept.put(b"d" * 95)  # over the byte bound: every older one goes
    assert kept.get(big) is not None and kept.get(a) is None and kept.get(c) is None
    assert sorted(p.name for p in (tmp_path / "queries").iterdir()) == [big]
    assert kept.get("../queries") is None and kept.get(big.upper()) is None


def test_keeping_queries_can_be_turned_off(tmp_path: Path, folder: Path) -> None:
    with opened(tmp_path, keep_queries=0) as collection:
        collection.index([folder], metadata=folder / "meta.jsonl")
        with serving(create_app(collection)) as client:
            posted = client.post("/", files={"file": ("q.jpg", encode(photo(2), "JPEG"))})
            assert client.get(posted.headers["location"]).status_code == 200  # kept in memory meanwhile
    assert not (tmp_path / "data" / "queries").exists()


def test_junk_is_listed_only_when_asked_for(client: Client) -> None:
    added = client.post("/api/images", files={"file": ("blank.png", encode(photo(0).point(lambda _: 255)))})
    assert added.status_code == 201, added.text
    assert listed(client)["total"] == 5 and listed(client, include_junk="true")["total"] == 6
    page = client.get("/browse")
    assert page.text.count('class="card listed"') == 5 and 'href="/browse?junk=1"' in page.text
    assert client.get("/browse", params={"junk": 1}).text.count('class="card listed"') == 6
    assert client.get("/").text.count('class="card listed"') == 5
