"""The browse page in real headless Chromium: the grid, a facet, the sort, the pages, the start page."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import lookalike
from lookalike.api import create_app

from conftest import photo
from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)

COUNT = 54  # more than one page of 48


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web-browse")
    folder = root / "photos"
    folder.mkdir()
    lines = []
    for seed in range(COUNT):
        name = f"IMG_{seed}.{'jpg' if seed % 3 == 0 else 'png'}"
        photo(seed, (160 + 4 * seed, 120)).save(folder / name)
        lines.append(json.dumps({"path": name, "tags": "bird" if seed % 5 == 0 else "sea"}) + "\n")
    (folder / "meta.jsonl").write_text("".join(lines), encoding="utf-8")
    with lookalike.open(root / "data", ingest={"workers": 1}) as collection:
        collection.index([folder], metadata=folder / "meta.jsonl")
        with serve_in_thread(create_app(collection)) as base:
            yield base


def shot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot, into LOOKALIKE_SHOTS when set (to look at it), else the test's folder."""
    path = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def test_browse_the_grid_filter_sort_and_page(page: Page, server: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(server)
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Browse").click()
    page.wait_for_url("**/browse")
    cards = page.locator(".card.listed")
    expect(cards).to_have_count(48)
    expect(page.locator(".count")).to_contain_text(f"1–48 of {COUNT} images")
    expect(page.locator(".sort-go")).to_be_hidden()  # the script applies a sort when chosen
    page.locator(".facet a", has_text="bird").click()
    expect(page.locator(".count")).to_contain_text("of 11 images, filtered")
    page.select_option("#sort", "path")
    page.wait_for_url("**/browse?tag=bird&sort=path")
    expect(cards.first.locator("h3")).to_have_text("IMG_0.jpg")
    expect(cards.nth(1).locator("h3")).to_have_text("IMG_5.png")  # numbers sort as numbers
    expect(cards.first.locator(".meta").first).to_contain_text("160×120 JPEG")
    assert shot(page, tmp_path, "browse.png").stat().st_size > 20_000
    page.goto(f"{server}/browse?sort=-pixels")
    expect(cards.first.locator("h3")).to_have_text(f"IMG_{COUNT - 1}.png")  # the widest first
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next →").click()
    page.wait_for_url("**/browse?sort=-pixels&page=2")
    expect(cards).to_have_count(COUNT - 48)
    cards.first.locator("h3 a").click()
    page.wait_for_url("**/images/*")
    expect(page.locator("h1")).to_contain_text("IMG_5")


def test_the_start_page_shows_the_newest_images(page: Page, server: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(server)
    expect(page.locator(".recent .card.listed")).to_have_count(12)
    expect(page.locator(".recent")).to_contain_text(f"Browse all {COUNT} images")
    shot(page, tmp_path, "start-page.png")


def test_the_browse_page_on_a_phone(page: Page, server: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{server}/browse?size=small&page=2")
    expect(page.locator(".card.listed")).to_have_count(COUNT - 48)
    expect(
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="← Previous")
    ).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing runs off the side
    shot(page, tmp_path, "browse-phone.png")
