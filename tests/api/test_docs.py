"""The API docs pages' files come from the installed package; a partial install says what to add."""

from __future__ import annotations

from pathlib import Path

import pytest

import lookalike
from lookalike.api import create_app, docs

from asgi_client import serving


def test_the_docs_page_names_only_this_server(tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "data") as opened, serving(create_app(opened)) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
        assert "https://" not in page.text and f"{docs.ASSETS}/swagger-ui-bundle.js" in page.text
        script = client.get(f"{docs.ASSETS}/swagger-ui-bundle.js")
        assert script.status_code == 200 and "SwaggerUIBundle" in script.text
        assert "https://" not in client.get("/redoc").text


def test_without_the_assets_the_docs_page_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docs, "find_spec", lambda name: None)  # as if fastapi-offline were not installed
    with lookalike.open(tmp_path / "data") as opened, serving(create_app(opened)) as client:
        page = client.get("/docs")
        assert page.status_code == 503 and "pip install 'lookalike[web]'" in page.text
        assert "cdn" not in page.text.lower()
        assert client.get("/openapi.json").status_code == 200  # the description itself still answers
