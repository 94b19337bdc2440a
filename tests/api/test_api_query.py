"""A POST's query string counts: ``POST /api/search?k=5`` with a file gets 5 results; a parameter
given twice, in both places, or unknown to the endpoint is refused with 422 naming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from test_api import KEY, METADATA, error_of, jpeg, open_collection

from lookalike.api import create_app

from asgi_client import Client, serving
from conftest import photo


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Client]:
    """The API over six photos with test_api's titles, tags and licences."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(6):
        photo(seed).save(folder / f"p{seed}.{'jpg' if seed == 2 else 'png'}")
    (folder / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in METADATA), encoding="utf-8")
    with open_collection(tmp_path, folder, api_key=KEY) as opened, serving(create_app(opened)) as served:
        yield served


def upload(seed: int = 3) -> dict[str, tuple[str, bytes]]:
    return {"file": ("q.jpg", jpeg(seed))}


def test_k_and_offset_in_the_query_string_of_an_upload(api: Client) -> None:
    everything = api.post("/api/search", files=upload()).json()
    assert len(everything["results"]) > 2
    one = api.post("/api/search?k=1", files=upload()).json()
    assert one["k"] == 1 and [r["id"] for r in one["results"]] == [everything["results"][0]["id"]]
    second = api.post("/api/search?k=1&offset=1", files=upload()).json()
    assert [r["id"] for r in second["results"]] == [everything["results"][1]["id"]]


def test_the_query_string_of_a_json_or_form_search(api: Client) -> None:
    assert api.post("/api/search?k=1", json={"text": "kite"}).json()["k"] == 1
    words = api.post("/api/search?q=kite", data={"k": "1"}).json()
    assert words["k"] == 1 and "kite" in words["results"][0]["occurrences"][0]["title"].lower()
    faceted = api.post("/api/search?facets=true&signals=phash", files=upload()).json()
    assert "facets" in faceted


def test_filters_in_the_query_string_join_the_form_s(api: Client) -> None:
    birds = api.post("/api/search?tag=bird", data={"q": "kite"}).json()["results"]
    assert birds and all("bird" in r["occurrences"][0]["tags"] for r in birds)
    none = api.post("/api/search?tag=bird", data={"q": "kite", "tag": "boat"}).json()["results"]
    assert {t for r in none for t in r["occurrences"][0]["tags"]} & {"bird", "boat"}  # either tag passes
    licensed = api.post("/api/search?filter=licence:CC0", json={"text": "harbour"}).json()["results"]
    assert [r["occurrences"][0]["extra"]["licence"] for r in licensed] == ["CC0"]


@pytest.mark.parametrize(
    ("url", "form", "named"),
    [
        ("/api/search?k=0", {}, "query.k"),  # out of range, as in a body
        ("/api/search?k=many", {}, "query.k"),
        ("/api/search?kk=5", {}, "query.kk"),  # a typo is not ignored
        ("/api/search?k=1&k=2", {}, "query.k"),
        ("/api/search?k=2", {"k": "3"}, "query.k"),  # in both places
        ("/api/search?q=kite", {"text": "kite"}, "query.text"),
        ("/api/search?image=abc", {}, "query.image"),  # the image goes in the body
    ],
)
def test_bad_query_strings_are_refused_naming_the_parameter(
    api: Client, url: str, form: dict[str, str], named: str
) -> None:
    r = api.post(url, files=upload(), data=form)
    assert r.status_code == 422, r.text
    error = error_of(r)
    assert error["reason"] == "invalid_request" and named in error["message"]


def test_json_search_fields_in_both_places_are_refused(api: Client) -> None:
    r = api.post("/api/search?k=2", json={"text": "kite", "k": 3})
    assert r.status_code == 422 and "query.k" in error_of(r)["message"]
    r = api.post("/api/search?tag=bird", json={"text": "kite", "filters": {"tag": "toy"}})
    assert r.status_code == 422 and "filters" in error_of(r)["message"]


def test_add_takes_its_metadata_from_the_query_string(api: Client) -> None:
    auth = {"X-API-Key": KEY}
    added = api.post("/api/images?title=Lighthouse&tags=coast,light", files=upload(21), headers=auth)
    assert added.status_code == 201, added.text
    [place] = api.get(f"/api/images/{added.json()['id']}").json()["occurrences"]
    assert place["title"] == "Lighthouse" and place["tags"] == ["coast", "light"]
    extra = api.post('/api/images?extra={"price":"4"}', files=upload(22), headers=auth)
    assert api.get(f"/api/images/{extra.json()['id']}").json()["occurrences"][0]["extra"] == {"price": "4"}
    typo = api.post("/api/images?titel=x", files=upload(23), headers=auth)
    assert typo.status_code == 422 and "query.titel" in error_of(typo)["message"]
    twice = api.post("/api/images?title=a", files=upload(24), data={"title": "b"}, headers=auth)
    assert twice.status_code == 422 and "query.title" in error_of(twice)["message"]
    by_url = api.post("/api/images?url=https://example.org/a.jpg", files=upload(25), headers=auth)
    assert by_url.status_code == 400


def test_the_page_search_form_reads_its_action_s_query_string(api: Client) -> None:
    posted = api.post("/?q=harbour", files=upload(1))
    assert posted.status_code == 303
    params = parse_qs(urlsplit(posted.headers["location"]).query)
    assert params["q"] == ["harbour"] and params["img"]
    typed = api.post("/?q=harbour", data={"q": "kite"})  # the form's own field wins
    assert parse_qs(urlsplit(typed.headers["location"]).query)["q"] == ["kite"]
