"""The web page in real headless Chromium (Debian's package, driven by Playwright).

The server runs in a thread with Uvicorn on a free loopback port.  It may fetch
from private addresses (``fetch.allow_networks``) so that a pasted URL can point
at the server itself: nothing outside the machine is reached.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, Page, expect

import lookalike
from lookalike import Collection
from lookalike.api import create_app

from conftest import encode, photo

CHROMIUM = Path("/usr/lib/chromium/chromium")  # the real binary; /usr/bin/chromium is a wrapper script
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TITLES = ["Red kite", "Harbour at dawn", "Old mill", "Blue kite", "Night market", "Snow field"]
TAGS = ["bird sky", "sea boat", "building", "bird toy", "city night", "winter"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium instead of a downloaded browser (never ``playwright install``)."""
    return chromium_launch_args(browser_type_launch_args)


def chromium_launch_args(given: dict[str, Any], chromium: Path = CHROMIUM) -> dict[str, Any]:
    """Playwright's launch options for ``chromium``; without it the browser tests are skipped
    with how to install it (failed with ``CI_REQUIRE_BROWSER`` set)."""
    if not chromium.exists():
        message = f"Chromium is not installed at {chromium}: apt-get install chromium runs the browser tests"
        if os.environ.get("CI_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return {**given, "executable_path": str(chromium), "args": CHROMIUM_ARGS}


def test_without_chromium_the_skip_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        chromium_launch_args({}, Path("/nowhere/chromium"))


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collection]:
    root = tmp_path_factory.mktemp("web")
    folder = root / "photos"
    (folder / "copies").mkdir(parents=True)
    lines = []
    for seed, (title, tags) in enumerate(zip(TITLES, TAGS, strict=True)):
        photo(seed).save(folder / f"p{seed}.png")
        lines.append({"path": f"p{seed}.png", "title": title, "tags": tags, "price": f"{seed + 5}.00"})
    photo(3).resize((200, 150)).save(folder / "copies" / "blue-kite-small.jpg", quality=85)
    (folder / "meta.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    with lookalike.open(
        root / "data", ingest={"workers": 1}, fetch={"allow_networks": ["127.0.0.0/8"]}
    ) as opened:
        opened.index([folder], metadata=folder / "meta.jsonl")
        yield opened


@pytest.fixture(scope="module")
def server(collection: Collection) -> Iterator[str]:
    """The app on http://127.0.0.1:PORT; one more image is added through the API with a source page."""
    with serve_in_thread(create_app(collection)) as base:
        added = httpx.post(
            f"{base}/api/images",
            files={"file": ("linked.jpg", encode(photo(40), "JPEG", quality=80))},
            data={"title": "Linked lantern", "page_url": f"{base}/collection"},
        )
        assert added.status_code == 201, added.text
        yield base


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Uvicorn serving ``app`` on a free loopback port in a thread; yields its base URL."""
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    port = running.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(10)


@pytest.fixture
def query_file(tmp_path: Path) -> Path:
    path = tmp_path / "query.jpg"
    photo(0).resize((240, 180)).save(path, quality=75)  # a smaller, re-encoded copy of "Red kite"
    return path


def card_titles(page: Page) -> list[str]:
    """Every result's title, the weaker ones opened too."""
    page.wait_for_selector(".grid", state="attached")
    weaker = page.locator("details.weaker")
    if weaker.count() and not weaker.first.evaluate("d => d.open"):
        weaker.locator("summary").click()
    return page.locator(".card h3").all_inner_texts()


def test_upload_a_file(page: Page, server: str, query_file: Path) -> None:
    page.goto(server)
    page.set_input_files("#file", str(query_file))
    expect(page.locator("[data-preview]")).to_be_visible()
    page.click("button[type=submit]")
    assert card_titles(page)[0] == "Red kite"
    expect(page.locator(".count")).to_contain_text("with your image")
    expect(page.locator("[data-chip] img")).to_be_visible()  # the query image stays on the page
    first = page.locator(".card").first
    expect(first.locator(".why")).to_contain_text("phash")
    expect(first.locator(".fields")).to_contain_text("5.00")


def test_drop_an_image(page: Page, server: str, query_file: Path) -> None:
    page.goto(server)
    data = base64.b64encode(query_file.read_bytes()).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
            document.body.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        data,
    )
    expect(page.locator("[data-preview]")).to_be_visible()
    page.click("button[type=submit]")
    assert card_titles(page)[0] == "Red kite"


def test_paste_an_image_with_words(page: Page, server: str, query_file: Path) -> None:
    page.goto(server)
    page.fill("#q", "kite")
    data = base64.b64encode(query_file.read_bytes()).decode()
    page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "pasted.jpg", {type: "image/jpeg"}));
            document.querySelector("#q").dispatchEvent(new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true}));
        }""",
        data,
    )
    expect(page.locator("[data-preview]")).to_be_visible()
    page.press("#q", "Enter")
    assert card_titles(page)[:2] == ["Red kite", "Blue kite"]  # the image and the words, then the words
    expect(page.locator(".count")).to_contain_text("kite")


def test_paste_an_image_url(page: Page, context: BrowserContext, server: str, collection: Collection) -> None:
    [harbour] = collection.search(text="harbour")
    url = f"{server}/api/images/{harbour.image_id}/file"
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.goto(server)
    page.evaluate("(url) => navigator.clipboard.writeText(url)", url)
    page.focus("#q")
    page.keyboard.press("Control+V")
    expect(page.locator("#q")).to_have_value(url)
    page.keyboard.press("Enter")
    assert card_titles(page)[0] == "Harbour at dawn"
    expect(page.locator("#q")).to_have_value(url)


def test_type_words_with_the_keyboard(page: Page, server: str) -> None:
    page.goto(server)
    expect(page.locator("#q")).to_be_focused()  # the box has the focus on the start page
    page.keyboard.type("harbour")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"  # the image chooser is reachable
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert card_titles(page) == ["Harbour at dawn"]
    assert "q=harbour" in page.url


def test_similar_link_searches_by_id(page: Page, server: str) -> None:
    page.goto(f"{server}/?q=red+kite")
    assert card_titles(page)[0] == "Red kite"
    page.locator(".card").first.get_by_role("link", name="Similar").click()
    page.wait_for_url("**/?id=*")
    expect(page.locator(".count")).to_contain_text("like image")
    assert "Red kite" not in card_titles(page)  # the image itself is left out


def test_follow_a_source_link(page: Page, context: BrowserContext, server: str) -> None:
    page.goto(f"{server}/?q=lantern")
    assert card_titles(page) == ["Linked lantern"]
    with context.expect_page() as opened:
        page.locator(".card .source-link").first.click()
    source = opened.value
    source.wait_for_load_state()
    assert source.url == f"{server}/collection"
    expect(source.get_by_role("heading", name="Collection")).to_be_visible()


def test_bad_file_shows_an_error(page: Page, server: str) -> None:
    page.goto(server)
    page.set_input_files("#file", {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"shopping list"})
    page.click("button[type=submit]")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("not an image")
    expect(alert).to_contain_text("not_an_image")


def test_filters_and_image_page(page: Page, server: str, query_file: Path) -> None:
    page.goto(server)
    page.set_input_files("#file", str(query_file))
    page.click("button[type=submit]")
    expect(page.locator(".results > .tier-section .card h3")).to_have_text(
        ["Red kite"]
    )  # the copy; the rest wait
    expect(page.locator("details.weaker summary")).to_contain_text("alike by colour only")
    everything = len(card_titles(page))
    page.locator(".facet a", has_text="bird").click()
    assert sorted(card_titles(page)) == ["Blue kite", "Red kite"] and everything > 2
    expect(page.locator(".facet a.on")).to_have_count(1)
    page.get_by_role("link", name="Blue kite").click()
    expect(page.get_by_role("heading", name="Blue kite", level=1)).to_be_visible()
    expect(page.locator("#near")).to_contain_text("blue-kite-small.jpg")
    expect(page.locator("#places")).to_contain_text("bird")


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_fit_laptop_and_phone_widths(page: Page, server: str, query_file: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(server)
    page.set_input_files("#file", str(query_file))
    page.click("button[type=submit]")
    card_titles(page)
    for path in (page.url, f"{server}/images/1", f"{server}/collection"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
