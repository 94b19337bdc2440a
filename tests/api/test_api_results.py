"""Result lists in the REST API and the server-rendered pages: notes on look-alikes and on how
words combine, the words each field holds, sections by tier, the query image's facts, links
in metadata and internal fields left out (in-process through httpx's ASGI transport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selectolax.parser import HTMLParser

import lookalike
from lookalike import Collection
from lookalike.api import create_app
from lookalike.api.markup import linked, marked
from lookalike.api.views import place
from lookalike.records import is_internal_field as is_internal
from lookalike.search.notes import NO_CONTENT_MODEL, NO_LOOKALIKES

from asgi_client import Client, serving
from conftest import encode, photo

METADATA = [
    {
        "path": "p0.png",
        "title": "Red kite",
        "tags": "bird sky",
        "licence": "CC-BY",
        "source": "https://example.org/kite",
        "sha256": "ab" * 32,
        "bytes": 1234,
        "flickr_id": "99",
    },
    {
        "path": "p1.png",
        "title": "Harbour at dawn",
        "tags": "sea boat",
        "text": "Boats, see http://example.com/b.",
    },
    {"path": "p2.png", "title": "Blue kite", "tags": "bird toy", "link": "javascript:alert(1)"},
]


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):
        photo(seed).save(folder / f"p{seed}.png")
    (folder / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in METADATA), encoding="utf-8")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        opened.index([folder], metadata=folder / "meta.jsonl")
        yield opened


@pytest.fixture
def client(collection: Collection) -> Iterator[Client]:
    with serving(create_app(collection)) as c:
        yield c


def _id(collection: Collection, words: str) -> int:
    return collection.search(text=words, k=1)[0].image_id


def test_similar_without_look_alikes_says_so_in_notes(client: Client, collection: Collection) -> None:
    body = client.get(f"/api/images/{_id(collection, 'red kite')}/similar").json()
    assert body["results"] and all(r["match"]["tier"] == "similar" for r in body["results"])
    assert body["notes"] == [NO_LOOKALIKES, NO_CONTENT_MODEL]
    assert (
        client.get(f"/api/images/{_id(collection, 'red kite')}/similar", params={"offset": 1}).json()["notes"]
        == []
    )


def test_a_copy_is_a_match_and_notes_still_say_no_look_alikes(client: Client) -> None:
    upload = encode(photo(0).resize((200, 150)), "JPEG", quality=80)
    body = client.post("/api/search", files={"file": ("q.jpg", upload, "image/jpeg")}).json()
    assert body["results"][0]["match"]["tier"] == "copy"
    assert NO_LOOKALIKES in body["notes"] and NO_CONTENT_MODEL in body["notes"]


def test_word_results_carry_the_fields_their_words_are_in(client: Client) -> None:
    body = client.get("/api/search", params={"q": "kite bird"}).json()
    assert body["notes"] == ["all words must match, in one place (a title, the tags, a path or a text)"]
    first = body["results"][0]
    assert {w["field"]: w["words"] for w in first["words"]} == {"title": ["kite"], "tags": ["bird"]}
    some = client.get("/api/search", params={"q": "kite harbour"}).json()
    assert len(some["results"]) == 3
    assert "3 of these results hold only some of them" in some["notes"][0]


def test_the_page_marks_the_words_and_says_where_they_are(client: Client) -> None:
    page = HTMLParser(client.get("/", params={"q": "kite bird"}).text)
    card = page.css_first(".card")
    assert [m.text() for m in card.css("h3 mark")] == ["kite"]
    assert "tags: bird" in card.css_first(".matched-words").text()
    assert [m.text() for m in card.css(".tags mark")] == ["bird"]
    assert "All words must match" in page.css_first(".notes").text()


def test_an_image_query_shows_sections_and_its_query_image(client: Client) -> None:
    upload = encode(photo(0).resize((200, 150)), "JPEG", quality=80)
    found = client.post("/", files={"file": ("q.jpg", upload, "image/jpeg")}, follow_redirects=True)
    page = HTMLParser(found.text)
    assert [h.text(deep=False).strip() for h in page.css(".tier-section h2")] == ["Copies", "Look-alikes"]
    assert page.css_first(".lookalikes-empty").text().count("No look-alikes") == 1
    caption = page.css_first(".query-image figcaption").text()
    assert "200 × 150 px" in caption and "JPEG" in caption and f"{len(upload) / 1000:.1f} KB" in caption
    assert page.css_first(".query-image img").attributes["src"].startswith("/query/")


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"shopping list", "not an image"), (encode(photo(5), "JPEG")[:3000], "truncated")],
    ids=["not-an-image", "truncated"],
)
def test_a_failed_upload_draws_no_query_image(client: Client, data: bytes, says: str) -> None:
    found = client.post("/", files={"file": ("q.jpg", data, "image/jpeg")}, follow_redirects=True)
    page = HTMLParser(found.text)
    assert found.status_code >= 400 and says in page.css_first(".alert").text().lower()
    assert (
        page.css("[data-chip]") == [] and page.css(".query-image") == [] and page.css("main img[src]") == []
    )


def test_metadata_links_and_internal_fields(client: Client, collection: Collection) -> None:
    html = client.get(f"/images/{_id(collection, 'red kite')}").text
    fields = {
        dt.text(): dt.next.text() if dt.next else "" for dt in HTMLParser(html).css("#places .fields dt")
    }
    assert set(fields) == {"licence", "source"}  # not sha256, bytes nor flickr_id
    [link] = HTMLParser(html).css("#places .fields a")
    assert link.attributes["href"] == "https://example.org/kite" and "noopener" in str(link.attributes["rel"])
    harbour = client.get(f"/images/{_id(collection, 'harbour')}").text
    [inline] = HTMLParser(harbour).css("#places .text a")
    assert inline.attributes["href"] == "http://example.com/b"  # the sentence's full stop is left out
    blue = client.get(f"/images/{_id(collection, 'blue kite')}").text
    assert "javascript:" not in " ".join(a.attributes.get("href") or "" for a in HTMLParser(blue).css("a"))


def test_markup_escapes_then_marks_and_links() -> None:
    assert str(marked("<b>Kite</b> kites", {"kite"})) == "&lt;b&gt;<mark>Kite</mark>&lt;/b&gt; kites"
    assert str(linked("go https://x.org/a?b=1&c=<2>", {"go"})).startswith(
        '<mark>go</mark> <a href="https://x.org/a?b=1&amp;c="'
    )
    assert "href" not in str(linked("javascript:alert(1) ftp://x.org"))
    assert (
        is_internal("sha256")
        and is_internal("_key")
        and is_internal("flickr_photo_id")
        and not is_internal("licence")
    )
    shown = place({"uri": "/a.png", "extra": {"id": 3, "width": 9, "price": "1.00"}})
    assert shown["extra"] == [("price", "1.00")]
