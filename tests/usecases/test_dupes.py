"""Duplicates: exact copies (one content at several places) and near-identical images by the phash."""

from __future__ import annotations

from pathlib import Path

import pytest

import lookalike
from lookalike.app import build
from lookalike.collection import Collection
from lookalike.plugins import load_plugins
from lookalike.settings import load_settings
from lookalike.signals import Capability
from lookalike.signals.phash import PHash

from conftest import photo


def make_folder(root: Path) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for seed in range(4):
        photo(seed, (160, 120)).save(folder / f"p{seed}.png")
    photo(0, (160, 120)).save(folder / "p0-copy.jpg", quality=90)  # near: other bytes
    (folder / "p1-again.png").write_bytes((folder / "p1.png").read_bytes())  # exact: the same bytes
    return folder


def ids(collection: Collection, folder: Path) -> dict[str, int]:
    return {p.name: collection.catalog.images.ids_at(str(p.resolve()))[0] for p in folder.iterdir()}


def test_near_and_exact_duplicates_are_grouped(collection: Collection, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    collection.index([folder])
    by_name = ids(collection, folder)
    groups = collection.dupes()
    assert [g["kind"] for g in groups] == ["near", "exact"]
    near, exact = groups
    assert [i["id"] for i in near["images"]] == sorted([by_name["p0.png"], by_name["p0-copy.jpg"]])
    assert near["images"][0]["distance"] == 0 and 0 < near["images"][1]["distance"] <= 48
    assert sorted(Path(u).name for i in near["images"] for u in i["locations"]) == ["p0-copy.jpg", "p0.png"]
    [single] = exact["images"]
    assert single["id"] == by_name["p1.png"] == by_name["p1-again.png"]
    assert sorted(Path(u).name for u in single["locations"]) == ["p1-again.png", "p1.png"]
    grouped = {i["id"] for g in groups for i in g["images"]}
    assert by_name["p2.png"] not in grouped and by_name["p3.png"] not in grouped


def test_max_bits_bounds_what_counts_as_near(collection: Collection, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    collection.index([folder])
    assert [g["kind"] for g in collection.dupes(max_bits=0)] == ["exact"]  # exact copies stay
    assert len(collection.dupes(max_bits=576)[0]["images"]) == 5  # every distinct image is near at 576 bits


def test_a_collection_without_unique_images_has_no_dupes(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "distinct"
    folder.mkdir()
    for seed in range(3):
        photo(seed + 10).save(folder / f"d{seed}.png")
    collection.index([folder])
    assert collection.dupes() == []


def test_without_a_duplicates_signal_dupes_is_a_config_error(tmp_path: Path) -> None:
    class PlainHash(PHash):
        capabilities = frozenset({Capability.VECTORS})

    plugins = load_plugins(third_party=False)
    plugins.signals.register("phash", lambda s: PlainHash(), required=True)
    settings = load_settings(ingest={"workers": 1}).model_copy(update={"home": tmp_path / "data"})
    with Collection(build(settings, plugins)) as collection, pytest.raises(lookalike.ConfigError, match="duplicates"):
        collection.dupes()
