"""``serve --watch``: the watcher runs with the app's lifespan; what it indexes is searchable at
once, and the stats and the collection page say the folder is watched."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lookalike.settings import load_settings

from asgi_client import serving
from conftest import encode, photo

pytest.importorskip("watchfiles")
pytest.importorskip("fastapi")

WAIT = 90.0


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def test_a_served_collection_follows_its_watched_folder(tmp_path: Path) -> None:
    from lookalike.api.app import create_app

    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "a.png").write_bytes(encode(photo(1, (64, 48))))
    settings = load_settings(home=tmp_path / "data", ingest={"workers": 1}, watch={"quiet_ms": 100})
    app = create_app(settings, watch=[folder])
    with serving(app) as client:
        lifespan = app.router.lifespan_context(app)
        client.run(lifespan.__aenter__())
        try:
            stats = lambda: client.get("/api/stats").json()  # noqa: E731
            watching = eventually(
                lambda: stats().get("watching", {}).get("state") == "watching" and stats(), "the catch-up"
            )
            assert watching["watching"]["folders"] == [str(folder.resolve())] and watching["images"] == 1

            (folder / "b.png").write_bytes(encode(photo(2, (64, 48))))
            eventually(lambda: stats()["images"] == 2, "the new file")
            query = {"file": ("q.png", (folder / "b.png").read_bytes(), "image/png")}
            found = client.post("/api/search", files=query, data={"k": "1"})
            assert found.status_code == 200, found.text
            assert found.json()["results"][0]["occurrences"][0]["uri"].endswith("b.png")
            eventually(lambda: (stats()["watching"]["last"] or {}).get("added") == 1, "the batch reported")

            page = client.get("/collection").text
            assert "Watching" in page and str(folder.resolve()) in page
        finally:
            client.run(lifespan.__aexit__(None, None, None))
    assert app.state.service.watching.status.state == "stopped"
