"""Junk through the web service: left out of searches, similar and dupes unless include_junk,
counted in stats, a toggle on the search page and a table on the collection page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from asgi_client import Client, serving
from conftest import DEFAULT_SIGNALS, encode, photo


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    """Two photos, a spacer GIF and two white pages (the same picture at two sizes)."""
    root = tmp_path / "site"
    root.mkdir()
    for seed in range(2):
        photo(seed).save(root / f"photo{seed}.png")
    Image.new("P", (1, 1)).save(root / "spacer.gif")
    Image.new("RGB", (320, 240), (250, 250, 250)).save(root / "white.png")
    Image.new("RGB", (160, 120), (250, 250, 250)).save(root / "white-small.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        opened.index([root])
        yield opened


@pytest.fixture
def client(collection: Collection) -> Iterator[Client]:
    with serving(create_app(collection)) as c:
        yield c


def named(results: list[dict[str, object]]) -> set[str]:
    return {str(r["occurrences"][0]["uri"]).rsplit("/", 1)[-1] for r in results}  # type: ignore[index]


def test_searches_leave_junk_out_unless_asked(client: Client, collection: Collection) -> None:
    assert client.get("/api/search", params={"q": "spacer"}).json()["results"] == []
    found = client.get("/api/search", params={"q": "spacer", "include_junk": "true"}).json()["results"]
    assert named(found) == {"spacer.gif"}
    [white] = [i for i in collection.catalog.images.ok_ids() if named([collection.info(i)]) == {"white.png"}]
    body = {"id": white, "collapse": False}
    assert not named(client.post("/api/search", json=body).json()["results"]) & {
        "white-small.png",
        "spacer.gif",
    }
    asked = client.post("/api/search", json={**body, "include_junk": True}).json()["results"]
    assert {"white-small.png", "spacer.gif"} <= named(asked)
    form = client.post("/api/search", data={"q": "spacer", "include_junk": "true"}).json()["results"]
    assert named(form) == {"spacer.gif"}
    similar = client.get(f"/api/images/{white}/similar", params={"include_junk": "true"}).json()["results"]
    assert "white-small.png" in named(similar)
    assert "white-small.png" not in named(client.get(f"/api/images/{white}/similar").json()["results"])
    assert client.get(f"/api/images/{white}").json()["flags"] == {"junk": "blank"}


def test_stats_dupes_and_health(client: Client) -> None:
    assert client.get("/api/stats").json()["flags"] == {"junk": {"blank": 2, "spacer": 1}}
    assert client.get("/api/dupes").json()["groups"] == []
    groups = client.get("/api/dupes", params={"include_junk": "true"}).json()["groups"]
    assert [len(g["images"]) for g in groups] == [2]
    assert set(client.get("/api/health").json()["vectors"]) == set(DEFAULT_SIGNALS) - {"junk"}  # no index


def test_the_pages_toggle_junk_and_count_it(client: Client) -> None:
    page = client.get("/", params={"q": "spacer"}).text
    assert "Include junk images" in page and "spacer.gif" not in page
    assert 'href="/?q=spacer&amp;junk=1"' in page
    shown = client.get("/", params={"q": "spacer", "junk": "1"}).text
    assert "spacer.gif" in shown and 'aria-current="true"' in shown
    about = client.get("/collection").text
    assert "Junk" in about and '<td>blank</td><td class="num">2</td>' in about


def test_an_uploaded_blank_query_still_finds_the_photos(client: Client) -> None:
    data = encode(Image.new("RGB", (300, 200), (250, 250, 250)))
    found = client.post("/api/search", files={"file": ("q.png", data, "image/png")}, data={"k": "10"}).json()
    assert named(found["results"]) <= {"photo0.png", "photo1.png"}
