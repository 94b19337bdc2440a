"""Who may reach the service: the start check of ``lookalike serve`` and a read-only page for
visitors without the key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.requests import Request

import lookalike
from lookalike import Collection, ConfigError
from lookalike.api import create_app
from lookalike.api.exposure import check_exposure, is_loopback
from lookalike.api.rest import page_may_write
from lookalike.settings import ServeSettings

from asgi_client import serving
from conftest import encode, photo


@pytest.mark.parametrize(
    ("name", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("app.localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("gallery.lan", False),
        ("localhost.example.org", False),
        ("", False),
    ],
)
def test_loopback_names(name: str, loopback: bool) -> None:
    assert is_loopback(name) is loopback


def test_the_start_check_refuses_a_network_address_without_a_key() -> None:
    with pytest.raises(ConfigError) as refused:
        check_exposure(ServeSettings(host="0.0.0.0"))
    message = str(refused.value)
    assert "'0.0.0.0'" in message and "serve.api_key" in message and "LOOKALIKE_SERVE__API_KEY" in message
    assert "--no-auth" in message and "serve.no_auth" in message


@pytest.mark.parametrize(
    "serve",
    [
        ServeSettings(),  # 127.0.0.1
        ServeSettings(host="localhost"),
        ServeSettings(host="::1"),
        ServeSettings(host="0.0.0.0", no_auth=True),
        ServeSettings(host="0.0.0.0", api_key=SecretStr("k")),
    ],
)
def test_the_start_check_lets_these_start(serve: ServeSettings) -> None:
    check_exposure(serve)


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Collection]:
    """A collection served with --no-auth on the network, as a visitor on the LAN sees it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):
        photo(seed).save(folder / f"p{seed}.png")
    with lookalike.open(
        tmp_path / "data", ingest={"workers": 1}, serve={"host": "0.0.0.0", "no_auth": True}
    ) as c:
        c.index([folder])
        yield c


def request_to(collection: Collection, host: str) -> Request:
    app = create_app(collection)
    scope: dict[str, Any] = {"type": "http", "app": app, "path": "/", "headers": [(b"host", host.encode())]}
    return Request(scope)


def test_pages_are_read_only_for_a_visitor_without_the_key(public: Collection) -> None:
    target = public.catalog.images.ok_ids()[0]
    visitor = {"Host": "gallery.example:8000"}
    with serving(create_app(public)) as client:
        assert client.get("/", headers=visitor).status_code == 200
        assert client.get("/", params={"id": target}, headers=visitor).status_code == 200
        assert client.get(f"/images/{target}", headers=visitor).status_code == 200
        assert client.get(f"/api/images/{target}/thumbnail", headers=visitor).status_code == 200
        posted = client.post("/", files={"file": ("q.png", encode(photo(1)))}, headers=visitor)
        assert posted.status_code == 303  # searching by an upload is a read
        added = client.post("/api/images", files={"file": ("a.png", encode(photo(9)))}, headers=visitor)
        assert added.status_code == 403 and "serve.api_key" in added.json()["error"]["message"]
    assert not page_may_write(request_to(public, "gallery.example:8000"))
    assert page_may_write(request_to(public, "127.0.0.1:8000"))


def test_with_a_key_the_page_offers_no_writes(tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "data", serve={"api_key": "k3y"}) as keyed:
        assert not page_may_write(request_to(keyed, "127.0.0.1:8000"))  # the page cannot send the key
