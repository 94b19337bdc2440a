"""The explore map in real headless Chromium: tiles load, zoom goes deeper, a click opens the image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, Response, expect

import lookalike
from lookalike.api import create_app
from lookalike.usecases import explore

from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)

COUNT = 60


def swatch(hue: float, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    hsv = np.zeros((80, 80, 3), dtype=np.uint8)
    hsv[..., 0] = int(hue * 255) % 256
    hsv[..., 1] = 210
    hsv[..., 2] = rng.integers(110, 255, size=(80, 80))
    return Image.fromarray(hsv, "HSV").convert("RGB")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str]]:
    """A served collection of 60 swatches of many hues, mapped; with one image's id and name."""
    root = tmp_path_factory.mktemp("web-map")
    folder = root / "photos"
    folder.mkdir()
    for n in range(COUNT):
        swatch(n / COUNT, n).save(folder / f"swatch_{n}.png")
    with lookalike.open(root / "data", ingest={"workers": 1}) as collection:
        collection.index([folder])
        explore.build(collection.app)
        built = explore.load(collection.home)
        assert built is not None
        chosen = int(built.ids[7])
        name = next(o.uri for o in collection.catalog.images.occurrences([chosen])[chosen]).rsplit("/", 1)[-1]
        with serve_in_thread(create_app(collection)) as base:
            yield base, chosen, name


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    path = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_map_loads_its_tiles_zooms_and_opens_an_image(
    page: Page, server: tuple[str, int, str], tmp_path: Path
) -> None:
    base, chosen, name = server
    page.set_viewport_size({"width": 1200, "height": 900})
    tiles: list[Response] = []
    page.on("response", lambda r: tiles.append(r) if "/api/map/tiles/" in r.url else None)
    page.goto(base)
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Map").click()
    page.wait_for_url("**/map")
    canvas = page.locator(".map-view canvas")
    expect(canvas).to_have_attribute("data-ready", "1")
    assert tiles and all(r.status == 200 for r in tiles)
    expect(page.locator(".map-head")).to_contain_text(f"{COUNT} images")
    assert shot(page, tmp_path, "map.png").stat().st_size > 20_000
    before = float(canvas.get_attribute("data-scale") or "0")
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    for _ in range(100):  # the page's CSP forbids wait_for_function's eval: poll the attribute
        if float(canvas.get_attribute("data-scale") or "0") > before * 3:
            break
        page.wait_for_timeout(100)
    assert float(canvas.get_attribute("data-scale") or "0") > before * 3
    # ?image=ID centres that image; a click in the middle opens its page
    page.goto(f"{base}/map?image={chosen}")
    expect(canvas).to_have_attribute("data-ready", "1")
    page.wait_for_timeout(300)
    shot(page, tmp_path, "map-focused.png")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(f"**/images/{chosen}")
    expect(page.locator("h1")).to_contain_text(name)
    page.get_by_role("link", name="Show on map").click()  # and back, zoomed in on it
    page.wait_for_url(f"**/map?image={chosen}")
    expect(canvas).to_have_attribute("data-ready", "1")
