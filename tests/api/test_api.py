"""The REST API and the pages, in-process through httpx's ASGI transport: every endpoint, bad inputs too."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

import lookalike
from lookalike import Collection, Provenance
from lookalike.api import create_app
from lookalike.api.facets import facet_counts, matches, size_bucket, source_of
from lookalike.api.service import QueryImages, ReadWriteLock, Service

from asgi_client import Client, serving
from conftest import DEFAULT_SIGNALS, encode, photo

T = TypeVar("T")
KEY = "s3cret-key"
LIMIT = 300_000  # serve.max_upload_bytes in these tests

METADATA = [
    {"path": "p0.png", "title": "Red kite", "tags": "bird sky", "price": "12.00", "licence": "CC-BY"},
    {"path": "p1.png", "title": "Harbour at dawn", "tags": "sea boat", "licence": "CC0"},
    {"path": "p2.jpg", "title": "Old mill", "tags": "building", "page_url": "javascript:alert(1)"},
    {"path": "p3.png", "title": "Blue kite", "tags": "bird toy", "page_url": "https://example.org/kite"},
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Six photos, a resized copy of photo 3 (near-identical), a broken file and a sidecar."""
    root = tmp_path / "photos"
    (root / "more").mkdir(parents=True)
    for seed in range(6):
        photo(seed).save(root / f"p{seed}.{'jpg' if seed == 2 else 'png'}")
    photo(3).resize((256, 192)).save(root / "more" / "p3-small.jpg", quality=90)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in METADATA), encoding="utf-8")
    return root


def open_collection(tmp_path: Path, folder: Path, **serve: Any) -> Collection:
    opened = lookalike.open(
        tmp_path / "data",
        ingest={"workers": 1},
        serve={"max_upload_bytes": LIMIT, **serve},
    )
    opened.index([folder], metadata=folder / "meta.jsonl")
    return opened


@pytest.fixture
def indexed(tmp_path: Path, folder: Path) -> Iterator[Collection]:
    with open_collection(tmp_path, folder, api_key=KEY) as opened:
        yield opened


def client_service(client: Client) -> Service:
    service: Service = client.app.state.service
    return service


@pytest.fixture
def client(indexed: Collection) -> Iterator[Client]:
    with serving(create_app(indexed)) as c:
        yield c


def ids_at(collection: Collection, name: str) -> int:
    [image_id] = [
        i for i in collection.catalog.images.ok_ids() if name in collection.info(i)["occurrences"][0]["uri"]
    ]
    return image_id


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, str] = body["error"]
    assert error["message"], body
    return error


def jpeg(seed: int, **kw: Any) -> bytes:
    return encode(photo(seed), "JPEG", quality=kw.pop("quality", 70), **kw)


# ---- searching ----------------------------------------------------------------------------------------


def test_health_and_stats(client: Client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["vectors"]["phash"] == 7
    assert health.json()["images"] == 7  # not the keypoints index's rows
    stats = (client.get("/api/stats", params={"failures": 5})).json()
    assert stats["images"] == 7 and stats["failed"] == 1
    assert stats["failure_list"][0]["reason"] == "corrupt"
    assert stats["scans"][0]["counts"]["images_new"] == 7


def test_search_by_upload_finds_the_copy_with_links(client: Client) -> None:
    r = client.post("/api/search", files={"file": ("q.jpg", jpeg(4), "image/jpeg")}, data={"k": "3"})
    assert r.status_code == 200
    body = r.json()
    first = body["results"][0]
    assert first["occurrences"][0]["uri"].endswith("p4.png") and first["score"] > 0.8
    assert set(first["why"]) == {"phash", "colour"}
    assert first["links"]["thumbnail"] == f"/api/images/{first['id']}/thumbnail"
    assert len(body["results"]) == 3 and body["k"] == 3 and body["offset"] == 0


def test_search_by_json_image_and_words(client: Client) -> None:
    image = base64.b64encode(jpeg(0)).decode()
    r = client.post("/api/search", json={"image": image, "text": "kite", "k": 2})
    assert r.status_code == 200
    [first, second] = r.json()["results"]
    assert first["occurrences"][0]["title"] == "Red kite"  # image and words agree
    assert second["occurrences"][0]["title"] == "Blue kite"  # the words alone
    assert "text" in first["why"] and "phash" in first["why"]


def test_near_identical_results_collapse_with_a_count(client: Client) -> None:
    body = (client.post("/api/search", json={"image": base64.b64encode(jpeg(3)).decode()})).json()
    assert len(body["results"][0]["collapsed"]) == 1
    apart = (
        client.post("/api/search", json={"image": base64.b64encode(jpeg(3)).decode(), "collapse": False})
    ).json()
    assert (
        apart["results"][0]["collapsed"] == []
        and apart["results"][1]["id"] == body["results"][0]["collapsed"][0]
    )


def test_search_by_id_and_similar_leave_the_image_out(client: Client, indexed: Collection) -> None:
    target = ids_at(indexed, "p3.png")
    by_id = (client.post("/api/search", json={"id": target, "collapse": False})).json()["results"]
    similar = (client.get(f"/api/images/{target}/similar")).json()["results"]
    assert target not in [r["id"] for r in by_id]
    assert by_id[0]["occurrences"][0]["uri"].endswith("p3-small.jpg")
    assert similar[0]["id"] == by_id[0]["id"]
    form = client.post("/api/search", data={"id": str(target), "k": "1", "collapse": "false"})
    assert form.json()["results"][0]["id"] == by_id[0]["id"]


def test_words_with_get(client: Client) -> None:
    r = client.get("/api/search", params={"q": "harbour"})
    assert r.status_code == 200
    [hit] = r.json()["results"]
    assert (
        hit["occurrences"][0]["title"] == "Harbour at dawn"
        and hit["occurrences"][0]["extra"]["licence"] == "CC0"
    )


def test_filters_facets_and_paging(client: Client) -> None:
    query = {"image": base64.b64encode(jpeg(1)).decode(), "collapse": False}
    every = (client.post("/api/search", json={**query, "k": 50, "facets": True})).json()
    assert every["total"] == 7 and every["complete"]
    facets = {name: {f["value"]: f["count"] for f in found} for name, found in every["facets"].items()}
    assert facets["tag"]["bird"] == 2 and facets["format"] == {"PNG": 5, "JPEG": 2}
    assert sorted(facets["source"].values()) == [1, 6]  # the folder and its sub-folder
    assert facets["size"] == {"small": 7}

    birds = (client.post("/api/search", json={**query, "filters": {"tag": "bird"}, "facets": True})).json()
    assert birds["total"] == 2
    assert {r["occurrences"][0]["title"] for r in birds["results"]} == {"Red kite", "Blue kite"}
    tag_counts = {f["value"]: f["count"] for f in birds["facets"]["tag"]}
    assert tag_counts["sea"] == 1  # a facet counts without its own filter

    licensed = (client.get("/api/search", params={"q": "kite", "filter": "licence:cc-by"})).json()
    assert [r["occurrences"][0]["title"] for r in licensed["results"]] == ["Red kite"]
    jpegs = (client.get(f"/api/images/{every['results'][0]['id']}/similar", params={"format": "jpeg"})).json()
    assert {r["image"]["format"] for r in jpegs["results"]} == {"JPEG"}

    pages = [
        (client.post("/api/search", json={**query, "k": 3, "offset": offset})).json() for offset in (0, 3, 6)
    ]
    seen = [r["id"] for page in pages for r in page["results"]]
    assert seen == [r["id"] for r in every["results"]]
    assert [len(p["results"]) for p in pages] == [3, 3, 1]


# ---- bad searches ----------------------------------------------------------------------------------------


def test_not_an_image_is_415(client: Client) -> None:
    r = client.post("/api/search", files={"file": ("notes.jpg", b"just some words", "image/jpeg")})
    assert r.status_code == 415
    assert error_of(r)["reason"] == "not_an_image"


def test_corrupt_image_is_400_with_its_reason(client: Client) -> None:
    broken = jpeg(2)[:400]  # a JPEG cut short
    r = client.post("/api/search", files={"file": ("cut.jpg", broken, "image/jpeg")})
    assert r.status_code == 400
    assert error_of(r)["reason"] == "corrupt"


def test_huge_uploads_are_413(client: Client) -> None:
    huge = b"\xff\xd8\xff" + b"\x00" * (LIMIT * 2)
    declared = client.post("/api/search", files={"file": ("big.jpg", huge, "image/jpeg")})
    assert declared.status_code == 413 and error_of(declared)["reason"] == "too_large"
    assert str(LIMIT) in error_of(declared)["message"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(20):
            yield b"\x00" * 65536

    streamed = client.post(
        "/api/search", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert streamed.status_code == 413
    just_over = b"\xff\xd8\xff" + b"\x00" * LIMIT  # within the body limit, over the image limit
    assert (client.post("/api/search", files={"file": ("b.jpg", just_over)})).status_code == 413
    as_json = client.post("/api/search", json={"image": base64.b64encode(just_over).decode()})
    assert as_json.status_code == 413


def test_private_address_url_is_400(client: Client) -> None:
    r = client.post("/api/search", json={"url": "http://127.0.0.1:9/cat.jpg"})
    assert r.status_code == 400
    error = error_of(r)
    assert error["reason"] == "blocked_address" and "not a public address" in error["message"]
    r = client.get("/api/search", params={"url": "http://169.254.169.254/latest/meta-data"})
    assert r.status_code == 400 and error_of(r)["reason"] == "blocked_address"


def test_unknown_ids_are_404(client: Client) -> None:
    for path in (
        "/api/images/9999",
        "/api/images/9999/thumbnail",
        "/api/images/9999/file",
        "/api/images/9999/similar",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert error_of(r)["reason"] == "not_found"
    r = client.post("/api/search", json={"id": 9999})
    assert r.status_code == 404
    r = client.delete("/api/images/9999", headers={"X-API-Key": KEY})
    assert r.status_code == 404
    assert (client.get("/api/nothing-here")).status_code == 404


def test_invalid_requests(client: Client) -> None:
    r = client.get("/api/search", params={"q": "kite", "k": 0})
    assert r.status_code == 422 and error_of(r)["reason"] == "invalid_request"
    assert "k" in error_of(r)["message"]
    r = client.post("/api/search", json={"text": "kite", "k": "many"})
    assert r.status_code == 422
    r = client.post("/api/search", json={"text": "kite", "filters": {"bad name!": ["x"]}})
    assert r.status_code == 422
    r = client.post("/api/search", json={"text": "kite", "colour": "red"})
    assert r.status_code == 422  # unknown fields are refused, not ignored
    r = client.post("/api/search", json={})
    assert r.status_code == 400 and error_of(r)["reason"] == "bad_request"
    r = client.post("/api/search", json={"id": 1, "url": "https://example.org/a.jpg"})
    assert r.status_code == 400
    r = client.post("/api/search", json={"image": "not base64!!"})
    assert r.status_code == 400
    r = client.post("/api/search", content=b"kite", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and error_of(r)["reason"] == "unsupported_media_type"
    r = client.post("/api/search", json={"text": "kite", "signals": ["sparkle"]})
    assert r.status_code == 400 and error_of(r)["reason"] == "bad_setting"
    r = client.get("/api/images/abc")
    assert r.status_code == 422


# ---- images ------------------------------------------------------------------------------------------------


def test_image_facts_thumbnail_and_file(client: Client, indexed: Collection, folder: Path) -> None:
    target = ids_at(indexed, "p0.png")
    facts = (client.get(f"/api/images/{target}")).json()
    assert facts["image"]["format"] == "PNG" and set(facts["features"]) == set(DEFAULT_SIGNALS)
    assert facts["occurrences"][0]["extra"] == {"price": "12.00", "licence": "CC-BY"}

    thumb = client.get(f"/api/images/{target}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content.startswith(b"\xff\xd8\xff") and thumb.headers["x-content-type-options"] == "nosniff"
    again = client.get(f"/api/images/{target}/thumbnail", headers={"If-None-Match": thumb.headers["etag"]})
    assert again.status_code == 304

    original = client.get(f"/api/images/{target}/file")
    assert original.status_code == 200 and original.headers["content-type"] == "image/png"
    assert original.content == (folder / "p0.png").read_bytes()


def test_pixel_art_thumbnail_is_png(client: Client) -> None:
    sprite = Image.new("RGB", (16, 16), (200, 30, 30))
    sprite.paste((20, 20, 220), (4, 4, 12, 12))
    added = client.post(
        "/api/images", files={"file": ("sprite.png", encode(sprite))}, headers={"X-API-Key": KEY}
    )
    thumb = client.get(f"/api/images/{added.json()['id']}/thumbnail")
    assert thumb.headers["content-type"] == "image/png"


def test_add_search_and_remove(client: Client) -> None:
    data = jpeg(11)
    form = {
        "title": "Lighthouse",
        "tags": "coast, light",
        "page_url": "https://example.org/lh",
        "extra": '{"price": "3"}',
    }
    auth = {"Authorization": f"Bearer {KEY}"}
    added = client.post("/api/images", files={"file": ("lh.jpg", data)}, data=form, headers=auth)
    assert added.status_code == 201
    body = added.json()
    assert body["new"] is True and body["location"].startswith("upload://")
    again = client.post("/api/images", files={"file": ("lh.jpg", data)}, headers=auth)
    assert again.status_code == 200 and again.json() == {**body, "new": False}

    [hit] = (client.get("/api/search", params={"q": "lighthouse"})).json()["results"]
    assert hit["id"] == body["id"] and hit["occurrences"][0]["tags"] == ["coast", "light"]
    assert hit["occurrences"][0]["page_url"] == "https://example.org/lh"
    found = (client.post("/api/search", files={"file": ("q.jpg", data)})).json()["results"][0]
    assert found["id"] == body["id"]
    assert (client.get(f"/api/images/{body['id']}/file")).status_code == 404  # uploads keep no file

    removed = client.delete(f"/api/images/{body['id']}", headers=auth)
    assert removed.status_code == 200 and removed.json() == {"removed": [body["id"]]}
    assert (client.get(f"/api/images/{body['id']}")).status_code == 404
    assert (client.get("/api/search", params={"q": "lighthouse"})).json()["results"] == []


def test_bad_adds(client: Client) -> None:
    auth = {"X-API-Key": KEY}
    r = client.post("/api/images", files={"file": ("a.txt", b"hello")}, headers=auth)
    assert r.status_code == 415
    r = client.post("/api/images", json={"url": "http://10.1.2.3/x.jpg"}, headers=auth)
    assert r.status_code == 400 and error_of(r)["reason"] == "blocked_address"
    r = client.post("/api/images", json={"title": "no url"}, headers=auth)
    assert r.status_code == 400
    r = client.post("/api/images", data={"title": "no file"}, files={"other": ("x", b"")}, headers=auth)
    assert r.status_code == 400
    r = client.post("/api/images", files={"file": ("a.jpg", jpeg(1))}, data={"extra": "[1"}, headers=auth)
    assert r.status_code == 400
    r = client.post("/api/images", files={"file": ("a.jpg", b"\xff\xd8\xff" + bytes(LIMIT))}, headers=auth)
    assert r.status_code == 413


def test_write_endpoints_need_the_key(client: Client) -> None:
    files = {"file": ("a.jpg", jpeg(12))}
    missing = client.post("/api/images", files=files)
    assert missing.status_code == 401 and error_of(missing)["reason"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.post("/api/images", files=files, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403 and error_of(wrong)["reason"] == "forbidden"
    assert (client.delete("/api/images/1")).status_code == 401
    assert (client.delete("/api/images/1", headers={"Authorization": "Bearer nope"})).status_code == 403
    assert (client.get("/api/search", params={"q": "kite"})).status_code == 200  # reads stay public


def test_without_a_key_writes_are_open_but_not_cross_site(tmp_path: Path, folder: Path) -> None:
    with open_collection(tmp_path, folder) as opened, serving(create_app(opened)) as c:
        r = c.post("/api/images", files={"file": ("a.jpg", jpeg(13))})
        assert r.status_code == 201
        same_site = c.post(
            "/api/images", files={"file": ("b.jpg", jpeg(14))}, headers={"Origin": "http://127.0.0.1:8000"}
        )
        assert same_site.status_code == 201
        other_site = c.post(
            "/api/images", files={"file": ("c.jpg", jpeg(15))}, headers={"Origin": "https://evil.example"}
        )
        assert other_site.status_code == 403 and "another site" in error_of(other_site)["message"]


def test_without_a_key_a_rebinding_host_cannot_write(tmp_path: Path, folder: Path) -> None:
    with (
        open_collection(tmp_path, folder, allowed_hosts=["gallery.lan"]) as opened,
        serving(create_app(opened)) as c,
    ):
        target = opened.catalog.images.ok_ids()[0]
        forged = {"Host": "evil.example:8766", "Origin": "http://evil.example:8766"}
        refused = c.delete(f"/api/images/{target}", headers=forged)
        assert refused.status_code == 403 and "serve.api_key" in error_of(refused)["message"]
        assert c.post("/api/images", files={"file": ("a.jpg", jpeg(16))}, headers=forged).status_code == 403
        assert (c.get(f"/api/images/{target}", headers=forged)).status_code == 200  # reads stay open
        for seed, host in enumerate(
            ("localhost:8000", "127.0.0.5", "[::1]:8000", "app.localhost", "Gallery.LAN")
        ):
            added = c.post("/api/images", files={"file": ("b.jpg", jpeg(30 + seed))}, headers={"Host": host})
            assert added.status_code == 201, host
        assert c.delete(f"/api/images/{target}", headers={"Host": "localhost"}).status_code == 200


def test_with_a_key_any_host_may_write(tmp_path: Path, folder: Path) -> None:
    with open_collection(tmp_path, folder, api_key=KEY) as opened, serving(create_app(opened)) as c:
        headers = {"Host": "images.example.org", "X-API-Key": KEY}
        assert c.post("/api/images", files={"file": ("a.jpg", jpeg(18))}, headers=headers).status_code == 201


@pytest.mark.parametrize(
    "route",
    [
        "/api/images/{id}",
        "/api/images/{id}/thumbnail",
        "/api/images/{id}/file",
        "/api/images/{id}/similar",
        "/api/search?id={id}",
        "/images/{id}",
        "/?id={id}",
    ],
)
def test_an_id_past_64_bits_is_refused_not_a_server_error(client: Client, route: str) -> None:
    bad = (2**63, 2**64 + 5, 10**30, 99999999999999999999999, -1, 0, -(2**70), "abc", "1.5", "1e3", "0x10")
    for wrong in bad:
        answer = client.get(route.format(id=wrong))
        assert answer.status_code == 422, (route, wrong, answer.text[:200])
    assert client.get(route.format(id=2**63 - 1)).status_code in (404, 200)  # the largest id is just unknown
    assert client.get("/api/health").status_code == 200  # the connection and server are still fine


def test_an_id_past_64_bits_in_a_body_or_a_delete_is_refused(client: Client) -> None:
    body = client.post("/api/search", json={"id": 2**64})
    assert body.status_code == 422 and error_of(body)["reason"] == "invalid_request"
    form = client.post("/api/search", data={"id": str(2**70)})
    assert form.status_code == 422
    gone = client.delete(f"/api/images/{2**64}", headers={"X-API-Key": KEY})
    assert gone.status_code == 422
    for wrong in (-1, 0, "abc", 1.5, [1]):
        assert client.post("/api/search", json={"id": wrong}).status_code == 422, wrong
    for wrong in ("-1", "abc", "1.5"):
        assert client.post("/api/search", data={"id": wrong}).status_code == 422, wrong
        assert client.post(f"/api/search?id={wrong}", files={"file": ("q.jpg", jpeg(1))}).status_code == 422
        assert client.delete(f"/api/images/{wrong}", headers={"X-API-Key": KEY}).status_code == 422, wrong


# ---- backends down, concurrency ----------------------------------------------------------------------------


def test_backend_down_is_503(client: Client, indexed: Collection) -> None:
    assert (client.get("/api/health")).status_code == 200
    indexed.catalog.close()  # the catalog goes away under the running service
    for response in (
        client.get("/api/health"),
        client.get("/api/search", params={"q": "kite"}),
        client.get("/api/stats"),
    ):
        assert response.status_code == 503
        assert error_of(response)["reason"] == "backend_unavailable"


def test_collection_that_cannot_open_is_503(tmp_path: Path) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("a file where the collection should be")
    settings = lookalike.load_settings(home=home)
    with serving(create_app(settings)) as c:
        r = c.get("/api/health")
        assert r.status_code == 503 and "cannot open the collection" in error_of(r)["message"]
        page = c.get("/")
        assert page.status_code == 200  # the search page still renders, without a count


def test_concurrent_searches_while_adding(client: Client) -> None:
    query = {"image": base64.b64encode(jpeg(5)).decode(), "k": 3}
    auth = {"X-API-Key": KEY}

    async def search() -> int:
        r = await client.http.post("/api/search", json=query)
        assert r.json()["results"][0]["occurrences"][0]["uri"].endswith("p5.png")
        return r.status_code

    async def add(seed: int) -> int:
        files = {"file": (f"{seed}.jpg", jpeg(seed))}
        return (await client.http.post("/api/images", files=files, headers=auth)).status_code

    async def together() -> list[int]:
        return list(
            await asyncio.gather(*[search() for _ in range(12)], *[add(seed) for seed in range(20, 24)])
        )

    assert client.run(together()) == [200] * 12 + [201] * 4
    assert client.get("/api/health").json()["vectors"]["phash"] == 11


def test_writes_from_another_process_are_followed(client: Client, indexed: Collection) -> None:
    client.get("/api/health")
    # another writer on the same catalog (as a `lookalike index` run would be)
    with lookalike.open(indexed.home, ingest={"workers": 1}) as other:
        new_id, _ = other.add(jpeg(30), Provenance("/elsewhere/new.jpg", title="Fresh arrival"))
    r = client.post("/api/search", json={"image": base64.b64encode(jpeg(30)).decode(), "k": 1})
    assert r.json()["results"][0]["id"] == new_id
    assert (client.get("/api/health")).json()["vectors"]["phash"] == 8


def test_the_event_loop_answers_while_searches_wait(client: Client, indexed: Collection) -> None:
    service = client_service(client)
    target = ids_at(indexed, "p1.png")
    release = threading.Event()
    held = threading.Event()

    def writer() -> None:  # holds the indexes as an add would, for a while
        with service._gate.write():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)

    async def scenario() -> tuple[int, bool, int]:
        search = asyncio.ensure_future(client.http.get("/api/search", params={"q": "kite"}))
        await asyncio.sleep(0.2)
        thumb = await client.http.get(f"/api/images/{target}/thumbnail")  # no wait behind the search
        waiting = not search.done()
        release.set()
        return thumb.status_code, waiting, (await search).status_code

    try:
        assert client.run(scenario()) == (200, True, 200)
    finally:
        release.set()
        thread.join(5)


def test_importing_lookalike_does_not_import_the_web_stack() -> None:
    code = "import sys, lookalike; sys.exit(bool({'fastapi', 'starlette', 'uvicorn', 'jinja2'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_openapi_docs_list_the_endpoints(client: Client) -> None:
    spec = (client.get("/openapi.json")).json()
    assert {"/api/search", "/api/images", "/api/images/{image_id}", "/api/stats", "/api/health"} <= set(
        spec["paths"]
    )
    assert "multipart/form-data" in spec["paths"]["/api/search"]["post"]["requestBody"]["content"]
    assert (client.get("/docs")).status_code == 200


# ---- pages, in-process -------------------------------------------------------------------------------------


def test_pages_render(client: Client, indexed: Collection) -> None:
    home = client.get("/")
    assert home.status_code == 200 and "7 indexed images" in home.text
    assert "default-src 'self'" in home.headers["content-security-policy"]
    words = client.get("/", params={"q": "kite"})
    assert (
        "Red <mark>kite</mark>" in words.text and "Blue <mark>kite</mark>" in words.text
    )  # the words marked
    assert "javascript:" not in (client.get("/", params={"q": "mill"})).text  # unsafe links are not links
    assert 'href="https://example.org/kite"' in words.text
    target = ids_at(indexed, "p3.png")
    page = client.get(f"/images/{target}")
    assert page.status_code == 200 and "Near-identical images (1)" in page.text and "Blue kite" in page.text
    collection = client.get("/collection")
    assert collection.status_code == 200 and "corrupt" in collection.text and "broken.png" in collection.text
    missing = client.get("/images/9999")
    assert missing.status_code == 404 and "no image with id 9999" in missing.text
    assert missing.headers["content-type"].startswith("text/html")


def test_page_upload_redirects_to_a_result_page(client: Client) -> None:
    posted = client.post("/", files={"file": ("q.jpg", jpeg(1))}, data={"q": "harbour"})
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert location.startswith("/?q=harbour&img=")
    page = client.get(location)
    assert page.status_code == 200 and "<mark>Harbour</mark> at dawn" in page.text
    token = location.rsplit("=", 1)[1]
    preview = client.get(f"/query/{token}")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    expired = client.get("/?img=000000000000000000000000")
    assert expired.status_code == 404 and "no longer kept" in expired.text


def test_page_errors_are_shown(client: Client) -> None:
    posted = client.post("/", files={"file": ("notes.jpg", b"not a picture")})
    page = client.get(posted.headers["location"])
    assert page.status_code == 415 and "not an image" in page.text and 'role="alert"' in page.text
    big = client.post("/", files={"file": ("big.jpg", b"\xff\xd8\xff" + bytes(LIMIT * 2))})
    assert big.status_code == 413 and "max_upload_bytes" in big.text
    blocked = client.get("/", params={"q": "http://127.0.0.1/a.jpg"})
    assert blocked.status_code == 400 and "not a public address" in blocked.text


# ---- the pieces --------------------------------------------------------------------------------------------


def test_facets_by_hand(indexed: Collection) -> None:
    results = indexed.search(text="kite")
    assert {source_of(o) for r in results for o in r.occurrences} == {
        str(Path(results[0].occurrences[0].file or "").parent)
    }
    assert matches(results[0], {"tag": ["BIRD"]}) and not matches(results[0], {"tag": ["sea"]})
    assert matches(results[0], {}) and size_bucket(4000, 3000) == "large" and size_bucket(None, 5) is None
    counts = facet_counts([[r] for r in results], {"licence": ["CC-BY"]})
    assert counts["licence"] == [("CC-BY", 1)] and counts["tag"][0] == ("bird", 1)


def test_query_images_keep_the_newest_within_bounds() -> None:
    kept = QueryImages(max_items=2, max_bytes=10)
    a, b, c = kept.put(b"aaaa"), kept.put(b"bbbb"), kept.put(b"cccc")
    assert kept.get(a) is None and kept.get(b) == b"bbbb" and kept.get(c) == b"cccc"
    kept.put(b"x" * 9)  # over the byte budget: older ones go
    assert kept.get(b) is None and kept.get(c) is None


def test_read_write_lock_lets_readers_share_and_writers_wait() -> None:
    lock = ReadWriteLock()
    inside: list[str] = []
    reading = threading.Event()

    def writer() -> None:
        with lock.write():
            inside.append("write")

    with lock.read(), lock.read():  # readers share
        reading.set()
        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(0.2)
        assert inside == []  # the writer waits for the readers
    thread.join(2)
    assert inside == ["write"]


def test_clip_text_search_and_zero_shot_tags_over_the_api(tmp_path: Path) -> None:
    from lookalike.models import ModelStore

    from tiny_models import COLOURS, clip_folder, colour_folder

    store = ModelStore(tmp_path / "models")
    store.add("tiny-clip", clip_folder(tmp_path / "src-clip"))
    collection = lookalike.open(
        tmp_path / "data",
        ingest={"workers": 1, "signals": ["phash", "colour", "clip"]},
        models={
            "folder": store.folder,
            "clip": "tiny-clip",
            "tag_vocabulary": list(COLOURS),
            "tag_vocabulary_only": True,
        },
    )
    collection.index([colour_folder(tmp_path)])
    with serving(create_app(collection)) as c:
        found = c.post("/api/search", json={"text": "green", "k": 2, "facets": True}).json()
        assert [Path(r["occurrences"][0]["uri"]).name[:5] for r in found["results"]] == ["green", "green"]
        assert found["results"][0]["auto_tags"][0] == "green"
        tags = {f["value"]: f["count"] for f in found["facets"]["tag"]}
        assert tags.get("green", 0) >= 2
        page = c.get("/?q=green").text
        assert 'class="auto"' in page and ">green</li>" in page
