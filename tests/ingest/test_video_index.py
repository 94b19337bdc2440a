"""Videos and animations indexed: a frame finds its video and the moment, on every surface."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.cli import app
from moving import animation, frames, write_audio, write_video

from asgi_client import serving
from conftest import encode

pytest.importorskip("av")

CLIP = frames([1, 2, 3], 3, 10)  # three scenes of 3 s; frame 40 is 4.0 s in, the second scene


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "a.mp4", CLIP)
    write_video(folder / "b.webm", CLIP, codec="libvpx")  # the same clip, encoded otherwise
    (folder / "anim.gif").write_bytes(animation([4, 5, 6], "GIF"))
    write_audio(folder / "song.mp4")
    (folder / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)
    whole = write_video(tmp_path / "whole.mkv", frames([7, 8], 3, 10)).read_bytes()
    (folder / "cut.mkv").write_bytes(whole[: len(whole) // 2])
    return folder


@pytest.fixture
def indexed(videos: Path, tmp_path: Path) -> Iterator[lookalike.Collection]:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        collection.index([videos])
        yield collection


def screenshot() -> bytes:
    return encode(Image.fromarray(CLIP[40]))


def test_a_frame_finds_the_video_and_the_moment(indexed: lookalike.Collection, videos: Path) -> None:
    first = indexed.search(screenshot(), k=5)[0]
    place = first.occurrences[0]
    assert place.at == 4.0 and first.location in (
        f"{videos / 'a.mp4'} at 00:00:04",
        f"{videos / 'b.webm'} at 00:00:04",
    )
    found = first.as_dict()["occurrences"][0]
    assert found["timestamp"] == 4.0 and found["frame_of"] == first.location
    folded = [o for _, places in first.collapsed_places for o in places]
    assert {Path(o.video_uri or "").name for o in [place, *folded]} == {
        "a.mp4",
        "b.webm",
    }  # the same clip twice
    video = indexed.catalog.images.get(place.parent_id or 0)
    assert video is not None and (video.format, video.width, video.height) in (
        ("MP4", 320, 240),
        ("WEBM", 320, 240),
    )
    facts = indexed.info(video.id)["occurrences"][0]["extra"]
    assert facts["duration"] == pytest.approx(9.0, abs=0.2) and facts["codec"] in ("h264", "vp8")


def test_bad_videos_are_recorded_with_their_reason(indexed: lookalike.Collection) -> None:
    failures = indexed.stats()["failures_by_reason"]
    assert failures == {"no_video": 1, "corrupt": 1, "truncated": 1}, failures
    cut = next(f for f in indexed.catalog.images.failures() if f["uri"].endswith("cut.mkv"))
    assert "frames before were kept" in cut["detail"]


def test_animated_gif_frames(indexed: lookalike.Collection, videos: Path) -> None:
    from conftest import scene

    first = indexed.search(encode(scene(6, (160, 120))), k=3)[0]
    assert first.location == f"{videos / 'anim.gif'} at 00:00:02"


def test_similar_and_dupes_across_videos(indexed: lookalike.Collection) -> None:
    first = indexed.search(screenshot(), k=1, collapse=False)[0]
    mine = first.occurrences[0].video_uri or ""
    similar = indexed.similar(first.image_id, k=5)
    other = [r for r in similar if r.occurrences and (r.occurrences[0].video_uri or mine) != mine]
    assert other and other[0].occurrences[0].at == 4.0  # the other file, at the same moment
    video = first.occurrences[0].parent_id or 0
    like_video = indexed.similar(video, k=5)  # a video stands in by its first frame
    assert like_video and all(r.occurrences[0].at is not None for r in like_video)
    groups = indexed.dupes()
    across = [
        g
        for g in groups
        if len({Path(loc.split("#t=")[0]).suffix for i in g["images"] for loc in i["locations"]}) > 1
    ]
    assert across, groups  # frames of the mp4 and of the webm in one group


def test_reindex_adds_no_frames_twice(indexed: lookalike.Collection, videos: Path) -> None:
    before = indexed.stats()
    again = indexed.index([videos])
    assert again.unchanged == again.files and again.images_new == 0
    os.utime(videos / "a.mp4", (1, 1))  # changed as far as the index can tell: read again
    changed = indexed.index([videos])
    assert changed.files_read == 1 and changed.images_new == 0
    after = indexed.stats()
    assert (after["images"], after["occurrences"]) == (before["images"], before["occurrences"])


def test_a_frame_bytes_are_made_again(indexed: lookalike.Collection) -> None:
    first = indexed.search(screenshot(), k=1)[0]
    data, where = indexed.original(first.image_id)
    assert where.endswith("#t=4") and Image.open(io.BytesIO(data)).size == (320, 240)


def test_cli_shows_the_moment(indexed: lookalike.Collection, tmp_path: Path) -> None:
    query = tmp_path / "q.png"
    query.write_bytes(screenshot())
    data = str(tmp_path / "data")
    indexed.close()
    found = CliRunner().invoke(app, ["search", str(query), "--data", data, "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["occurrences"][0]["timestamp"] == 4.0
    piped = CliRunner().invoke(app, ["search", str(query), "--data", data]).stdout.splitlines()[0]
    assert piped.split("\t")[1].endswith(" at 00:00:04"), piped


def test_api_and_page(indexed: lookalike.Collection) -> None:
    from lookalike.api import create_app

    with serving(create_app(indexed)) as client:
        body = client.post("/api/search", files={"file": ("q.png", screenshot(), "image/png")}).json()
        first = body["results"][0]
        assert first["occurrences"][0]["timestamp"] == 4.0
        video_id = first["occurrences"][0]["parent_id"]
        page = client.get(f"/images/{first['id']}").text
        assert (
            "at 00:00:04" in page
            and f'href="/images/{video_id}"' in page
            and f'href="/api/images/{video_id}/file#t=4"' in page
        )
        served = client.get(f"/api/images/{video_id}/file", headers={"Range": "bytes=0-99"})
        assert served.status_code == 206 and len(served.content) == 100
        assert served.headers["content-type"] in ("video/mp4", "video/webm")
        assert (
            "media-src 'self'" in served.headers["content-security-policy"]
        )  # the browser's player may load it
        video_page = client.get(f"/images/{video_id}")
        assert (
            video_page.status_code == 200
            and f'<video controls preload="metadata" src="/api/images/{video_id}/file"' in video_page.text
        )


def test_without_pyav_videos_are_skipped_with_the_fix(videos: Path, tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['av'] = None\n"  # as if PyAV were not installed
        "import lookalike\n"
        f"with lookalike.open({str(tmp_path / 'bare')!r}, ingest={{'workers': 1}}) as c:\n"
        f"    r = c.index([{str(videos)!r}])\n"
        "    print(dict(r.failures)); print(c.catalog.images.failures()[0]['detail'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert "'decoder_missing': 5" in out.stdout and "pip install 'lookalike[video]'" in out.stdout


def test_doctor_lists_pyav() -> None:
    from lookalike.plugins import load_plugins
    from lookalike.usecases.doctor import checks

    found = {c["name"]: c for c in checks(load_plugins())}
    assert found["av"]["ok"] and "video" in found["av"]["detail"]
    assert found["av"]["fix"] == "pip install 'lookalike[video]'"
