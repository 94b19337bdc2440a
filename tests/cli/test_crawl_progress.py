"""The crawl's live progress bar: on a terminal, a bar of URLs finished out of those known; nothing with --json."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lookalike.cli import progress


def test_the_bar_counts_urls_finished_out_of_those_known(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(progress, "console", terminal)
    with progress.crawl_progress(quiet=False) as update:
        assert update is not None
        update("pending", 1)  # the start page
        update("queued", 9)  # the links it found
        update("page", 1)
        for event in ("file", "file", "refused", "url_failed", "unchanged"):
            update(event, 1)
        update("image", 2)  # images do not finish URLs, nor do images that fail
        update("failed", 1)
        update("refused_link", 3)  # links refused as they were found: never URLs to finish
    shown = out.getvalue()
    assert "6/10" in shown
    assert "1 pages, 2 files, 1 unchanged, 2 images, 4 refused, 2 failed" in shown


def test_no_bar_with_json_or_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    with progress.crawl_progress(quiet=True) as update:
        assert update is None
    monkeypatch.setattr(progress, "console", Console(file=io.StringIO(), force_terminal=False))
    with progress.crawl_progress(quiet=False) as update:
        assert update is None
