"""Match tiers: each result says whether it is the same file, a copy, a crop or only alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import lookalike
from lookalike.search.result import Evidence
from lookalike.search.tiers import judge
from lookalike.signals.calibration import AGREE_THRESHOLD, COPY_THRESHOLD, is_copy
from lookalike.signals.phash import PHash, uniform_border

from conftest import centred_box, encode, photo, scene


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiers")
    for seed in range(6):
        photo(seed, (320, 240)).save(root / f"p{seed}.png")
    return root


@pytest.fixture(scope="module")
def collection(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> lookalike.Collection:
    c = lookalike.open(tmp_path_factory.mktemp("data"), ingest={"workers": 1})
    c.index([folder])
    return c


def top(collection: lookalike.Collection, data: bytes) -> lookalike.Result:
    return collection.search(data, k=1, collapse=False)[0]


def test_the_same_bytes_are_exact(collection: lookalike.Collection, folder: Path) -> None:
    hit = top(collection, (folder / "p1.png").read_bytes())
    assert hit.location.endswith("p1.png") and hit.match is not None
    assert hit.match.tier == "exact" and hit.match.probability == 1.0 and hit.score == 1.0
    assert hit.as_dict()["match"] == {
        "tier": "exact",
        "probability": 1.0,
        "evidence": "the same bytes as the query",
    }


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda im: im.resize((160, 120)), "phash distance"),
        (lambda im: ImageOps.grayscale(im).convert("RGB"), "phash distance"),
        (ImageOps.mirror, "on the mirrored query"),
        (lambda im: ImageOps.expand(im, 30, fill="white"), "inside its border"),
    ],
    ids=["resized", "grey", "mirrored", "framed"],
)
def test_edited_copies_are_copies_with_their_evidence(
    collection: lookalike.Collection, folder: Path, edit: object, says: str
) -> None:
    image = Image.open(folder / "p2.png").convert("RGB")
    hit = top(collection, encode(edit(image), "JPEG"))  # type: ignore[operator]
    assert hit.location.endswith("p2.png") and hit.match is not None
    assert hit.match.tier == "copy" and hit.match.probability >= 0.9 and says in hit.match.evidence
    assert hit.score == pytest.approx(hit.match.probability)  # a sure copy is not diluted by colour


def test_an_unrelated_image_is_only_similar_and_scores_low(collection: lookalike.Collection) -> None:
    hit = top(collection, encode(photo(99, (320, 240)), "PNG"))
    assert hit.match is not None and hit.match.tier == "similar" and hit.match.probability < 0.5
    assert hit.match.evidence.startswith(("looks alike", "no signal")) and hit.score < 0.5


def test_a_crop_found_by_keypoints_is_a_crop_with_its_region(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for seed in range(3):
        scene(seed).save(scenes / f"s{seed}.jpg", quality=92)
    with lookalike.open(
        tmp_path / "kp", ingest={"workers": 1, "signals": ["phash", "colour", "keypoints"]}
    ) as c:
        c.index([scenes])
        part = scene(1).crop(centred_box((640, 480), 0.35))
        hit = c.search(encode(part, "PNG"), k=1, collapse=False)[0]
        assert hit.location.endswith("s1.jpg") and hit.match is not None
        assert hit.match.tier == "crop" and "inliers, region x" in hit.match.evidence


def test_a_uniform_border_is_found_and_a_busy_edge_is_not() -> None:
    framed = np.full((128, 128), 250, dtype=np.uint8)
    framed[16:112, 10:118] = np.asarray(photo(4, (108, 96)).convert("L"))
    box = uniform_border(framed)
    assert box is not None and box == pytest.approx((10 / 128, 16 / 128, 118 / 128, 112 / 128), abs=0.02)
    assert uniform_border(np.asarray(photo(5, (128, 128)).convert("L"))) is None
    assert uniform_border(np.full((128, 128), 7, dtype=np.uint8)) is None  # one colour all over


def test_flat_images_are_not_copies_of_each_other_nor_folded_together(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for name, rgb in {"orange": (255, 140, 0), "pink": (255, 0, 120), "blue": (20, 40, 200)}.items():
        Image.new("RGB", (40, 40), rgb).save(flat / f"{name}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as c:
        c.index([flat])
        found = c.search(
            encode(Image.new("RGB", (40, 40), (255, 0, 0)), "PNG"), k=3, include_junk=True
        )  # blank: junk
        assert len(found) == 3  # a one-colour image's hash is near every other: it folds nothing
        assert all(r.match is not None and r.match.tier == "similar" for r in found)
        again = c.search(flat / "pink.png", k=3, include_junk=True)
        assert again[0].match is not None and again[0].match.tier == "exact" and len(again) == 3


def test_copies_fold_into_the_best_one_and_keep_their_places(
    collection: lookalike.Collection, folder: Path, tmp_path: Path
) -> None:
    copies = tmp_path / "copies"
    copies.mkdir()
    image = Image.open(folder / "p4.png").convert("RGB")
    ImageOps.mirror(image).save(copies / "mirrored.jpg", quality=80)
    ImageOps.grayscale(image).save(copies / "grey.png")
    collection.index([copies])
    [first, *rest] = collection.search(folder / "p4.png", k=3)
    assert first.location.endswith("p4.png") and len(first.collapsed) == 2  # mirrored and recoloured too
    places = {Path(o.uri).name for _, occurrences in first.collapsed_places for o in occurrences}
    assert places == {"mirrored.jpg", "grey.png"}
    members = first.as_dict()["collapsed_members"]
    listed = [o for member in members for o in member["occurrences"]]
    assert {Path(o["uri"]).name for o in listed} == places and [m["id"] for m in members] == list(
        first.collapsed
    )
    assert all(m["match"]["tier"] == "copy" and 0 < m["score"] <= first.score for m in members)
    assert all(r.image_id not in first.collapsed for r in rest)


def test_an_image_query_stops_where_the_matches_stop_and_all_shows_the_rest(
    collection: lookalike.Collection, folder: Path
) -> None:
    from typer.testing import CliRunner

    from lookalike.cli.main import app

    data = str(collection.app.home)
    query = folder.parent / "query-p2.jpg"
    Image.open(folder / "p2.png").convert("RGB").resize((200, 150)).save(query, quality=80)
    cut = CliRunner().invoke(app, ["search", str(query), "--data", data])
    assert cut.exit_code == 0 and [line.split("\t")[1] for line in cut.stdout.splitlines()] == [
        str(folder / "p2.png")
    ]
    assert "weaker look-alikes not shown" in cut.stderr and "--all" in cut.stderr
    every = CliRunner().invoke(app, ["search", str(query), "--all", "--data", data])
    assert len(every.stdout.splitlines()) > 1
    photo(98).save(folder.parent / "unrelated.png")
    nothing = CliRunner().invoke(app, ["search", str(folder.parent / "unrelated.png"), "--data", data])
    assert nothing.exit_code == 1 and "No copies or crops found" in nothing.stderr


def test_in_the_uncertain_band_a_copy_needs_the_colours_to_agree() -> None:
    phash = PHash()
    near, band = 20.0, 150.0
    sure, unsure = (float(phash.similarity(np.array([d]))[0]) for d in (near, band))
    assert sure >= COPY_THRESHOLD > unsure >= AGREE_THRESHOLD

    def tier(distance: float, colour: float | None) -> tuple[str, str]:
        why = [Evidence("phash", distance, float(phash.similarity(np.array([distance]))[0]))]
        if colour is not None:
            why.append(Evidence("colour", colour, 0.5))
        judged = judge(why, False, {"phash"}, 576)
        return str(judged.tier), judged.evidence

    assert tier(near, None)[0] == tier(near, 0.9)[0] == "copy"  # the phash alone is sure
    assert tier(band, 0.1) == ("copy", "phash distance 150/576, colours agree (0.10)")
    assert tier(band, 0.6)[0] == tier(band, None)[0] == "similar"  # other colours, or none known
    assert tier(300.0, 0.0)[0] == "similar"  # below the band the colours do not help
    assert list(is_copy(np.array([sure, unsure, unsure]), np.array([np.nan, 0.1, np.nan]))) == [
        True,
        True,
        False,
    ]
