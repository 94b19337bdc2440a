"""The ``original`` keep rule of dupes (a downscale or a crop of another member is a derivative), and
copies told from different pictures that share a flat background."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageOps
from typer.testing import CliRunner

import lookalike
from lookalike.api import create_app
from lookalike.cli.main import app
from lookalike.collection import Collection

from asgi_client import serving
from conftest import photo


def ids(collection: Collection, folder: Path) -> dict[str, int]:
    return {p.name: collection.catalog.images.ids_at(str(p.resolve()))[0] for p in folder.iterdir()}


@pytest.fixture
def derived(tmp_path: Path) -> Path:
    """A JPEG original, its half-size downscale and a crop of it (a strip off each side), both PNG."""
    folder = tmp_path / "derived"
    folder.mkdir()
    original = photo(21, (320, 240))
    original.save(folder / "original.jpg", quality=92)
    original.resize((160, 120), Image.Resampling.LANCZOS).save(folder / "half.png")
    original.crop((12, 0, 308, 240)).save(folder / "crop.png")
    photo(22, (320, 240)).save(folder / "other.jpg", quality=92)
    return folder


def test_the_original_is_kept_over_its_downscale_and_its_crop(collection: Collection, derived: Path) -> None:
    collection.index([derived])
    by_name = ids(collection, derived)
    [group] = collection.dupes()
    assert {i["id"] for i in group["images"]} == {
        by_name[n] for n in ("original.jpg", "half.png", "crop.png")
    }
    assert group["keep"] == by_name["original.jpg"]
    of = {i["id"]: i["derivative"] for i in group["images"]}
    assert of[by_name["original.jpg"]] is None
    assert of[by_name["half.png"]] == {"how": "downscale", "of": by_name["original.jpg"]}
    assert of[by_name["crop.png"]] == {"how": "crop", "of": by_name["original.jpg"]}
    assert group["why"] == (
        f"original: image {min(by_name['half.png'], by_name['crop.png'])} is a "
        f"{'downscale' if by_name['half.png'] < by_name['crop.png'] else 'crop'} of it, image "
        f"{max(by_name['half.png'], by_name['crop.png'])} is a "
        f"{'crop' if by_name['half.png'] < by_name['crop.png'] else 'downscale'} of it"
    )
    # lossless first: a PNG derivative wins; original before it: the JPEG original still does
    assert collection.dupes(keep=["lossless", "largest"])[0]["keep"] == by_name["crop.png"]
    assert collection.dupes(keep=["original", "lossless"])[0]["keep"] == by_name["original.jpg"]
    without = collection.dupes(keep=["lossless", "oldest"])[0]  # no original rule: nothing is worked out
    assert all(i["derivative"] is None for i in without["images"])


def test_a_crop_of_the_same_shape_is_a_crop_not_a_downscale(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "inner"
    folder.mkdir()
    original = photo(25, (320, 240))
    original.save(folder / "original.jpg", quality=92)
    original.crop((4, 3, 316, 237)).save(folder / "inner.png")  # 312x234: the aspect ratio kept
    original.resize((240, 180), Image.Resampling.LANCZOS).save(folder / "smaller.png")
    collection.index([folder])
    by_name = ids(collection, folder)
    [group] = collection.dupes()
    of = {i["id"]: i["derivative"] for i in group["images"]}
    assert of[by_name["inner.png"]] == {"how": "crop", "of": by_name["original.jpg"]}
    assert of[by_name["smaller.png"]] == {"how": "downscale", "of": by_name["original.jpg"]}
    assert group["keep"] == by_name["original.jpg"]


def test_copies_of_one_size_are_no_derivatives(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "same-size"
    folder.mkdir()
    original = photo(23, (320, 240))
    original.save(folder / "a.png")
    ImageOps.mirror(original).save(folder / "mirrored.png")
    original.save(folder / "again.jpg", quality=80)
    collection.index([folder])
    [group] = collection.dupes()
    assert len(group["images"]) == 3 and all(i["derivative"] is None for i in group["images"])
    assert not group["why"].startswith("original")  # the rule ties; the next one decides


def test_a_picture_is_no_crop_of_the_same_picture_in_a_frame(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "framed"
    folder.mkdir()
    original = photo(24, (300, 200))
    original.save(folder / "bare.jpg", quality=92)
    ImageOps.expand(original, border=20, fill="white").save(folder / "framed.jpg", quality=92)
    collection.index([folder])
    [group] = collection.dupes()
    assert all(i["derivative"] is None for i in group["images"])


def test_the_rule_order_comes_from_the_settings_and_keep_overrides_it(derived: Path, tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"dupes_keep": ["lossless"]}) as c:
        c.index([derived])
        by_name = ids(c, derived)
        assert c.dupes()[0]["keep"] in (by_name["crop.png"], by_name["half.png"])
        assert c.dupes(keep=["original", "largest"])[0]["keep"] == by_name["original.jpg"]
    with (
        lookalike.open(tmp_path / "data", search={"dupes_keep": ["prettiest"]}) as c,
        pytest.raises(lookalike.ConfigError, match="keep rule"),
    ):
        c.dupes()


def test_cli_csv_and_api_say_what_each_derivative_is(derived: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(derived), "--data", str(data)]).exit_code == 0
    shown = runner.invoke(app, ["dupes", "--csv", "--data", str(data)])
    rows = {Path(r["location"]).name: r for r in csv.DictReader(io.StringIO(shown.stdout))}
    kept = rows["original.jpg"]
    assert kept["keep"] == "keep" and kept["why"].startswith("original: image ")
    # what it is, then (where it joined the group) by which pair: "; copy of 2: phash distance 60/576"
    assert rows["half.png"]["why"].split("; ")[0] == f"a downscale of {kept['id']}"
    assert rows["crop.png"]["why"].split("; ")[0] == f"a crop of {kept['id']}"
    assert any("phash distance" in r["why"] for r in rows.values())
    with lookalike.open(data) as collection, serving(create_app(collection)) as http:
        [group] = http.get("/api/dupes").json()["groups"]
        assert {i["derivative"]["how"] for i in group["images"] if i["derivative"]} == {"downscale", "crop"}
        assert http.get("/api/dupes", params={"keep": "lossless,largest"}).json()["groups"][0]["keep"] != int(
            kept["id"]
        )
        page = http.get("/dupes").text
        assert f"a downscale of #{kept['id']}" in page and f"a crop of #{kept['id']}" in page


def _shape(kind: str, size: int = 240) -> Image.Image:
    """One large shape in the middle of a black picture, like the demo's retina photo and colour wheel."""
    image = Image.new("RGB", (size, size), "black")
    pen = ImageDraw.Draw(image)
    box = (size // 6, size // 6, size * 5 // 6, size * 5 // 6)
    if kind == "disc":
        pen.ellipse(box, fill=(200, 80, 40))
    elif kind == "wheel":
        for k in range(12):
            pen.pieslice(box, k * 30, (k + 1) * 30, fill=((k * 60) % 256, (k * 110) % 256, (k * 170) % 256))
    return image


def test_different_pictures_on_the_same_black_are_no_copies(collection: Collection, tmp_path: Path) -> None:
    folder = tmp_path / "on-black"
    folder.mkdir()
    disc, wheel = _shape("disc"), _shape("wheel")
    disc.save(folder / "disc.png")
    wheel.save(folder / "wheel.png")
    disc.resize((120, 120)).save(folder / "disc-half.jpg", quality=85)
    ImageOps.mirror(wheel).save(folder / "wheel-mirrored.jpg", quality=85)
    collection.index([folder])
    by_name = ids(collection, folder)
    groups = sorted(sorted(i["id"] for i in g["images"]) for g in collection.dupes())
    assert groups == sorted(
        [
            sorted([by_name["disc.png"], by_name["disc-half.jpg"]]),
            sorted([by_name["wheel.png"], by_name["wheel-mirrored.jpg"]]),
        ]
    )
    found = collection.search(folder / "disc.png", k=4, collapse=False)
    hits = {r.image_id: str(r.match.tier) if r.match else None for r in found}
    assert hits[by_name["disc-half.jpg"]] == "copy"
    assert hits.get(by_name["wheel.png"]) != "copy" and hits.get(by_name["wheel-mirrored.jpg"]) != "copy"
