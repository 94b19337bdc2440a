"""Flagged exposure on the page in real headless Chromium: blurred until clicked, then shown;
the second click opens the image page; the switch hides flagged images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import lookalike
from lookalike.api import create_app

from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)
from tiny_models import bluish, exposure_model, reddened

SIGNALS = ["phash", "colour", "junk", "safety"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web-safety")
    folder = root / "pictures"
    folder.mkdir()
    for seed in range(2):
        reddened(seed).save(folder / f"red{seed}.png")
        bluish(seed + 10).save(folder / f"blue{seed}.png")
    model = exposure_model(root / "exposure.onnx")
    settings = {"ingest": {"workers": 1, "signals": SIGNALS}, "safety": {"model": str(model)}}
    with lookalike.open(root / "data", **settings) as collection:  # type: ignore[arg-type]
        collection.index([folder])
        with serve_in_thread(create_app(collection)) as base:
            yield base


def test_flagged_thumbnails_blur_until_clicked(page: Page, server: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(f"{server}/browse?sort=path")
    veiled = page.locator(".card.veiled")
    expect(veiled).to_have_count(2)
    expect(veiled.first.locator(".veil")).to_have_text("Flagged · click to show")
    blur = veiled.first.locator("img").evaluate("img => getComputedStyle(img).filter")
    assert blur.startswith("blur(")
    shots = Path(os.environ.get("LOOKALIKE_SHOTS") or tmp_path)
    page.screenshot(path=str(shots / "safety-blurred.png"), full_page=True)
    first = veiled.first
    name = first.locator("h3").inner_text()
    first.locator(".thumb").click()
    expect(page.locator(".card.veiled")).to_have_count(1)  # shown in place, not opened
    assert page.url.endswith("/browse?sort=path")
    shown = page.locator(".card", has_text=name)
    assert shown.locator("img").evaluate("img => getComputedStyle(img).filter") == "none"
    shown.locator(".thumb").click()
    page.wait_for_url("**/images/*")
    page.goto(f"{server}/browse?sort=path")
    page.get_by_role("link", name="Hide them").click()
    page.wait_for_url("**safe=hide**")
    expect(page.locator(".card.listed")).to_have_count(2)
    expect(page.locator(".card.listed h3")).to_have_text(["blue0.png", "blue1.png"])
