"""Duplicates turned and cropped: a quarter turn by the transposed hashes, a few degrees by the
keypoints (a copy: the match covers most of both), a crop only with the crop tier asked for."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.api import create_app
from lookalike.cli.main import app as cli
from lookalike.decode import DecodedImage, decode
from lookalike.settings import DecodeSettings
from lookalike.signals.phash import PHash
from lookalike.usecases.copies import transposed

from asgi_client import serving
from conftest import encode, scene

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six scenes; scene0 turned a quarter, scene1 turned 5 degrees, a 40% crop of scene2."""
    out = tmp_path_factory.mktemp("turned")
    for seed in range(6):
        scene(seed).save(out / f"scene{seed}.jpg", quality=92)
    scene(0).transpose(Image.Transpose.ROTATE_90).save(out / "quarter.jpg", quality=90)
    scene(1).rotate(5, resample=Image.Resampling.BICUBIC, expand=True).save(out / "five.jpg", quality=90)
    scene(2).crop((40, 30, 440, 330)).save(out / "part.jpg", quality=90)
    return out


@pytest.fixture(scope="module")
def indexed(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("data")
    with lookalike.open(home, ingest={"workers": 1}) as opened:
        opened.index([folder])
    yield home


def decoded(image: Image.Image) -> DecodedImage:
    return decode(encode(image), DecodeSettings())


def names(groups: list[dict[str, object]]) -> list[tuple[str, list[str]]]:
    out = []
    for group in groups:
        members = sorted(Path(u).name for i in group["images"] for u in i["locations"])  # type: ignore[attr-defined]
        out.append((str(group["kind"]), members))
    return sorted(out, key=lambda g: g[1])


def test_the_transposed_hash_is_the_hash_of_the_image_turned() -> None:
    image = scene(3, (200, 200))
    signal = PHash()
    stored = signal.extract(decoded(image))
    turned = signal.extract(decoded(image.transpose(Image.Transpose.ROTATE_90)))
    flipped = signal.extract(decoded(image.transpose(Image.Transpose.TRANSPOSE)))
    own, quarter = transposed(stored[:2])
    bits = lambda a, b: int(np.unpackbits(a ^ b).sum())  # noqa: E731
    assert bits(own, flipped[0]) < 40  # the image transposed: the same picture (re-sampled)
    assert min(bits(quarter, turned[0]), bits(quarter, turned[1])) < 40  # turned one way or the other
    assert bits(stored[0], turned[0]) > 200  # the hash as stored does not find it


def test_turned_copies_are_grouped_and_a_crop_is_not_by_default(indexed: Path) -> None:
    with lookalike.open(indexed, ingest={"workers": 1}) as opened:
        groups = opened.dupes()
    assert names(groups) == [
        ("copy", ["five.jpg", "scene1.jpg"]),
        ("copy", ["quarter.jpg", "scene0.jpg"]),
    ]
    by_first = {names([g])[0][1][0]: g for g in groups}
    [quarter] = [i["match"] for i in by_first["quarter.jpg"]["images"] if i["match"]]
    assert quarter["tier"] == "copy" and "on the image turned a quarter" in quarter["evidence"]
    [five] = [i["match"] for i in by_first["five.jpg"]["images"] if i["match"]]
    assert (
        five["tier"] == "copy"
        and five["evidence"].startswith("keypoints: ")
        and "inliers" in five["evidence"]
    )


def test_the_crop_tier_groups_a_crop_with_its_picture(indexed: Path) -> None:
    with lookalike.open(indexed, ingest={"workers": 1}) as opened:
        asked = names(opened.dupes(crops=True))
    with lookalike.open(
        indexed, ingest={"workers": 1}, search={"dupes_tiers": ["exact", "copy", "crop"]}
    ) as opened:
        set_on = names(opened.dupes())
        off = names(opened.dupes(crops=False))
    assert ("crop", ["part.jpg", "scene2.jpg"]) in asked
    assert set_on == asked
    assert ("crop", ["part.jpg", "scene2.jpg"]) not in off and len(off) == 2
    for kind, members in asked:  # the other scenes are not copies of anything
        assert not {"scene3.jpg", "scene4.jpg", "scene5.jpg"} & set(members), (kind, members)


def test_without_keypoints_checks_only_the_hashes_group(indexed: Path) -> None:
    with lookalike.open(indexed, ingest={"workers": 1}, search={"dupes_keypoints": False}) as opened:
        groups = names(opened.dupes(crops=True))
    assert groups == [("copy", ["quarter.jpg", "scene0.jpg"])]  # five degrees: no hash finds it


def test_cli_and_api_say_the_tier_and_why(indexed: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["dupes", "--data", str(indexed), "--crop", "--json"])
    assert out.exit_code == 0, out.output
    kinds = sorted(g["kind"] for g in json.loads(out.stdout))
    assert kinds == ["copy", "copy", "crop"]
    plain = runner.invoke(cli, ["dupes", "--data", str(indexed), "--csv"])
    rows = list(csv.reader(io.StringIO(plain.stdout)))
    assert rows[0][1] == "kind" and {r[1] for r in rows[1:]} == {"copy"}
    assert any("turned a quarter" in r[-1] for r in rows[1:]) and any("inliers" in r[-1] for r in rows[1:])
    with lookalike.open(indexed, ingest={"workers": 1}) as opened, serving(create_app(opened)) as client:
        default = client.get("/api/dupes").json()["groups"]
        crops = client.get("/api/dupes?crop=true").json()["groups"]
        page, cropped_page = client.get("/dupes").text, client.get("/dupes?crop=true").text
    assert "tier-crop" not in page and 'href="/dupes?crop=true"' in page and "data-match" in page
    assert cropped_page.count('class="tier tier-crop"') == 1 and "inliers" in cropped_page
    assert sorted(g["kind"] for g in default) == ["copy", "copy"]
    assert sorted(g["kind"] for g in crops) == ["copy", "copy", "crop"]
    part = next(g for g in crops if g["kind"] == "crop")
    assert any(i["match"] and i["match"]["tier"] == "crop" for i in part["images"])
