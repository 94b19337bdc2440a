"""The catalog under test on each dialect, SQLite and PostgreSQL: fixtures shared by the catalog tests.

``catalog`` is one catalog; ``opener`` opens it again and again (each call a connection of its
own, closed at the end).  Registered for every test in ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lookalike.catalog import Catalog, open_catalog
from lookalike.records import Extracted

Opener = Callable[[], Catalog]


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        str(tmp_path / "c.sqlite") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )


@pytest.fixture
def opener(where: str, tmp_path: Path) -> Iterator[Opener]:
    """Opens the catalog under test; each call is a connection of its own."""
    opened: list[Catalog] = []

    def open_() -> Catalog:
        opened.append(open_catalog(where, tmp_path))
        return opened[-1]

    yield open_
    for catalog in opened:
        catalog.close()


@pytest.fixture
def catalog(opener: Opener) -> Catalog:
    return opener()


def extracted(sha: str, payload: bytes = b"\x01" * 8) -> Extracted:
    """A usable image's outcome with one small feature of the signal ``sig``."""
    return Extracted(sha, 10, 4, 4, "PNG", "RGB", {"sig": (1, payload)})
