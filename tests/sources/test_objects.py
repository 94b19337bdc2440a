"""Buckets as a source: ``index s3://bucket/prefix`` against a real S3-protocol server on localhost
(moto's server mode, started here), never a mock of the client."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import lookalike
from lookalike import Collection, NotFoundError
from lookalike.search.facets import source_of

from conftest import encode, photo, zip_of

s3fs = pytest.importorskip("s3fs", reason="object storage needs s3fs: pip install 'lookalike[s3]'")
moto_server = pytest.importorskip(
    "moto.server", reason="the local S3 server needs moto: pip install 'moto[server]'"
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class Bucket:
    """A fresh bucket on the local server, and a client to put objects in it (as a user would)."""

    name: str
    endpoint: str
    fs: Any

    def url(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}".rstrip("/")

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.name}/{key}", data)

    def open(self, tmp_path: Path, **settings: Any) -> Collection:
        ingest = {"workers": 1, **settings.pop("ingest", {})}
        storage = {"endpoint_url": self.endpoint, **settings.pop("storage", {})}
        return lookalike.open(tmp_path / "data", ingest=ingest, storage=storage, **settings)


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bucket:
    # credentials come from the environment, as botocore reads them; no config file of this machine
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    name = f"photos-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    return Bucket(name, endpoint, fs)


class Downloads(logging.Handler):
    """The keys the server answered a download (GET) of, from its own request log."""

    def __init__(self, bucket: str) -> None:
        super().__init__()
        self.bucket, self.keys = bucket, list[str]()

    def settle(self, quiet: float = 0.5, limit: float = 10.0) -> None:
        """Wait until the server has logged no download for ``quiet`` seconds: it logs a request
        once answered, so a killed client's requests in flight can still be logged after the kill."""
        deadline = time.monotonic() + limit
        seen = -1
        while len(self.keys) != seen and time.monotonic() < deadline:
            seen = len(self.keys)
            time.sleep(quiet)

    def emit(self, record: logging.LogRecord) -> None:
        words = record.getMessage().split()
        if '"GET' in words and "list-type" not in record.getMessage():
            path = words[words.index('"GET') + 1]
            if path.startswith(f"/{self.bucket}/"):
                self.keys.append(path[len(self.bucket) + 2 :])


@pytest.fixture
def downloads(bucket: Bucket) -> Iterator[Downloads]:
    seen = Downloads(bucket.name)
    server_log = logging.getLogger("werkzeug")
    server_log.addHandler(seen)
    try:
        yield seen
    finally:
        server_log.removeHandler(seen)


def jpeg(seed: int) -> bytes:
    return encode(photo(seed), "JPEG", quality=90)


def test_a_prefix_is_indexed_and_results_show_the_object_url(bucket: Bucket, tmp_path: Path) -> None:
    for seed in range(3):
        bucket.put(f"holiday/{seed}.jpg", jpeg(seed))
    bucket.put("holiday/notes.txt", b"not an image")
    bucket.put("elsewhere/9.jpg", jpeg(9))  # outside the prefix
    with bucket.open(tmp_path) as collection:
        report = collection.index([bucket.url("holiday")])
        assert (report.files, report.images_new, report.not_images, report.failed) == (4, 3, 1, 0)
        [best, *_] = collection.search(encode(photo(1), "JPEG", quality=50), k=3)
        assert best.location == bucket.url("holiday/1.jpg") and best.score > 0.9
        data, where = collection.original(best.image_id)  # kept at ingest, as for fetched images
        assert (data, where) == (jpeg(1), bucket.url("holiday/1.jpg"))
        assert collection.thumbnail(best.image_id)
        assert source_of(best.occurrences[0]) == bucket.url("holiday")  # the "source" facet: the prefix


def test_a_listing_of_more_than_one_page_is_read_to_the_end(bucket: Bucket, tmp_path: Path) -> None:
    # S3 answers at most 1,000 keys a page: 1,002 objects take two pages
    bucket.fs.pipe({f"{bucket.name}/many/{i:04d}.txt": b"x" for i in range(1000)})
    bucket.put("many/zz-first.png", encode(photo(1)))
    bucket.put("many/zz-second.png", encode(photo(2)))
    with bucket.open(tmp_path) as collection:
        report = collection.index([bucket.url("many")])
        assert (report.files, report.not_images, report.images_new) == (1002, 1000, 2)
        assert collection.search(encode(photo(2)), k=1)[0].location == bucket.url("many/zz-second.png")


def test_a_reindex_downloads_only_changed_objects_and_sweeps_deleted_ones(
    bucket: Bucket, downloads: Downloads, tmp_path: Path
) -> None:
    for seed in range(4):
        bucket.put(f"p/{seed}.jpg", jpeg(seed))
    with bucket.open(tmp_path) as collection:
        first = collection.index([bucket.url("p")])
        assert (first.files, first.images_new) == (4, 4)
        assert sorted(downloads.keys) == ["p/0.jpg", "p/1.jpg", "p/2.jpg", "p/3.jpg"]
        downloads.keys.clear()
        again = collection.index([bucket.url("p")])
        assert (again.files, again.unchanged, again.files_read, again.images_new) == (4, 4, 0, 0)
        assert again.retired == 0
        assert downloads.keys == []  # an unchanged bucket: listed, nothing downloaded
        bucket.put("p/1.jpg", jpeg(11))  # new content: a new ETag
        bucket.put("p/2.jpg", jpeg(2))  # the same bytes uploaded again: the same ETag, not read
        bucket.fs.rm_file(f"{bucket.name}/p/3.jpg")
        third = collection.index([bucket.url("p")])
        assert (third.files, third.unchanged, third.files_read, third.images_new) == (3, 2, 1, 1)
        assert downloads.keys == ["p/1.jpg"]
        assert third.retired == 2  # the old content of p/1.jpg and the deleted p/3.jpg
        assert collection.stats()["images"] == 3
        assert collection.search(jpeg(11), k=1)[0].location == bucket.url("p/1.jpg")
        assert all(r.location != bucket.url("p/3.jpg") for r in collection.search(jpeg(3), k=5))


def test_an_archive_in_a_bucket_is_unpacked_and_its_members_served(bucket: Bucket, tmp_path: Path) -> None:
    members = {"sheet/a.png": encode(photo(4)), "b.png": encode(photo(5)), "readme.txt": b"hi"}
    bucket.put("packs/tiles.zip", zip_of(members))
    with bucket.open(tmp_path, ingest={"originals": "none"}) as collection:  # served by fetching again
        report = collection.index([bucket.url("packs")])
        assert (report.files, report.images_new, report.failed) == (1, 2, 0)
        [best] = collection.search(encode(photo(4)), k=1)
        assert best.location == bucket.url("packs/tiles.zip") + "!/sheet/a.png"
        assert source_of(best.occurrences[0]) == bucket.url("packs/tiles.zip")
        data, where = collection.original(best.image_id)
        assert hashlib.sha256(data).digest() == hashlib.sha256(members["sheet/a.png"]).digest()
        assert where == best.location
        assert collection.index([bucket.url("packs")]).unchanged == 1


def test_an_object_fetched_again_for_its_original(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("one/x.webp", encode(photo(6), "WEBP"))
    with bucket.open(tmp_path, ingest={"originals": "none"}) as collection:
        collection.index([bucket.url("one/x.webp")])  # one object: a target of its own
        [best] = collection.search(encode(photo(6)), k=1)
        assert collection.original(best.image_id) == (encode(photo(6), "WEBP"), bucket.url("one/x.webp"))
        bucket.fs.rm_file(f"{bucket.name}/one/x.webp")
        with pytest.raises(NotFoundError):
            collection.original(best.image_id)


def test_bad_objects_are_recorded_with_why_and_never_stop_the_batch(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("mixed/good.jpg", jpeg(1))
    bucket.put("mixed/broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20)
    bucket.put("mixed/truncated.zip", zip_of({"a.png": encode(photo(2))})[:60])
    bucket.put("mixed/huge.png", encode(photo(3, (600, 600))))
    with bucket.open(tmp_path, storage={"max_object_bytes": 20_000}) as collection:
        report = collection.index([bucket.url("mixed")])
        assert (report.files, report.images_new, report.failed) == (4, 1, 3)
        assert report.failures == {"corrupt": 1, "archive_corrupt": 1, "too_large": 1}
        failures = {f["uri"]: f["detail"] for f in collection.catalog.images.failures()}
        assert "storage.max_object_bytes=20000" in failures[bucket.url("mixed/huge.png")]
        assert "not downloaded" in failures[bucket.url("mixed/huge.png")]


def test_a_missing_bucket_is_a_clear_error(bucket: Bucket, tmp_path: Path) -> None:
    with bucket.open(tmp_path) as collection, pytest.raises(NotFoundError, match="no such bucket"):
        collection.index(["s3://no-such-bucket-here/prefix"])


def test_the_cli_indexes_a_bucket_with_the_endpoint_setting(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lookalike.cli import app

    bucket.put("cli/a.png", encode(photo(7)))
    monkeypatch.setenv("LOOKALIKE_STORAGE__ENDPOINT_URL", bucket.endpoint)
    monkeypatch.setenv("LOOKALIKE_INGEST__WORKERS", "1")
    data = str(tmp_path / "data")
    indexed = CliRunner().invoke(app, ["index", bucket.url("cli"), "--data", data, "--json"])
    assert indexed.exit_code == 0, indexed.output
    assert json.loads(indexed.output)["images_new"] == 1
    (tmp_path / "q.png").write_bytes(encode(photo(7)))
    found = CliRunner().invoke(app, ["search", str(tmp_path / "q.png"), "--data", data])
    assert found.exit_code == 0, found.output
    assert bucket.url("cli/a.png") in found.output
    missing = CliRunner().invoke(app, ["index", "s3://no-such-bucket-here", "--data", data])
    assert missing.exit_code != 0 and "no such bucket" in missing.output


def test_the_api_serves_an_object_fetched_again_and_names_its_url(bucket: Bucket, tmp_path: Path) -> None:
    from lookalike.api import create_app

    from asgi_client import serving

    bucket.put("web/shot.png", encode(photo(8)))
    with bucket.open(tmp_path, ingest={"originals": "none"}) as collection:
        collection.index([bucket.url("web")])
        [best] = collection.search(encode(photo(8)), k=1)
        with serving(create_app(collection)) as client:
            original = client.get(f"/api/images/{best.image_id}/file")
            assert original.status_code == 200 and original.headers["content-type"] == "image/png"
            assert original.content == encode(photo(8))
            facts = client.get(f"/api/images/{best.image_id}").json()
            assert [o["uri"] for o in facts["occurrences"]] == [bucket.url("web/shot.png")]
            page = client.get(f"/images/{best.image_id}")
            assert page.status_code == 200 and bucket.url("web/shot.png") in page.text
            assert f'href="{bucket.url("web/shot.png")}' not in page.text  # shown, never a link


def test_an_object_gone_between_listing_and_download_is_recorded_and_the_rest_go_on(
    bucket: Bucket, tmp_path: Path
) -> None:
    for seed in range(3):
        bucket.put(f"race/{seed}.jpg", jpeg(seed))
    bucket.put("race/pack.zip", zip_of({"in.png": encode(photo(8))}))

    def delete_after_listing(event: str, amount: int) -> None:
        if event == "files_total":  # listed, nothing read yet
            bucket.fs.rm_file(f"{bucket.name}/race/1.jpg")
            bucket.fs.rm_file(f"{bucket.name}/race/pack.zip")

    with bucket.open(tmp_path) as collection:
        report = collection.index([bucket.url("race")], progress=delete_after_listing)
        assert (report.files, report.images_new, report.failed) == (4, 2, 2)
        assert report.failures == {"unreadable": 2}
        failures = {f["uri"]: f["detail"] for f in collection.catalog.images.failures()}
        assert failures[bucket.url("race/1.jpg")].startswith("cannot download the object")
        assert failures[bucket.url("race/pack.zip")].startswith("cannot download the archive")
        assert collection.index([bucket.url("race")]).retired == 0  # the failed places are swept, no image


def test_a_bucket_that_is_gone_retires_nothing(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("keep/a.jpg", jpeg(1))
    with bucket.open(tmp_path) as collection:
        collection.index([bucket.url("keep")])
        bucket.fs.rm(bucket.name, recursive=True)
        with pytest.raises(NotFoundError, match="no such bucket"):
            collection.index([bucket.url("keep")])
        assert collection.stats()["images"] == 1


def test_a_scheme_whose_backend_is_not_installed_names_the_package(bucket: Bucket, tmp_path: Path) -> None:
    from importlib.util import find_spec

    from lookalike.errors import ConfigError

    if find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here: gs:// would be read")
    with (
        bucket.open(tmp_path) as collection,
        pytest.raises(ConfigError, match=r"gs:// buckets need the gcsfs"),
    ):
        collection.index(["gs://some-bucket/photos"])


def test_a_killed_bucket_index_resumes_without_duplicates_or_downloads_again(
    bucket: Bucket, downloads: Downloads, tmp_path: Path
) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    total = 240
    bucket.fs.pipe({f"{bucket.name}/kill/p{i:04d}.png": encode(photo(i, (48, 32))) for i in range(total)})
    data = tmp_path / "data"
    env = {
        **os.environ,
        "LOOKALIKE_INGEST__BATCH_SIZE": "8",
        "LOOKALIKE_INGEST__WORKERS": "1",
        "LOOKALIKE_STORAGE__ENDPOINT_URL": bucket.endpoint,
        "LOOKALIKE_STORAGE__CONCURRENCY": "4",
    }
    command = [sys.executable, "-m", "lookalike", "index", bucket.url("kill"), "--data", str(data), "--json"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def done() -> int:
        try:
            with sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
                return int(conn.execute("SELECT count(*) FROM file_state").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    deadline = time.monotonic() + 60
    while done() < total // 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = done()
    assert 0 < before < total, "the kill should land part-way through"
    downloads.settle()  # the killed process's downloads in flight are not the resumed one's
    downloads.keys.clear()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    assert (
        report["unchanged"] >= before
        and report["images_new"] + report["images_known"] == total - report["unchanged"]
    )
    assert len(downloads.keys) == total - report["unchanged"]  # what was committed is not downloaded again
    with bucket.open(tmp_path) as collection:
        stats = collection.stats()
        assert stats["images"] == stats["occurrences"] == total
        assert stats["indexes"]["phash"]["vectors"] == total


def test_queueing_a_bucket_says_to_index_it_directly(bucket: Bucket, tmp_path: Path) -> None:
    from lookalike.errors import ConfigError

    with bucket.open(tmp_path) as collection, pytest.raises(ConfigError, match="without --queue"):
        collection.enqueue([bucket.url("p")])
