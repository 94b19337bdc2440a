"""The matched region drawn on the page, in real headless Chromium (see test_web.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from conftest import centred_box, scene
from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)

pytest.importorskip("cv2")  # the region comes from the keypoints signal

BOX = centred_box((640, 480), 0.3, shift=(0.12, 0.1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Collection]]:
    root = tmp_path_factory.mktemp("web-keypoints")
    folder = root / "scenes"
    folder.mkdir()
    for seed in range(4):
        scene(seed).save(folder / f"scene{seed}.png")
    scene(2).crop(BOX).save(folder / "detail.png")  # a crop of scene 2, indexed as well
    # keypoints with every query (not only without a copy): the query's copy and its source both show
    options = {
        "ingest": {"workers": 1, "signals": ["phash", "colour", "keypoints"]},
        "search": {"local_fallback": False},
    }
    with lookalike.open(root / "data", **options) as collection:
        collection.index([folder])
        with serve_in_thread(create_app(collection)) as base:
            yield base, collection


def region_box(page: Page, selector: str) -> tuple[float, float, float, float]:
    """The drawn polygon's bounding box as fractions of the drawn image."""
    box = page.evaluate(
        """(selector) => {
            const svg = document.querySelector(selector);
            const image = svg.querySelector("image").getBoundingClientRect();
            const region = svg.querySelector("polygon").getBoundingClientRect();
            return [(region.left - image.left) / image.width, (region.top - image.top) / image.height,
                    (region.right - image.left) / image.width, (region.bottom - image.top) / image.height];
        }""",
        selector,
    )
    return tuple(box)  # type: ignore[return-value]


def near(found: tuple[float, ...], want: tuple[float, ...]) -> bool:
    return all(abs(a - b) < 0.05 for a, b in zip(found, want, strict=True))


def test_region_drawn_on_result_and_query(page: Page, server: tuple[str, Collection], tmp_path: Path) -> None:
    base, _ = server
    query = tmp_path / "crop.jpg"
    scene(2).crop(BOX).resize((300, 220)).save(query, quality=88)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(base)
    page.set_input_files("#file", str(query))
    page.click("button[type=submit]")
    page.wait_for_selector(".grid")
    cards = page.locator(".card")
    # the crop itself (indexed as detail.png) and its source scene both verify
    titles = cards.locator("h3").all_inner_texts()[:2]
    assert sorted(titles) == ["detail.png", "scene2.png"]
    source = cards.filter(has_text="scene2.png").first
    expect(source.locator(".why")).to_contain_text("inliers")
    expect(source.locator(".tier")).to_have_text("crop")  # the tier badge, its evidence under the title
    expect(source.locator(".evidence")).to_contain_text("inliers, region x")
    expect(cards.filter(has_text="detail.png").first.locator(".tier")).to_have_text("copy")
    expect(source.locator(".thumb svg polygon.region")).to_have_count(1)
    expect(source.locator(".matched svg polygon.region")).to_have_count(1)
    number = source.get_attribute("aria-labelledby")
    want = (BOX[0] / 640, BOX[1] / 480, BOX[2] / 640, BOX[3] / 480)
    assert near(region_box(page, f"[aria-labelledby={number}] .thumb svg"), want)
    assert near(region_box(page, f"[aria-labelledby={number}] .matched svg"), (0, 0, 1, 1))
    page.screenshot(path=str(shot_path(tmp_path, "keypoints-search.png")), full_page=True)


def test_region_drawn_on_the_image_page(page: Page, server: tuple[str, Collection], tmp_path: Path) -> None:
    base, collection = server
    detail = next(r for r in collection.search(text="detail") if r.location.endswith("detail.png"))
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.goto(f"{base}/images/{detail.image_id}")
    similar = page.locator("#similar .card").filter(has_text="scene2.png").first
    expect(similar.locator(".thumb svg polygon.region")).to_have_count(1)
    number = similar.get_attribute("aria-labelledby")
    want = (BOX[0] / 640, BOX[1] / 480, BOX[2] / 640, BOX[3] / 480)
    assert near(region_box(page, f"#similar [aria-labelledby={number}] .thumb svg"), want)
    page.screenshot(path=str(shot_path(tmp_path, "keypoints-image-page.png")), full_page=True)


def shot_path(tmp_path: Path, name: str) -> Path:
    """Screenshots go to LOOKALIKE_SHOTS when set (to look at them), else the test's folder."""
    folder = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
