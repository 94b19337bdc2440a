"""Browsing the collection without a query: sorts, the search page's filters, pages, facets, on both catalogs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import lookalike
from lookalike import Collection, ConfigError, Provenance
from lookalike.usecases.browse import SORTS, Catalogues

from conftest import encode, photo

#: name -> (size, format, tags); sizes differ so that the pixel and byte sorts have one answer.
FILES = {
    "IMG_2.png": ((320, 240), "PNG", "cat garden"),
    "IMG_10.jpg": ((640, 480), "JPEG", "cat"),
    "IMG_1.jpg": ((200, 150), "JPEG", "dog"),
    "sub/a.png": ((900, 700), "PNG", "dog garden"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def browsed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Collection]:
    """Four images indexed one at a time (so their added times differ), with tags in a sidecar."""
    catalog = {} if request.param == "sqlite" else {"catalog": request.getfixturevalue("postgres_url")}
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    lines = []
    for seed, (name, (size, fmt, tags)) in enumerate(FILES.items()):
        (root / name).write_bytes(
            encode(photo(seed, size), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        )
        lines.append(json.dumps({"path": name, "tags": tags}) + "\n")
    (root / "meta.jsonl").write_text("".join(lines), encoding="utf-8")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, **catalog) as opened:
        for name in FILES:
            opened.index([root / name], metadata=root / "meta.jsonl", retire=False)
            time.sleep(0.01)
        yield opened


def names(collection: Collection, sort: str, **options: object) -> list[str]:
    found = collection.browse(sort, **options)  # type: ignore[arg-type]
    return [Path(r.location).name for r in found.results]


def test_every_sort_orders_the_whole_collection(browsed: Collection) -> None:
    assert names(browsed, "-added") == ["a.png", "IMG_1.jpg", "IMG_10.jpg", "IMG_2.png"]
    assert names(browsed, "added") == ["IMG_2.png", "IMG_10.jpg", "IMG_1.jpg", "a.png"]
    assert names(browsed, "-pixels") == ["a.png", "IMG_10.jpg", "IMG_2.png", "IMG_1.jpg"]
    assert names(browsed, "pixels") == ["IMG_1.jpg", "IMG_2.png", "IMG_10.jpg", "a.png"]
    heavy = names(browsed, "-bytes")
    assert heavy == names(browsed, "bytes")[::-1] and heavy[0] == "a.png"
    # the path sorts numbers as numbers: IMG_2 before IMG_10, and a folder's files together
    assert names(browsed, "path") == ["IMG_1.jpg", "IMG_2.png", "IMG_10.jpg", "a.png"]
    assert names(browsed, "-path") == ["a.png", "IMG_10.jpg", "IMG_2.png", "IMG_1.jpg"]
    with pytest.raises(ConfigError, match="unknown sort 'size'"):
        browsed.browse("size")
    assert set(SORTS) == {f"{d}{k}" for d in ("", "-") for k in ("added", "pixels", "bytes", "path")}


def test_filters_facets_and_pages(browsed: Collection) -> None:
    cats = browsed.browse("path", {"tag": ["CAT"]}, facets=True)
    assert [Path(r.location).name for r in cats.results] == ["IMG_2.png", "IMG_10.jpg"] and cats.total == 2
    assert cats.facets is not None
    assert dict(cats.facets["tag"]) == {
        "cat": 2,
        "garden": 2,
        "dog": 2,
    }  # counts ignore the tag filter itself
    assert dict(cats.facets["format"]) == {"PNG": 1, "JPEG": 1}  # other fields count the cats only
    both = browsed.browse("path", {"tag": ["dog"], "format": ["png"]})
    assert [Path(r.location).name for r in both.results] == ["a.png"]
    big = browsed.browse("path", {"size": ["medium"]})
    assert {Path(r.location).name for r in big.results} == {"IMG_10.jpg", "a.png"}
    sub = browsed.browse("path", {"source": [str(Path(browsed.browse("path").results[3].location).parent)]})
    assert [Path(r.location).name for r in sub.results] == ["a.png"]
    assert browsed.browse("path", {"tag": ["bird"]}).total == 0
    second = browsed.browse("path", offset=2, k=2)
    assert [Path(r.location).name for r in second.results] == ["IMG_10.jpg", "a.png"] and second.total == 4
    assert browsed.browse("path", offset=8, k=2).results == []


def test_json_has_every_image_with_places_and_when_it_was_added(browsed: Collection) -> None:
    page = browsed.browse("-added", k=1).as_dict()
    [entry] = page["results"]
    assert page["total"] == 4 and page["sort"] == "-added" and "facets" not in page
    assert entry["occurrences"][0]["uri"].endswith("a.png") and entry["image"]["width"] == 900
    assert entry["added_at"] == pytest.approx(time.time(), abs=120) and "score" not in entry


def test_a_kept_catalogue_follows_new_and_removed_images(browsed: Collection, tmp_path: Path) -> None:
    kept = Catalogues()
    first = kept.get(browsed.app)
    assert kept.get(browsed.app) is first  # nothing changed: read once
    image_id, _ = browsed.add(encode(photo(30)), Provenance("upload://new.png"))
    assert kept.get(browsed.app).page().results[0].image_id == image_id
    browsed.remove(image_id)
    assert kept.get(browsed.app).page().total == 4


def test_an_empty_collection_lists_nothing(tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "empty") as empty:
        page = empty.browse(facets=True)
    assert page.results == [] and page.total == 0 and page.facets == {f: [] for f in page.facets or {}}


def test_junk_is_left_out_unless_asked_for(browsed: Collection) -> None:
    blank = encode(Image.new("RGB", (300, 200), (250, 250, 250)))
    junk_id, _ = browsed.add(blank, Provenance("upload://blank.png"))
    assert junk_id not in {r.image_id for r in browsed.browse().results}
    assert browsed.browse().total == 4 and browsed.browse(facets=True).facets["format"] == [
        ("JPEG", 2),
        ("PNG", 2),
    ]  # type: ignore[index]
    everything = browsed.browse(include_junk=True)
    assert everything.total == 5 and everything.results[0].image_id == junk_id
