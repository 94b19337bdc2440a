"""Result lists that stop where the matches stop, in real headless Chromium (see test_web.py):
sections by tier, the look-alikes' empty state, the query image beside its results, no broken
image after a failed upload, the query's words marked and links in metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from conftest import centred_box, encode, photo, scene
from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)

pytest.importorskip("cv2")  # crops are found by the keypoints signal

BOX = centred_box((640, 480), 0.3, shift=(0.12, 0.1))
META = [
    {
        "path": "scene0.png",
        "title": "Harbour wall",
        "tags": "sea stone",
        "source": "https://example.org/wall",
    },
    {
        "path": "copy.jpg",
        "title": "Harbour wall, smaller",
        "tags": "sea",
        "source": "https://example.org/wall",
    },
    {"path": "detail.png", "title": "A part of the wall", "sha256": "ab" * 32, "bytes": 999},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Collection, Path]]:
    root = tmp_path_factory.mktemp("web-results")
    folder = root / "scenes"
    folder.mkdir()
    for seed in range(3):
        scene(seed).save(folder / f"scene{seed}.png")
    scene(0).resize((320, 240)).save(folder / "copy.jpg", quality=85)
    scene(0).crop(BOX).save(folder / "detail.png")
    (folder / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in META), encoding="utf-8")
    # keypoints with every query, not only without a copy: a copy's crops show beside it
    options = {
        "ingest": {"workers": 1, "signals": ["phash", "colour", "keypoints"]},
        "search": {"local_fallback": False},
    }
    with lookalike.open(root / "data", **options) as collection:
        collection.index([folder], metadata=folder / "meta.jsonl")
        with serve_in_thread(create_app(collection)) as base:
            yield base, collection, folder


def shot(page: Page, name: str, tmp_path: Path) -> None:
    path = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def broken_images(page: Page) -> list[str]:
    """The sources of images that failed to load (a lazy one not loaded yet is not complete)."""
    page.wait_for_load_state("load")
    return page.evaluate(
        "() => [...document.images].filter(i => i.getAttribute('src') && i.complete && !i.naturalWidth)"
        ".map(i => i.src)"
    )


def test_an_image_query_in_sections_beside_the_query_image(
    page: Page, server: tuple[str, Collection, Path], tmp_path: Path
) -> None:
    base, _, folder = server
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base)
    page.set_input_files("#file", str(folder / "scene0.png"))
    page.click("button[type=submit]")
    headings = page.locator(".tier-section h2")
    expect(headings).to_have_text(["Same image 1", "Crops 1", "Look-alikes 0"])
    expect(page.locator(".section-exact .card .collapsed")).to_have_text("+1 near-identical")  # the copy
    expect(page.locator(".section-crop .card h3")).to_have_text(["A part of the wall"])
    expect(page.locator(".lookalikes-empty")).to_contain_text("No look-alikes. Only copies are searched")
    figure = page.locator(".query-image")
    size = (folder / "scene0.png").stat().st_size
    expect(figure.locator("figcaption")).to_have_text(f"640 × 480 px · {size / 1000:.1f} KB · PNG")
    drawn = figure.locator("img").bounding_box()
    assert drawn and 280 <= drawn["width"] <= 320  # large, not a chip
    expect(page.locator("details.weaker summary")).to_contain_text("weaker result")  # the rest stay reachable
    assert broken_images(page) == []
    shot(page, "results-sections.png", tmp_path)
    copy = tmp_path / "copy.jpg"
    scene(0).resize((400, 300)).save(copy, quality=70)
    page.set_input_files("#file", str(copy))
    page.click("button[type=submit]")
    expect(headings).to_have_text(["Copies 1", "Crops 1", "Look-alikes 0"])
    expect(page.locator(".query-image figcaption")).to_contain_text("400 × 300 px")


def test_similar_to_an_image_without_look_alikes(
    page: Page, server: tuple[str, Collection, Path], tmp_path: Path
) -> None:
    base, collection, _ = server
    [other] = collection.search(text="scene2", k=1)
    page.goto(f"{base}/?id={other.image_id}")
    expect(page.locator(".tier-section h2")).to_have_text(["Look-alikes 0"])
    expect(page.locator(".lookalikes-empty")).to_contain_text("see docs/models.md")
    expect(page.locator(".results > .grid")).to_have_count(0)  # no unrelated cards as matches
    page.goto(f"{base}/images/{other.image_id}")
    expect(page.locator("#similar .lookalikes-empty h3")).to_have_text("Look-alikes 0")
    expect(page.locator("#similar .lookalikes-empty")).to_contain_text("No look-alikes")
    shot(page, "image-page-no-lookalikes.png", tmp_path)


@pytest.mark.parametrize(
    "data", [b"shopping list", encode(photo(3), "JPEG")[:2500]], ids=["text", "truncated"]
)
def test_a_failed_upload_shows_the_error_and_no_broken_image(
    page: Page, server: tuple[str, Collection, Path], tmp_path: Path, data: bytes
) -> None:
    base, _, _ = server
    page.goto(base)
    page.set_input_files("#file", {"name": "query.jpg", "mimeType": "image/jpeg", "buffer": data})
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("[data-chip]")).to_have_count(0)
    assert broken_images(page) == []
    shot(page, f"failed-upload-{len(data)}.png", tmp_path)


def test_words_are_marked_and_metadata_links_are_links(
    page: Page, server: tuple[str, Collection, Path], tmp_path: Path
) -> None:
    base, _, _ = server
    page.goto(f"{base}/?q=harbour+sea")
    expect(page.locator(".notes")).to_contain_text("All words must match")
    first = page.locator(".card").first
    expect(first.locator("h3")).to_contain_text("Harbour wall")
    expect(first.locator("h3 mark")).to_have_text(["Harbour"])
    expect(first.locator(".tags mark")).to_have_text(["sea"])
    expect(first.locator(".matched-words")).to_contain_text("title: harbour")
    link = first.locator(".fields a")
    expect(link).to_have_attribute("href", "https://example.org/wall")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    shot(page, "words-marked.png", tmp_path)
    page.goto(f"{base}/?q=part+wall")
    detail = page.locator(".card").first
    expect(detail.locator(".fields")).to_have_count(0)  # its sha256 and bytes are not metadata
