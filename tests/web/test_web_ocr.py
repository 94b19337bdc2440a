"""Text read in images on the page: the snippet on each card and its box over the thumbnail,
in real headless Chromium (see test_web.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from conftest import sign
from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)

pytest.importorskip("rapidocr")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Collection]]:
    root = tmp_path_factory.mktemp("web-ocr")
    folder = root / "signs"
    folder.mkdir()
    sign(["Dragon Castle", "Level 42"], 0).save(folder / "castle.png")
    sign(["Golden Apples"], 1).save(folder / "shop.png")
    options = {"ingest": {"workers": 1, "signals": ["phash", "colour", "ocr"]}}
    with lookalike.open(root / "data", **options) as collection:
        collection.index([folder])
        with serve_in_thread(create_app(collection)) as base:
            yield base, collection


def test_a_typo_finds_the_sign_with_its_snippet_and_box(
    page: Page, server: tuple[str, Collection], tmp_path: Path
) -> None:
    base, _ = server
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(f"{base}/?q=dargon")
    card = page.locator(".card").first
    expect(card.locator("h3")).to_have_text("castle.png")
    expect(card.locator(".snippets")).to_contain_text("Dragon Castle")
    expect(card.locator(".why")).to_contain_text("read 'dargon' as 'dragon'")
    expect(card.locator(".thumb svg polygon.text-box")).to_have_count(1)
    box = card.locator(".thumb svg polygon.text-box").bounding_box()
    image = card.locator(".thumb svg image").bounding_box()
    assert box and image and box["y"] < image["y"] + image["height"] / 2  # the first line, at the top
    shot = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path) / "ocr-search.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_the_image_page_lists_the_lines_and_draws_every_box(
    page: Page, server: tuple[str, Collection]
) -> None:
    base, collection = server
    [hit] = collection.search(text="castle", k=1)
    page.goto(f"{base}/images/{hit.image_id}")
    section = page.locator("#text")
    expect(section.locator("h2")).to_have_text("Text in the image")
    expect(section.locator(".read-lines li")).to_have_count(2)
    expect(section.locator("svg polygon.text-box")).to_have_count(2)
