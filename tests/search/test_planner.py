"""The query planner over a real small collection: which signals a query plans over (by their
declared capabilities), fusion weights, the collapse of near-identical results, and k."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lookalike
from lookalike.app import build
from lookalike.collection import Collection
from lookalike.decode import DecodedImage
from lookalike.plugins import Plugins, load_plugins
from lookalike.records import TextField
from lookalike.search.planner import Result
from lookalike.settings import load_settings
from lookalike.signals import BaseSignal, BaseTextSignal, Capability, Kind, Metric, SignalSpec
from lookalike.signals.phash import PHash

from conftest import photo

SIZE = (160, 120)
DISTINCT = 6  # photos of seeds 0..5; seed 0 also has a near-identical JPEG copy


class Mean(BaseSignal):
    """A custom vector signal with a name no built-in has: the mean colour, weight 2.5."""

    spec = SignalSpec("mean", 1, Kind.FLOAT, Metric.L2, 3, "float32")
    input_size = 16
    description = "mean colour (a test signal)"
    weight = 2.5
    midpoint, spread = 0.1, 0.03

    def extract(self, image: DecodedImage) -> np.ndarray:
        return (image.rgb(16).reshape(-1, 3).mean(axis=0) / 255.0).astype(np.float32)[None, :]


class Words(BaseTextSignal):
    """A text signal: it has no index and is never a vector query, only keyword evidence."""

    spec = SignalSpec("words", 1, Kind.TEXT, Metric.WORDS, 0, "uint8")
    input_size = 16
    description = "says 'bright' or 'dark' (a test signal)"

    def read(self, image: Any) -> list[TextField]:
        bright = float(image.grey(16).mean()) > 127
        return [TextField("tone", "bright" if bright else "dark", 1.0)]


class PlainHash(PHash):
    """The phash without the duplicates capability: it no longer decides what collapses."""

    capabilities = frozenset({Capability.VECTORS})


class Twin(PHash):
    """A hash under another name that declares the duplicates capability instead."""

    spec = SignalSpec("twin", 1, Kind.BINARY, Metric.HAMMING, 576, "uint8")
    capabilities = frozenset({Capability.VECTORS, Capability.DUPLICATES})


def make_photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for seed in range(DISTINCT):
        files[f"p{seed}"] = folder / f"p{seed}.png"
        photo(seed, SIZE).save(files[f"p{seed}"])
    files["copy"] = folder / "p0-copy.jpg"
    photo(0, SIZE).save(files["copy"], quality=92)  # other bytes, the same picture
    return files


def open_with(home: Path, plugins: Plugins | None = None, **overrides: Any) -> Collection:
    settings = load_settings(ingest={"workers": 1, **overrides.pop("ingest", {})}, **overrides)
    return Collection(build(settings.model_copy(update={"home": home}), plugins))


def custom_plugins(phash: type[PHash] = PHash) -> Plugins:
    plugins = load_plugins(third_party=False)
    plugins.signals.register("phash", lambda s: phash(s.search.phash_variants), required=True)
    plugins.signals.register("mean", lambda s: Mean())
    plugins.signals.register("words", lambda s: Words())
    plugins.signals.register("twin", lambda s: Twin())
    return plugins


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_photos(tmp_path_factory.mktemp("planner") / "photos")


@pytest.fixture
def collection(tmp_path: Path, files: dict[str, Path]) -> Iterator[Collection]:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        opened.index([files["p0"].parent])
        yield opened


def ids_by_name(collection: Collection, files: dict[str, Path]) -> dict[str, int]:
    return {name: collection.catalog.images.ids_at(str(path.resolve()))[0] for name, path in files.items()}


def evidence(result: Result) -> dict[str, float]:
    return {e.signal: e.similarity for e in result.why}


# ---- which signals a query plans over -------------------------------------------------


def test_a_query_is_judged_by_every_indexed_signal_it_names(
    collection: Collection, files: dict[str, Path]
) -> None:
    every = collection.search(files["p3"], k=3)
    assert [e.signal for e in every[0].why] == ["phash", "colour"]
    only = collection.search(files["p3"], k=3, signals=["colour"])
    assert {e.signal for r in only for e in r.why} == {"colour"}
    assert only[0].image_id == every[0].image_id == ids_by_name(collection, files)["p3"]


def test_custom_signals_are_planned_by_capability_not_by_name(tmp_path: Path, files: dict[str, Path]) -> None:
    with open_with(tmp_path / "data", custom_plugins(), ingest={"signals": ["mean", "words"]}) as collection:
        assert list(collection.signals.indexed()) == ["phash", "mean"]  # the text signal has no index
        collection.index([files["p0"].parent])
        [best, *_] = collection.search(files["p4"], k=3)
        assert [e.signal for e in best.why] == ["phash", "mean"]  # words judge no image query
        assert best.image_id == ids_by_name(collection, files)["p4"]
        worded = collection.search(files["p4"], text="bright", k=DISTINCT + 1)
        assert [e.signal for e in worded[0].why] == ["phash", "mean", "text"]
        read = {i for i, _ in collection.catalog.texts.search("bright")}
        assert read and all(r.image_id in read or evidence(r)["text"] == 0.0 for r in worded)


def test_an_id_query_excludes_the_image_itself(collection: Collection, files: dict[str, Path]) -> None:
    ids = ids_by_name(collection, files)
    found = collection.similar(ids["p2"], k=DISTINCT + 1)
    assert ids["p2"] not in [r.image_id for r in found] and found


# ---- fusion weights -------------------------------------------------------------------


def weighted(result: Result, weights: dict[str, float]) -> float:
    sims = evidence(result)
    return sum(weights[n] * s for n, s in sims.items()) / sum(weights[n] for n in sims)


def fused(result: Result, weights: dict[str, float]) -> float:
    """The weighted mean, or the phash's calibrated probability of the same picture if higher."""
    return max(weighted(result, weights), evidence(result)["phash"])


def test_the_score_is_the_weighted_mean_or_the_calibrated_same_picture_probability_if_higher(
    collection: Collection, files: dict[str, Path]
) -> None:
    results = collection.search(files["p1"], k=DISTINCT + 1, collapse=False)
    assert collection.signals["colour"].weight == 0.35
    for r in results:
        assert r.score == pytest.approx(fused(r, {"phash": 1.0, "colour": 0.35}))  # the phash: identity
    assert results[0].score == 1.0 and results[0].match and results[0].match.tier == "exact"


def test_settings_override_a_signals_weight(tmp_path: Path, files: dict[str, Path]) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"weights": {"colour": 0.0}}) as c:
        c.index([files["p0"].parent])
        for r in c.search(files["p1"], k=DISTINCT + 1, collapse=False):
            assert r.score == pytest.approx(evidence(r)["phash"])
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"weights": {"phash": 3.0}}) as c:
        for r in c.search(files["p1"], k=DISTINCT + 1, collapse=False):
            assert r.score == pytest.approx(fused(r, {"phash": 3.0, "colour": 0.35}))


def test_a_custom_signals_weight_enters_the_fusion(tmp_path: Path, files: dict[str, Path]) -> None:
    with open_with(tmp_path / "data", custom_plugins(), ingest={"signals": ["mean"]}) as collection:
        collection.index([files["p0"].parent])
        results = collection.search(files["p2"], k=DISTINCT + 1, collapse=False)
        assert len(results) == DISTINCT + 1
        for r in results:
            assert r.score == pytest.approx(fused(r, {"phash": 1.0, "mean": 2.5}))


# ---- collapse -------------------------------------------------------------------------


def test_near_identical_results_fold_into_the_better_one(
    collection: Collection, files: dict[str, Path]
) -> None:
    ids = ids_by_name(collection, files)
    [first, *rest] = collection.search(files["p0"], k=DISTINCT + 1)
    assert first.image_id == ids["p0"] and first.collapsed == (ids["copy"],)
    assert ids["copy"] not in [r.image_id for r in rest]
    assert len(rest) == DISTINCT - 1  # every other photo is kept
    flat = collection.search(files["p0"], k=DISTINCT + 1, collapse=False)
    assert [r.image_id for r in flat][:2] == [ids["p0"], ids["copy"]] and all(not r.collapsed for r in flat)


def test_collapse_bits_zero_folds_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"collapse_bits": 0}) as c:
        c.index([files["p0"].parent])
        found = c.search(files["p0"], k=DISTINCT + 1)
        assert len(found) == DISTINCT + 1 and all(not r.collapsed for r in found)


def test_collapse_follows_the_duplicate_key_capability(tmp_path: Path, files: dict[str, Path]) -> None:
    with open_with(tmp_path / "plain", custom_plugins(PlainHash)) as collection:
        assert collection.signals.duplicate_key() is None
        collection.index([files["p0"].parent])
        found = collection.search(files["p0"], k=DISTINCT + 1)
        assert len(found) == DISTINCT + 1 and all(not r.collapsed for r in found)  # nothing says "duplicate"
    with open_with(tmp_path / "twin", custom_plugins(PlainHash), ingest={"signals": ["twin"]}) as collection:
        key = collection.signals.duplicate_key()
        assert key is not None and key[0] == "twin"
        collection.index([files["p0"].parent])
        ids = ids_by_name(collection, files)
        [first, *_] = collection.search(files["p0"], k=DISTINCT + 1)
        assert first.collapsed == (ids["copy"],)  # the twin signal folded the copy


def test_planner_collapse_keeps_at_most_k_groups(collection: Collection, files: dict[str, Path]) -> None:
    ids = ids_by_name(collection, files)
    ranked = [ids["p0"], ids["copy"], ids["p1"], ids["p2"], ids["p3"]]
    assert collection.planner.collapse(ranked, 2) == {ids["p0"]: [ids["copy"]], ids["p1"]: []}
    assert list(collection.planner.collapse(ranked, 10)) == [ids["p0"], ids["p1"], ids["p2"], ids["p3"]]


# ---- k ----------------------------------------------------------------------------------


def test_k_bounds_the_results_and_defaults_to_the_setting(tmp_path: Path, files: dict[str, Path]) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"k": 2}) as c:
        c.index([files["p0"].parent])
        assert len(c.search(files["p3"])) == 2
        assert len(c.search(files["p3"], k=4)) == 4
        assert len(c.search(files["p3"], k=1)) == 1
        assert len(c.search(files["p3"], k=100, collapse=False)) == DISTINCT + 1  # no more than there are
        ranked = c.search(files["p3"], k=100, collapse=False)
        assert [r.image_id for r in c.search(files["p3"], k=3, collapse=False)] == [
            r.image_id for r in ranked[:3]
        ]
        scores = [r.score for r in ranked]
        assert scores == sorted(scores, reverse=True)


def test_candidates_are_at_least_four_times_k(tmp_path: Path, files: dict[str, Path]) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, search={"candidates": 1}) as c:
        c.index([files["p0"].parent])
        assert len(c.search(files["p3"], k=DISTINCT + 1, collapse=False)) == DISTINCT + 1
