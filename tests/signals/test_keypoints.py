"""Keypoints: crops, scaled and rotated parts, pasted and mirrored copies found with their region."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

import lookalike

from conftest import Box, centred_box, encode, scene

cv2 = pytest.importorskip("cv2")

from lookalike.decode import decode  # noqa: E402
from lookalike.index import BruteIndex  # noqa: E402
from lookalike.index.descriptors import DescriptorIndex  # noqa: E402
from lookalike.settings import DecodeSettings  # noqa: E402
from lookalike.signals.keypoints import MAX_KEYPOINTS, Keypoints, parse, positions  # noqa: E402


def iou(first: tuple[tuple[float, float], ...], second: list[tuple[float, float]]) -> float:
    """Intersection over union of two polygons in the unit square, by rasterising both."""
    size = 500

    def mask(polygon: object) -> np.ndarray:
        canvas = Image.new("L", (size, size), 0)
        ImageDraw.Draw(canvas).polygon([(x * size, y * size) for x, y in polygon], fill=1)  # type: ignore[attr-defined]
        return np.asarray(canvas, dtype=bool)

    a, b = mask(first), mask(second)
    return float((a & b).sum() / max(1, (a | b).sum()))


def box_polygon(box: Box, size: tuple[int, int]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    w, h = size
    return [(x0 / w, y0 / h), (x1 / w, y0 / h), (x1 / w, y1 / h), (x0 / w, y1 / h)]


def turned(
    source: Image.Image, degrees: float, scale: float, size: tuple[int, int]
) -> tuple[Image.Image, list[tuple[float, float]]]:
    """A rotated and scaled view of the source's centre, and its outline in the source (normalised)."""
    w, h = source.size
    qw, qh = size
    a = math.radians(degrees)
    cos, sin = math.cos(a) / scale, math.sin(a) / scale
    # query pixel (u, v) samples the source at centre + R(a) (u - qw/2, v - qh/2) / scale
    cx, cy = w / 2, h / 2
    data = (cos, -sin, cx - cos * qw / 2 + sin * qh / 2, sin, cos, cy - sin * qw / 2 - cos * qh / 2)
    query = source.transform(size, Image.Transform.AFFINE, data, Image.Resampling.BICUBIC)
    corners = [(0, 0), (qw, 0), (qw, qh), (0, qh)]
    outline = [
        ((data[0] * u + data[1] * v + data[2]) / w, (data[3] * u + data[4] * v + data[5]) / h)
        for u, v in corners
    ]
    return query, outline


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[lookalike.Collection, dict[str, int]]]:
    """Eight scenes and a canvas with a scene pasted into it, indexed with keypoints."""
    folder = tmp_path_factory.mktemp("scenes")
    for seed in range(8):
        scene(seed).save(folder / f"scene{seed}.jpg", quality=92)
    canvas = scene(50, (1000, 800))
    canvas.paste(scene(60).resize((400, 300)), (340, 260))
    canvas.save(folder / "canvas.png")
    data = tmp_path_factory.mktemp("data")
    with lookalike.open(
        data, ingest={"workers": 1, "signals": ["phash", "colour", "keypoints"]}, index={"backend": "auto"}
    ) as opened:
        opened.index([folder])
        ids = {}
        for path in sorted(folder.iterdir()):
            ids[path.stem] = opened.catalog.images.ids_at(str(path.resolve()))[0]
        yield opened, ids


def query_bytes(image: Image.Image) -> bytes:
    return encode(image, "JPEG", quality=90)


def check(
    collection: lookalike.Collection, query: Image.Image, expected: int, truth: list[tuple[float, float]]
) -> None:
    results = collection.search(query_bytes(query), signals=["keypoints"], k=3)
    assert results and results[0].image_id == expected, [(r.image_id, r.score) for r in results]
    region = results[0].region
    assert region is not None
    assert iou(region[1], truth) >= 0.7, (region, truth)
    assert results[0].score > 0.9
    assert len(results) == 1 or results[1].score < 0.2  # nothing else verifies


@pytest.mark.parametrize("area", [0.5, 0.25])
def test_crop_found_with_its_region(crops: tuple[lookalike.Collection, dict[str, int]], area: float) -> None:
    collection, ids = crops
    source = scene(3)
    box = centred_box(source.size, area, shift=(0.08, -0.05))
    check(collection, source.crop(box), ids["scene3"], box_polygon(box, source.size))


def test_crop_scaled_and_rotated(crops: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = crops
    query, outline = turned(scene(5), degrees=25, scale=0.8, size=(300, 260))
    check(collection, query, ids["scene5"], outline)


def test_mirrored_crop(crops: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = crops
    source = scene(6)
    box = centred_box(source.size, 0.4, shift=(-0.1, 0.05))
    results = collection.search(query_bytes(ImageOps.mirror(source.crop(box))), signals=["keypoints"], k=3)
    assert results[0].image_id == ids["scene6"]
    why = {e.signal: e for e in results[0].why}
    assert why["keypoints"].match is not None and why["keypoints"].match.mirrored
    region = results[0].region
    assert region is not None and iou(region[1], box_polygon(box, source.size)) >= 0.7


def test_search_by_id_finds_a_mirrored_crop(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(3):
        scene(seed).save(folder / f"scene{seed}.png")
    ImageOps.mirror(scene(1).crop(centred_box((640, 480), 0.4))).save(folder / "mirrored-crop.png")
    with lookalike.open(
        tmp_path / "data", ingest={"workers": 1, "signals": ["phash", "keypoints"]}
    ) as opened:
        opened.index([folder])
        crop_id = opened.catalog.images.ids_at(str((folder / "mirrored-crop.png").resolve()))[0]
        best = opened.similar(crop_id, signals=["keypoints"], k=1)[0]
        assert best.location.endswith("scene1.png")
        assert {e.signal: e for e in best.why}["keypoints"].match.mirrored  # type: ignore[union-attr]


def test_image_inside_a_larger_canvas(crops: tuple[lookalike.Collection, dict[str, int]]) -> None:
    """Both ways: the canvas that holds an image, and the image inside a canvas."""
    collection, ids = crops
    check(collection, scene(60), ids["canvas"], box_polygon((340, 260, 740, 560), (1000, 800)))
    screenshot = scene(70, (900, 700))
    screenshot.paste(scene(2).resize((448, 336)), (300, 200))
    results = collection.search(query_bytes(screenshot), signals=["keypoints"], k=3)
    assert results[0].image_id == ids["scene2"]
    region = results[0].region
    assert region is not None
    assert iou(region[1], [(0, 0), (1, 0), (1, 1), (0, 1)]) >= 0.7
    assert iou(region[0], box_polygon((300, 200, 748, 536), (900, 700))) >= 0.7


def test_unrelated_query_verifies_nothing(crops: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, _ = crops
    results = collection.search(query_bytes(scene(99)), signals=["keypoints"], k=5)
    assert all(r.region is None and r.score < 0.2 for r in results)


def test_result_dict_carries_the_region(crops: tuple[lookalike.Collection, dict[str, int]]) -> None:
    collection, ids = crops
    source = scene(1)
    box = centred_box(source.size, 0.5)
    found = collection.search(query_bytes(source.crop(box)), k=3)[0]  # every signal, fused
    assert found.image_id == ids["scene1"]
    region = found.as_dict()["why"]["keypoints"]["region"]
    assert len(region["query"]) >= 3 and len(region["result"]) >= 3
    assert region["inliers"] >= 15 and region["mirrored"] is False
    assert iou(tuple(tuple(p) for p in region["result"]), box_polygon(box, source.size)) >= 0.7


def test_reranker_verifies_other_signals_results(tmp_path: Path) -> None:
    """Searched by phash alone, a crop ranks by chance; re-ranked by keypoints it comes first, with its region."""
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(6):
        scene(seed).save(folder / f"scene{seed}.png")
    options = {"ingest": {"workers": 1, "signals": ["phash", "keypoints"]}}
    source = scene(4)
    box = centred_box(source.size, 0.3, shift=(0.1, 0.1))
    query = query_bytes(source.crop(box))
    with lookalike.open(tmp_path / "plain", **options) as plain:
        plain.index([folder])
        target = plain.catalog.images.ids_at(str((folder / "scene4.png").resolve()))[0]
        before = plain.search(query, signals=["phash"], k=6)
        assert all(r.region is None for r in before)
        assert {e.signal for e in before[0].why} == {"phash"}
    with lookalike.open(tmp_path / "plain", search={"rerank_keypoints": 6}, **options) as reranked:
        after = reranked.search(query, signals=["phash"], k=6)
    assert after[0].image_id == target
    assert after[0].region is not None and after[0].score > 0.9
    assert iou(after[0].region[1], box_polygon(box, source.size)) >= 0.7


def test_removed_image_is_not_found(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(3):
        scene(seed).save(folder / f"scene{seed}.png")
    with lookalike.open(
        tmp_path / "data", ingest={"workers": 1, "signals": ["phash", "keypoints"]}
    ) as opened:
        opened.index([folder])
        crop = query_bytes(scene(1).crop(centred_box((640, 480), 0.5)))
        target = opened.search(crop, signals=["keypoints"], k=1)[0].image_id
        opened.remove(target)
        assert all(r.image_id != target for r in opened.search(crop, signals=["keypoints"], k=3))
    with lookalike.open(
        tmp_path / "data", ingest={"workers": 1, "signals": ["phash", "keypoints"]}
    ) as reopened:
        assert reopened.indexes.describe()["keypoints"]["backend"] == "descriptors"
        assert all(r.image_id != target for r in reopened.search(crop, signals=["keypoints"], k=3))


def test_keypoints_backfill_an_existing_collection(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(3):
        scene(seed).save(folder / f"scene{seed}.png")
    without = ["phash", "colour", "junk"]  # keypoints are a default signal: left out here
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": without}) as plain:
        plain.index([folder])
    with lookalike.open(
        tmp_path / "data", ingest={"workers": 1, "signals": ["phash", "keypoints"]}
    ) as opened:
        assert opened.backfill(["keypoints"])["computed"] == {"keypoints": 3}
        crop = query_bytes(scene(2).crop(centred_box((640, 480), 0.25)))
        best = opened.search(crop, signals=["keypoints"], k=1)[0]
        assert best.location.endswith("scene2.png") and best.region is not None


# ---- the signal ------------------------------------------------------------------------------


def features(image: Image.Image, query: bool = False) -> np.ndarray:
    decoded = decode(encode(image, "PNG"), DecodeSettings(), None, Keypoints.input_size)
    signal = Keypoints()
    return signal.query(decoded) if query else signal.extract(decoded)


def test_feature_is_small_and_spread_over_the_image() -> None:
    feature = features(scene(0))
    signal = Keypoints()
    assert len(signal.encode(feature)) <= 10_000
    width, height, direct = parse(feature)
    assert (width, height) == (512, 384) and direct == len(feature) - 1 == MAX_KEYPOINTS
    xy = positions(feature[1:])
    cells = {(int(x * 4 / width), int(y * 4 / height)) for x, y in xy}
    assert len(cells) == 16  # every cell of a 4x4 grid holds keypoints
    assert np.array_equal(signal.decode(signal.encode(feature)), feature)


def test_query_adds_the_mirrored_keypoints() -> None:
    feature = features(scene(0), query=True)
    _, _, direct = parse(feature)
    assert 0 < direct < len(feature) - 1


def test_flat_image_has_no_keypoints_and_matches_nothing() -> None:
    flat = features(Image.new("RGB", (200, 150), (120, 80, 40)))
    assert len(flat) == 1
    assert Keypoints().verify(features(scene(0), query=True), flat) is None


# ---- the descriptor index against the brute-force reference --------------------------------


def descriptor_rows(seed: int, images: int, per_image: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(1, images + 1, dtype=np.int64) * 10, per_image)
    return ids, rng.integers(0, 256, (len(ids), 32), dtype=np.uint8)


def same_answers(index: DescriptorIndex, brute: BruteIndex, queries: np.ndarray, k: int) -> None:
    d_index, i_index = index.search_batch(queries, k)
    d_brute, i_brute = brute.search_batch(queries, k)
    assert np.array_equal(d_index, d_brute)
    for row in range(len(queries)):  # equal distances may come in another order, or be cut at k
        for distance in np.unique(d_brute[row][np.isfinite(d_brute[row])])[:-1]:
            assert sorted(i_index[row][d_index[row] == distance]) == sorted(
                i_brute[row][d_brute[row] == distance]
            )


@pytest.mark.parametrize("ivf_rows", [10**9, 3000], ids=["flat", "ivf"])
def test_descriptor_index_matches_brute(tmp_path: Path, ivf_rows: int) -> None:
    spec = Keypoints.spec
    ids, rows = descriptor_rows(0, 60, 50)
    index, brute = DescriptorIndex(spec, ivf_rows=ivf_rows), BruteIndex(spec)
    for part in np.array_split(np.arange(len(ids)), 3):  # added in batches, as the catalog replays
        index.add(ids[part], rows[part])
        brute.add(ids[part], rows[part])
    assert len(index) == len(brute) == 3000 and index.images() == 60
    rng = np.random.default_rng(1)
    queries = rows[rng.choice(len(rows), 40, replace=False)] ^ rng.integers(0, 2, (40, 32), dtype=np.uint8)
    if ivf_rows < 10**9:  # inverted lists miss some far neighbours; the nearest ones they find
        assert index.structure == "ivf"
        _, i_index = index.search_batch(queries, 1)
        _, i_brute = brute.search_batch(queries, 1)
        assert (i_index[:, 0] == i_brute[:, 0]).mean() >= 0.9
        return
    assert index.structure == "flat"
    same_answers(index, brute, queries, 8)
    # removing an image and re-adding another's rows
    assert index.remove(np.array([20, 30, 999])) == brute.remove(np.array([20, 30, 999])) == 100
    same_answers(index, brute, queries, 8)
    new_rows = np.random.default_rng(2).integers(0, 256, (30, 32), dtype=np.uint8)
    index.add(np.full(30, 40), new_rows)
    brute.add(np.full(30, 40), new_rows)
    assert len(index) == len(brute)
    same_answers(index, brute, queries, 8)
    index.save(tmp_path / "d.npz")
    loaded = DescriptorIndex.load(spec, tmp_path / "d.npz")
    assert len(loaded) == len(brute) and loaded.images() == 58
    same_answers(loaded, brute, queries, 8)


def test_descriptor_index_drops_removed_rows_at_once() -> None:
    spec = Keypoints.spec
    ids, rows = descriptor_rows(3, 200, 40)
    index, brute = DescriptorIndex(spec), BruteIndex(spec)
    index.add(ids, rows)
    brute.add(ids, rows)
    gone = np.arange(1, 150, dtype=np.int64) * 10
    assert index.remove(gone) == brute.remove(gone) == 149 * 40
    assert index.total_rows == len(index) == len(brute) == 51 * 40  # no dead rows kept
    same_answers(index, brute, rows[::97], 5)
    assert not np.isin(index.search_batch(rows, 3)[1], gone).any()


def test_keypoints_with_the_brute_backend(tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for seed in range(3):
        scene(seed).save(folder / f"scene{seed}.png")
    options = {"ingest": {"workers": 1, "signals": ["phash", "keypoints"]}, "index": {"backend": "brute"}}
    with lookalike.open(tmp_path / "data", **options) as opened:
        opened.index([folder])
        assert opened.indexes.describe()["keypoints"]["backend"] == "brute"
        crop = scene(2).crop(centred_box((640, 480), 0.25))
        found = opened.search(query_bytes(crop), signals=["keypoints"], k=1)[0]
        assert found.location.endswith("scene2.png") and found.region is not None


def test_registry_has_keypoints() -> None:
    from lookalike.plugins import load_plugins

    assert "keypoints" in load_plugins(third_party=False).signals
