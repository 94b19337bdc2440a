"""Crop search by default: a plain image search verifies with keypoints when no copy is found
(a 40% crop, a picture inside a page, a small rotation), and says so where keypoints are off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

import lookalike
from lookalike.api import create_app
from lookalike.cli.main import app as cli
from lookalike.search.tiers import Tier

from asgi_client import serving
from conftest import centred_box, encode, scene

pytest.importorskip("cv2")

WITHOUT_KEYPOINTS = ["phash", "colour", "junk"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    for seed in range(6):
        scene(seed).save(folder / f"scene{seed}.jpg", quality=92)
    return folder


@pytest.fixture(scope="module")
def default(
    scenes: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[lookalike.Collection, dict[str, int]]]:
    """The scenes indexed with the default signals."""
    with lookalike.open(tmp_path_factory.mktemp("data"), ingest={"workers": 1}) as opened:
        opened.index([scenes])
        ids = {p.stem: opened.catalog.images.ids_at(str(p.resolve()))[0] for p in sorted(scenes.iterdir())}
        yield opened, ids


def page_with(picture: Image.Image) -> Image.Image:
    """A screenshot-like page: a title bar, grey lines of "text", and ``picture`` at its own size."""
    w, h = picture.size
    page = Image.new("RGB", (2 * w, round(1.6 * h)), (246, 246, 244))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, page.width, 50), fill=(40, 60, 110))
    for line in range(20):
        y = 90 + 30 * line
        draw.rectangle((w + 110, y, w + 110 + 120 + 40 * (line % 4), y + 10), fill=(120, 120, 120))
    page.paste(picture, (60, 90))
    return page


def jpeg(image: Image.Image) -> bytes:
    return encode(image, "JPEG", quality=90)


def test_keypoints_are_indexed_by_default(default: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = default
    assert "keypoints" in collection.signals
    crops = collection.stats()["crop_search"]
    assert crops == {
        "available": True,
        "signal": "keypoints",
        "covered": len(ids),
        "images": len(ids),
        "note": None,
    }


def test_a_40_percent_crop_is_found_by_a_plain_search(
    default: tuple[lookalike.Collection, dict[str, int]],
) -> None:
    collection, ids = default
    source = scene(3)
    found = collection.search(jpeg(source.crop(centred_box(source.size, 0.4, (0.12, -0.08)))), k=3)
    assert found[0].image_id == ids["scene3"]
    assert found[0].match is not None and found[0].match.tier == Tier.CROP
    assert "inliers" in found[0].match.evidence


def test_a_picture_inside_a_page_is_found_as_a_crop(
    default: tuple[lookalike.Collection, dict[str, int]],
) -> None:
    collection, ids = default
    found = collection.search(jpeg(page_with(scene(2))), k=3)
    assert found[0].image_id == ids["scene2"]
    assert found[0].match is not None and found[0].match.tier == Tier.CROP
    region = found[0].region
    assert region is not None
    xs = [x for x, _ in region[0]]  # where the picture is in the query: its left half
    assert min(xs) < 0.1 and 0.4 < max(xs) < 0.6


def test_a_small_rotation_is_found_as_a_copy(default: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = default
    turned = scene(4).rotate(3, resample=Image.Resampling.BICUBIC, expand=True)
    found = collection.search(jpeg(turned), k=3)
    assert found[0].image_id == ids["scene4"]
    assert found[0].match is not None and found[0].match.tier == Tier.COPY


def test_a_copy_needs_no_keypoints(default: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = default
    found = collection.search(jpeg(scene(1).resize((320, 240))), k=3)
    assert found[0].image_id == ids["scene1"] and found[0].match is not None
    assert found[0].match.tier == Tier.COPY
    assert "keypoints" not in {e.signal for e in found[0].why}  # the global signals were enough


def test_without_the_fallback_keypoints_verify_every_query(scenes: Path, tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"local_fallback": False}) as opened:
        opened.index([scenes])
        found = opened.search(jpeg(scene(1).resize((320, 240))), k=3)  # a copy
    assert found[0].match is not None and found[0].match.tier == Tier.COPY
    assert "keypoints" in {e.signal for e in found[0].why}


@pytest.fixture
def without_keypoints(scenes: Path, tmp_path: Path) -> Path:
    data = tmp_path / "plain"
    with lookalike.open(data, ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([scenes])
    return data


def test_stats_say_crop_search_is_off_and_how_to_turn_it_on(without_keypoints: Path) -> None:
    with lookalike.open(without_keypoints, ingest={"signals": WITHOUT_KEYPOINTS}) as opened:
        crops = opened.stats()["crop_search"]
    assert crops["available"] is False and crops["covered"] == 0 and crops["images"] == 6
    assert "ingest.signals" in crops["note"] and "lookalike index --signals keypoints" in crops["note"]
    env = {"LOOKALIKE_INGEST__SIGNALS": json.dumps(WITHOUT_KEYPOINTS)}
    out = CliRunner().invoke(cli, ["stats", "--data", str(without_keypoints)], env=env)
    assert out.exit_code == 0 and "Crop search is off" in out.stdout


def test_a_search_says_crop_search_is_off_everywhere(without_keypoints: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.jpg"
    query.write_bytes(jpeg(scene(2).crop((0, 0, 300, 200))))
    env = {"LOOKALIKE_INGEST__SIGNALS": json.dumps(WITHOUT_KEYPOINTS), "LOOKALIKE_INGEST__WORKERS": "1"}
    runner = CliRunner()
    plain = runner.invoke(cli, ["search", str(query), "--data", str(without_keypoints)], env=env)
    assert "Crop search is off" in plain.stderr
    as_json = runner.invoke(cli, ["search", str(query), "--data", str(without_keypoints), "--json"], env=env)
    json.loads(as_json.stdout)  # the results stay one JSON document
    assert "crop search is off" in json.loads(as_json.stderr.strip().splitlines()[-1])["note"]
    with (
        lookalike.open(without_keypoints, ingest={"signals": WITHOUT_KEYPOINTS}) as opened,
        serving(create_app(opened)) as client,
    ):
        body = client.post("/api/search", files={"file": ("q.jpg", query.read_bytes(), "image/jpeg")}).json()
        assert any(n.startswith("crop search is off") for n in body["notes"])
        page = client.post("/", files={"file": ("q.jpg", query.read_bytes())}, follow_redirects=True).text
        assert "Crop search is off" in page
        assert "Crop search is off" in client.get("/collection").text
        words = client.get("/api/search", params={"q": "scene"}).json()
        assert not any(n.startswith("crop search") for n in words["notes"])  # words: no crops to miss


def test_an_older_collection_says_which_images_lack_keypoints(scenes: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([scenes])
    with lookalike.open(data, ingest={"workers": 1}) as opened:  # the default now: keypoints on
        crops = opened.stats()["crop_search"]
        assert crops["available"] is False and crops["covered"] == 0
        assert "covers 0 of 6 images" in crops["note"]
    with lookalike.open(data, ingest={"workers": 1}, extra_signals=["keypoints"]) as opened:
        opened.backfill(["keypoints"])
        assert opened.stats()["crop_search"]["note"] is None


def test_the_service_notes_a_backfill_on_its_next_search(scenes: Path, tmp_path: Path) -> None:
    """The web service keeps the crop-search note between searches (it counts the whole
    catalog), but not past a change: a backfill of the keypoints clears it at once."""
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([scenes])
    query = (scenes / "scene1.jpg").read_bytes()
    with (
        lookalike.open(data, ingest={"workers": 1}, extra_signals=["keypoints"]) as opened,
        serving(create_app(opened)) as client,
    ):
        search = lambda: client.post("/api/search", files={"file": ("q.jpg", query)}).json()["notes"]  # noqa: E731
        assert any("covers 0 of 6 images" in n for n in search())
        assert any("covers 0 of 6 images" in n for n in search())  # the kept note
        opened.backfill(["keypoints"])
        assert not any(n.startswith("crop search") for n in search())
