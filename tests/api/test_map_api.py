"""The explore map through the web service: facts, cells, tiles, the /map page, before and after a build."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import lookalike
from lookalike import Collection
from lookalike.api import create_app
from lookalike.usecases import explore

from asgi_client import Client, serving
from conftest import photo


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    root = tmp_path / "photos"
    root.mkdir()
    for seed in range(12):
        photo(seed, (160, 120)).save(root / f"p{seed}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, map={"method": "pca"}) as opened:
        opened.index([root])
        yield opened


@pytest.fixture
def client(collection: Collection) -> Iterator[Client]:
    with serving(create_app(collection)) as c:
        yield c


def test_before_a_build_the_api_and_page_say_how_to_make_one(client: Client) -> None:
    answer = client.get("/api/map")
    assert answer.status_code == 404 and "lookalike map" in answer.json()["error"]["message"]
    page = client.get("/map")
    assert page.status_code == 200 and "No map yet" in page.text and "<code>lookalike map</code>" in page.text
    assert 'href="/map" aria-current="page"' in page.text  # the header links the page


def test_facts_cells_and_tiles(client: Client, collection: Collection) -> None:
    explore.build(collection.app)
    facts = client.get("/api/map").json()
    assert facts["images"] == 12 and facts["cols"] * facts["rows"] >= 12 and facts["levels"] >= 1
    assert facts["width"] == facts["cols"] * facts["cell"]
    built = explore.load(collection.home)
    assert built is not None
    image_id = int(built.ids[0])
    x, y = built.cell_of(image_id) or (-1, -1)
    at = client.get("/api/map/at", params={"x": x, "y": y}).json()
    assert at["id"] == image_id and at["links"]["page"] == f"/images/{image_id}"
    assert client.get(f"/api/map/images/{image_id}").json() == {**at, "x": x, "y": y}
    empty = [
        (c % facts["cols"], c // facts["cols"])
        for c in range(facts["cols"] * facts["rows"])
        if built.grid[c] < 0
    ]
    if empty:
        assert client.get("/api/map/at", params={"x": empty[0][0], "y": empty[0][1]}).status_code == 404
    assert client.get("/api/map/at", params={"x": facts["cols"], "y": 0}).status_code == 404
    assert client.get("/api/map/at", params={"x": -1, "y": 0}).status_code == 422
    url = facts["tiles"].format(level=facts["levels"] - 1, x=0, y=0)
    tile = client.get(url)
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/webp"
    assert "max-age" in tile.headers["cache-control"] and f"v={facts['version']}" in url
    assert Image.open(io.BytesIO(tile.content)).size == (256, 256)
    assert client.get("/api/map/tiles/0/0/0.png").status_code == 404  # not the map's format
    assert client.get(f"/api/map/tiles/{facts['levels']}/0/0.webp").status_code == 404
    assert client.get("/api/map/tiles/0/9/9.webp").status_code == 404
    page = client.get("/map")
    assert "data-map=" in page.text and "/static/map.js" in page.text


def test_a_rebuilt_map_is_served_without_a_restart(client: Client, collection: Collection) -> None:
    explore.build(collection.app)
    first = client.get("/api/map").json()["version"]
    explore.build(collection.app, rebuild=True)
    assert client.get("/api/map").json()["version"] == first + 1
