"""Which words each field of a result holds, and the notes a result list carries: on SQLite
(FTS5) and PostgreSQL (tsvector), whose keyword searches both want every word in one place and
fall back to any word when no place holds them all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import lookalike
from lookalike.search.notes import ALL_WORDS, NO_CONTENT_MODEL, NO_LOOKALIKES, notes, partial_matches
from lookalike.search.words import fold

from conftest import photo

PLACES = [
    {
        "path": "kite.png",
        "title": "Red kite",
        "tags": ["bird", "sky"],
        "text": "Seen over the Chiltern hills",
    },
    {"path": "crane.png", "title": "Grey crane", "tags": ["bird"], "text": "A crane at the harbour"},
    {"path": "harbour-night.png", "title": "Night", "tags": ["sea"], "text": "Lights"},
    {"path": "café.png", "title": "Café Über", "tags": [], "text": ""},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def collection(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[lookalike.Collection]:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed, place in enumerate(PLACES):
        photo(seed + 10).save(folder / str(place["path"]))
    (folder / "meta.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PLACES), encoding="utf-8")
    more = {} if request.param == "sqlite" else {"catalog": request.getfixturevalue("postgres_url")}
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, **more) as opened:  # type: ignore[arg-type]
        opened.index([folder], metadata=folder / "meta.jsonl")
        yield opened


def _hits(result: lookalike.Result) -> dict[str, list[str]]:
    return {hit.field: list(hit.words) for hit in result.words}


def test_each_field_says_which_words_it_holds(collection: lookalike.Collection) -> None:
    [kite] = collection.search(text="kite bird")
    assert _hits(kite) == {"title": ["kite"], "tags": ["bird"], "path": ["kite"]}
    assert kite.as_dict()["words"][0] == {"field": "title", "words": ["kite"], "found": ["kite"]}
    [night] = collection.search(text="harbour")[-1:]
    assert {"text", "path"} & set(_hits(night))  # 'harbour' is in one's text, in the other's path


def test_every_word_in_one_place_or_else_any_word(collection: lookalike.Collection) -> None:
    both = collection.search(text="bird kite")
    assert [r.location.rsplit("/", 1)[-1] for r in both] == ["kite.png"]
    assert notes(both, text="bird kite", by_image=False, content=[]) == [ALL_WORDS]
    some = collection.search(text="kite harbour")  # no place holds both: any word may match
    assert len(some) == 3 and partial_matches(some, "kite harbour") == 3
    [said] = notes(some, text="kite harbour", by_image=False, content=[])
    assert said.startswith("no image holds all the words") and "3 of these results" in said


def test_words_are_compared_as_the_index_folds_them(collection: lookalike.Collection) -> None:
    assert fold("Über") == "uber"
    [cafe] = collection.search(text="café")
    assert _hits(cafe)["title"] == ["café"]


def test_an_image_without_look_alikes_says_so(collection: lookalike.Collection) -> None:
    [kite] = collection.search(text="kite")
    found = collection.similar(kite.image_id)
    assert found and all(r.match is not None and r.match.tier == "similar" for r in found)
    assert notes(found, text=None, by_image=True, content=[]) == [NO_LOOKALIKES, NO_CONTENT_MODEL]
    assert notes(found, text=None, by_image=True, content=["embedding"]) == [NO_LOOKALIKES]
    assert notes(found, text="kite", by_image=True, content=[]) == []  # words decide a worded query
