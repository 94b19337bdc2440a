"""End to end through the public API: index, search, similar, remove, stats, dupes."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

import lookalike
from lookalike import Collection, NotFoundError

from conftest import encode, global_only, photo


def edits(image: Image.Image) -> dict[str, Image.Image]:
    w, h = image.size
    return {
        "resize": image.resize((w // 2, h // 2)),
        "mirror": ImageOps.mirror(image),
        "recolour": ImageEnhance.Color(ImageEnhance.Brightness(image).enhance(1.2)).enhance(0.7),
        "grey": ImageOps.grayscale(image),
        "crop": image.crop((8, 6, w - 8, h - 6)),
    }


def test_index_then_find_edited_copies(collection: Collection, photo_dir: Path, tmp_path: Path) -> None:
    report = collection.index([photo_dir])
    assert (report.files, report.images_new, report.failed) == (8, 8, 0)
    for name, edited in edits(photo(4)).items():
        query = tmp_path / f"query-{name}.jpg"
        edited.convert("RGB").save(query, quality=70)
        results = collection.search(query, k=3, collapse=False)
        assert results[0].location.endswith("photo4.png"), name
        # a 5% crop moves a 576-bit phash far (keypoints find crops); colour still holds
        assert results[0].score > (0.25 if name == "crop" else 0.5), name
        assert {e.signal for e in results[0].why} == {"phash", "colour"}


def test_jpeg_quality_30_copy_ranks_first_with_bytes_input(collection: Collection, photo_dir: Path) -> None:
    collection.index([photo_dir])
    results = collection.search(encode(photo(6), "JPEG", quality=30), k=8)
    assert results[0].location.endswith("photo6.jpg")
    assert results[0].score > 0.9
    assert all(r.score <= results[0].score for r in results)


def test_same_bytes_twice_are_one_image_with_two_places(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "twice"
    (folder / "a").mkdir(parents=True)
    photo(1).save(folder / "one.png")
    (folder / "a" / "copy.png").write_bytes((folder / "one.png").read_bytes())
    report = collection.index([folder])
    assert (report.images_new, report.images_known) == (1, 1)
    [result] = collection.search(text="copy")
    assert sorted(Path(o.uri).name for o in result.occurrences) == ["copy.png", "one.png"]
    exact = [g for g in collection.dupes() if g["kind"] == "exact"]
    assert len(exact) == 1 and len(exact[0]["images"][0]["locations"]) == 2


def test_similar_excludes_itself_and_finds_mirror(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    photo(2).save(folder / "original.png")
    ImageOps.mirror(photo(2)).save(folder / "mirrored.png")
    for seed in (3, 4, 5):
        photo(seed).save(folder / f"other{seed}.png")
    collection.index([folder])
    [original] = collection.catalog.images.ids_at(str(folder / "original.png"))
    results = collection.similar(original, k=2)
    assert original not in [r.image_id for r in results]
    assert results[0].location.endswith("mirrored.png")
    assert results[0].score > 0.5


def test_near_identical_results_collapse(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "near"
    folder.mkdir()
    photo(7).save(folder / "a.png")
    photo(7).save(folder / "b.jpg", quality=90)
    photo(8).save(folder / "c.png")
    collection.index([folder])
    results = collection.search(folder / "a.png", k=5)
    assert len(results[0].collapsed) == 1
    assert len({r.image_id for r in results} | set(results[0].collapsed)) == 3
    expanded = collection.search(folder / "a.png", k=5, collapse=False)
    assert all(not r.collapsed for r in expanded) and len(expanded) == 3


def test_metadata_sidecar_and_keyword_search(collection: Collection, photo_dir: Path, tmp_path: Path) -> None:
    sidecar = tmp_path / "meta.jsonl"
    rows = [
        {
            "path": str(photo_dir / "photo0.jpg"),
            "title": "Red dragon sprite",
            "tags": ["dragon", "fire"],
            "price": "4.50",
            "url": "https://example.org/dragon.png",
            "page_url": "https://example.org/art/1",
        },
        {"filename": "photo3.jpg", "title": "Blue knight", "text": "a knight in armour"},
    ]
    sidecar.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    collection.index([photo_dir], metadata=sidecar)
    [dragon] = collection.search(text="dragon")
    place = dragon.occurrences[0]
    assert place.title == "Red dragon sprite" and place.extra == {"price": "4.50"}
    assert place.page_url == "https://example.org/art/1" and "fire" in place.tags
    assert collection.search(text="armour")[0].location.endswith("photo3.jpg")  # matched by file name
    assert collection.search(text="nested")  # folder names are searchable
    assert collection.search(text="no-such-word-anywhere") == []
    [partly] = collection.search(text="dragon zzzqqq", k=1)  # the known word still finds it, and says so
    assert partly.location.endswith("photo0.jpg")
    assert partly.why[-1].note == "no image holds 'zzzqqq': searched without"
    assert collection.search(text="red dragon", k=1)[0].why[-1].note is None  # both words are there
    combined = collection.search(photo_dir / "photo0.jpg", text="dragon", k=3)
    assert combined[0].location.endswith("photo0.jpg")
    assert {e.signal for e in combined[0].why} == {"phash", "colour", "text"}  # a copy: no keypoints


def test_unchanged_files_are_skipped_and_missing_ones_retired(
    collection: Collection, photo_dir: Path
) -> None:
    collection.index([photo_dir])
    again = collection.index([photo_dir])
    assert (again.unchanged, again.images_new) == (8, 0)
    (photo_dir / "nested" / "photo1.png").unlink()
    photo(20).save(photo_dir / "photo2.png")  # changed content, same name
    os.utime(photo_dir / "photo2.png", (1, 1))
    third = collection.index([photo_dir])
    assert third.retired == 2  # photo1 gone; the old content of photo2 orphaned
    assert third.images_new == 1
    assert collection.stats()["images"] == 7
    with pytest.raises(NotFoundError):
        collection.search(image_id=999)


def test_remove_by_id_and_by_path_updates_the_indexes(collection: Collection, photo_dir: Path) -> None:
    collection.index([photo_dir])
    target = collection.search(photo_dir / "photo0.jpg", k=1)[0].image_id
    assert collection.remove(target) == [target]
    assert target not in [r.image_id for r in collection.search(photo_dir / "photo0.jpg", k=8)]
    removed = collection.remove(str(photo_dir / "nested"))
    assert len(removed) == 4
    assert collection.stats()["images"] == 3
    assert len(collection.indexes.get("phash")) == 3
    with pytest.raises(NotFoundError):
        collection.remove(target)


def test_broken_files_are_recorded_and_do_not_stop_the_batch(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    photo(1).save(folder / "good.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(encode(photo(2), "JPEG")[:300])
    (folder / "really-a-png.jpg").write_bytes(encode(photo(3), "PNG"))  # wrong extension is fine
    (folder / "notes.txt").write_text("not an image, not a candidate")
    (folder / "bomb.png").write_bytes(encode(Image.new("1", (20000, 20000)), "PNG"))
    with lookalike.open(tmp_path / "data2", ingest={"workers": 1}, decode={"max_pixels": 50_000_000}) as c:
        report = c.index([folder])
        stats = c.stats()
    assert report.images_new == 2
    assert report.failures == {"empty": 1, "corrupt": 1, "too_many_pixels": 1}
    assert stats["failures_by_reason"] == {"empty": 1, "corrupt": 1, "too_many_pixels": 1}


def test_archives_are_indexed_with_member_paths(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "packs"
    folder.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/inner.png", encode(photo(12)))
    with zipfile.ZipFile(folder / "sprites.zip", "w") as zf:
        zf.writestr("tiles/a.png", encode(photo(10)))
        zf.writestr("tiles/b.jpg", encode(photo(11), "JPEG"))
        zf.writestr("../escape.png", encode(photo(13)))
        zf.writestr("licence.txt", "CC0")
        zf.writestr("nested.zip", inner.getvalue())
    report = collection.index([folder])
    assert report.images_new == 3
    assert report.failures == {"unsafe_path": 1}
    result = collection.search(encode(photo(12)), k=1)[0]
    assert result.location == f"{folder / 'sprites.zip'}!/nested.zip!/deep/inner.png"
    assert result.occurrences[0].member == "nested.zip!/deep/inner.png"
    assert collection.index([folder]).unchanged == 1


def test_index_refuses_missing_paths(collection: Collection, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        collection.index([tmp_path / "nope"])


def test_indexes_catch_up_and_rebuild_from_the_catalog(tmp_path: Path, photo_dir: Path) -> None:
    home = tmp_path / "data"
    with lookalike.open(home, ingest={"workers": 1}) as c:
        c.index([photo_dir])
        assert json.loads((home / "indexes" / "phash.v1.json").read_text())["count"] == 8  # saved by index
    for leftover in (home / "indexes").iterdir():  # a crash before the indexes were written
        leftover.unlink()
    with lookalike.open(home) as c:
        assert c.search(photo_dir / "nested" / "photo5.png", k=1)[0].location.endswith("photo5.png")
        assert global_only(c.rebuild()) == {"colour": 8, "phash": 8}
    (home / "indexes" / "phash.v1.faiss").write_bytes(b"garbage")  # an unreadable index is rebuilt
    with lookalike.open(home) as c:
        assert len(c.indexes.get("phash")) == 8


def test_brute_backend_gives_the_same_answers(tmp_path: Path, photo_dir: Path) -> None:
    answers = []
    for backend in ("faiss", "brute"):
        with lookalike.open(tmp_path / backend, index={"backend": backend}, ingest={"workers": 1}) as c:
            c.index([photo_dir])
            answers.append([(r.location, round(r.score, 4)) for r in c.search(photo_dir / "photo2.png")])
    assert answers[0] == answers[1]


def test_process_pool_gives_the_same_features(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(40):
        photo(seed, (64, 48)).save(folder / f"p{seed}.png")
    features = []
    for workers in (1, 2):
        with lookalike.open(tmp_path / f"w{workers}", ingest={"workers": workers}) as c:
            assert c.index([folder]).images_new == 40
            ids = c.catalog.images.ok_ids()
            features.append(sorted(c.catalog.features.get("phash", 1, ids).values()))
    assert features[0] == features[1]


def test_search_by_url_only_reaches_allowed_addresses(tmp_path: Path, photo_dir: Path) -> None:
    import http.server
    import threading

    body = encode(photo(5), "JPEG", quality=60)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cat.jpg"
    try:
        with lookalike.open(tmp_path / "d", ingest={"workers": 1}) as c:
            c.index([photo_dir])
            with pytest.raises(lookalike.BlockedAddressError):
                c.search(url)
        with lookalike.open(tmp_path / "d", fetch={"allow_networks": ["127.0.0.0/8"]}) as c:
            assert c.search(url, k=1)[0].location.endswith("photo5.png")
    finally:
        server.shutdown()


def test_thumbnails_and_originals(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    sprite = Image.new("RGB", (16, 16), "white")
    sprite.putpixel((3, 3), (255, 0, 0))
    sprite.save(folder / "sprite.png")
    with zipfile.ZipFile(folder / "pack.zip", "w") as zf:
        zf.writestr("big.jpg", encode(photo(1, (640, 480)), "JPEG"))
    collection.index([folder])
    [small] = collection.catalog.images.ids_at(str(folder / "sprite.png"))
    [big] = collection.catalog.images.ids_at(str(folder / "pack.zip"))
    thumb = Image.open(io.BytesIO(collection.thumbnail(small) or b""))
    assert thumb.format == "PNG" and thumb.size == (16, 16)  # pixel art kept as it is, lossless
    assert np.array_equal(np.asarray(thumb.convert("RGB")), np.asarray(sprite))
    assert Image.open(io.BytesIO(collection.thumbnail(big) or b"")).size == (240, 180)
    data, where = collection.original(big)
    assert where.endswith("pack.zip!/big.jpg") and Image.open(io.BytesIO(data)).size == (640, 480)
    (folder / "sprite.png").write_bytes(encode(photo(2)))  # changed on disk: the old bytes are gone
    with pytest.raises(NotFoundError):
        collection.original(small)


def test_indexes_wait_for_catch_up_when_auto_catch_up_is_off(tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "d", ingest={"workers": 1}) as served:
        served.indexes.open_all()
        served.indexes.auto_catch_up = False  # as the web service runs it
        with lookalike.open(tmp_path / "d", ingest={"workers": 1}) as writer:
            writer.add(encode(photo(2)), lookalike.Provenance("/x/two.png"))
        assert len(served.indexes.get("phash")) == 0  # a search never sees the index change under it
        assert served.indexes.catch_up() > 0
        assert len(served.indexes.get("phash")) == 1


def test_indexed_and_query_features_of_one_file_agree(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    photo(9, (1200, 900)).save(folder / "large.jpg", quality=90)  # decoded at a reduced JPEG scale
    photo(10, (1200, 900)).save(folder / "other.jpg", quality=90)
    collection.index([folder])
    [best] = collection.search(folder / "large.jpg", k=1)
    assert {e.signal: e.distance for e in best.why}["phash"] == 0


def test_added_image_survives_a_crash_before_the_indexes_are_written(tmp_path: Path) -> None:
    first = lookalike.open(tmp_path / "data")
    image_id, new = first.add(encode(photo(33), "PNG"), lookalike.Provenance("upload:a.png", title="A"))
    assert new and first.search(encode(photo(33)), k=1)[0].image_id == image_id
    # no close(): the index files on disk never heard of the image; the change log has it
    with lookalike.open(tmp_path / "data") as second:
        assert second.search(encode(photo(33)), k=1)[0].image_id == image_id
    first.catalog.close()


def test_only_the_configured_signals_are_computed(tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "c", ingest={"signals": ["phash"]}) as images:
        assert list(images.signals) == ["phash"]
    with pytest.raises(lookalike.ConfigError, match="sparkle"):
        lookalike.open(tmp_path / "d", ingest={"signals": ["phash", "sparkle"]})
