"""The API docs pages in real headless Chromium with every request off this server refused:
they must render from the package's own files (no CDN), under their Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

import lookalike
from lookalike.api import create_app

from test_web import browser_type_launch_args, serve_in_thread  # noqa: F401  (Debian's Chromium)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = Path(tmp_path_factory.mktemp("web-docs")) / "data"
    with lookalike.open(home) as collection, serve_in_thread(create_app(collection)) as base:
        yield base


def offline(page: Page, base: str) -> tuple[list[str], list[str]]:
    """Abort every request that is not to ``base``; returns (refused URLs, console errors)."""
    refused: list[str] = []
    errors: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if url == base or url.startswith(base + "/"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return refused, errors


def test_swagger_ui_renders_offline(page: Page, server: str) -> None:
    refused, errors = offline(page, server)
    page.goto(f"{server}/docs")
    search = page.locator(".opblock-summary-path", has_text="/api/search").first
    expect(search).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path[data-path='/api/images/{image_id}']").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("lookalike")
    search.click()  # an operation opens: the script works, not only the first paint
    expect(page.locator(".opblock.is-open")).to_be_visible()
    assert refused == [] and errors == [], (refused, errors)


def test_redoc_renders_offline(page: Page, server: str) -> None:
    refused, errors = offline(page, server)
    page.goto(f"{server}/redoc")
    expect(page.get_by_text("/api/search").first).to_be_attached(timeout=20_000)
    expect(page.locator("h1").first).to_contain_text("lookalike")
    # ReDoc always asks for its maker's logo from their CDN; the page's policy blocks it
    # before any request is made, and ReDoc then leaves the logo out
    others = [e for e in errors if "cdn.redoc.ly/redoc/logo-mini.svg" not in e]
    assert refused == [] and others == [], (refused, errors)


def test_the_header_api_link_leads_to_the_docs(page: Page, server: str) -> None:
    refused, _ = offline(page, server)
    page.goto(server)
    page.get_by_role("link", name="API", exact=True).click()
    expect(page.locator(".opblock-summary-path", has_text="/api/search").first).to_be_visible(timeout=20_000)
    assert refused == []
