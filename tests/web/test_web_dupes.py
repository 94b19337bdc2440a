"""The duplicates review page in real headless Chromium: groups side by side, the suggested keep,
and the reviewer's choice remembered across visits."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageOps
from playwright.sync_api import Page, expect

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from asgi_client import serving
from conftest import photo
from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Collection]]:
    root = tmp_path_factory.mktemp("web-dupes")
    folder = root / "photos"
    folder.mkdir()
    for seed in (1, 2):
        image = photo(seed, (320, 240))
        image.save(folder / f"p{seed}.png")
        ImageOps.mirror(image).resize((160, 120)).save(folder / f"p{seed}-small.jpg", quality=85)
    photo(3, (320, 240)).save(folder / "alone.png")
    with lookalike.open(root / "data", ingest={"workers": 1}) as collection:
        collection.index([folder])
        with serve_in_thread(create_app(collection)) as base:
            yield base, collection


def test_the_review_page_shows_each_group_with_its_keep_and_saves_the_choices(
    page: Page, server: tuple[str, Collection], tmp_path: Path
) -> None:
    base, collection = server
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto(f"{base}/dupes")
    groups = page.locator(".dupe-group")
    expect(groups).to_have_count(2)
    first, second = groups.first, groups.nth(1)
    expect(first.locator(".dupe")).to_have_count(2)
    expect(first.locator(".dupe.kept figcaption")).to_contain_text("320×240 PNG")
    expect(first.locator("h2")).to_contain_text("original: image")
    expect(first.locator("h2")).to_contain_text("is a downscale of it")
    expect(first.locator(".dupe:not(.kept) [data-derivative]")).to_have_text(
        re.compile(r"a downscale of #\d+")
    )
    expect(first.locator(".dupe.kept").get_by_label("keep this one")).to_be_checked()
    first.get_by_label("not duplicates").check()
    expect(first.locator("[data-saved]")).to_have_text("saved")
    second.locator(".dupe").nth(1).get_by_label("keep this one").check()  # the smaller copy, instead
    expect(second.locator("[data-saved]")).to_have_text("saved")
    page.reload()
    expect(page.locator(".dupe-group").first.get_by_label("not duplicates")).to_be_checked()
    kept = page.locator(".dupe-group").nth(1).locator(".dupe.kept")
    expect(kept.locator("figcaption")).to_contain_text("160×120 JPEG")
    expect(kept.get_by_label("keep this one")).to_be_checked()
    expect(page.locator(".dupe-group").nth(1).locator("h2")).to_contain_text("kept by your choice")
    shot = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path) / "dupes.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # the collection (and so `lookalike dupes` and its actions) follows the page
    chosen = {g["key"]: g for g in collection.dupes()}
    assert sorted(g["choice"] for g in chosen.values()) == ["different", "keep"]
    for key in chosen:  # back to the suggestions for the next test
        collection.app.catalog.choices.put(key, "suggested")


def test_the_api_lists_the_groups(server: tuple[str, Collection]) -> None:
    _, collection = server
    with serving(create_app(collection)) as http:
        groups = http.get("/api/dupes").json()["groups"]
        assert len(groups) == 2 and all(
            g["kind"] == "copy" and g["why"].startswith("original") for g in groups
        )
        oldest = http.get("/api/dupes", params={"keep": "oldest"}).json()["groups"]
        assert all(g["keep"] == min(i["id"] for i in g["images"]) for g in oldest)
        assert http.get("/api/dupes", params={"keep": "prettiest"}).status_code == 400
