"""The ocr signal on the real RapidOCR models, and searching what it read with typos.

The images are drawn here: words in Pillow's bundled font on light panels over photo-like
backgrounds, so the tests know what each image says and where.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.api import create_app
from lookalike.cli.main import app
from lookalike.decode import decode
from lookalike.search.words import edits_for
from lookalike.settings import DecodeSettings, OcrSettings

from asgi_client import serving
from conftest import encode, photo, sign

pytest.importorskip("rapidocr")

from lookalike.ingest.extract import extract_many
from lookalike.settings import Settings
from lookalike.signals.ocr import Ocr, engine_status, make_engine
from lookalike.signals.phash import PHash

SIGNS = {
    "castle": ["Dragon Castle", "Level 42"],
    "shop": ["Golden Apples"],
    "menu": ["Start Game", "Options"],
}


def read(image: Image.Image, **settings: object) -> list[str]:
    ocr = Ocr(OcrSettings(**settings))  # type: ignore[arg-type]
    decoded = decode(encode(image, "PNG"), DecodeSettings(), None, ocr.input_size)
    return [f.text for f in ocr.read(decoded)]


@pytest.fixture(scope="module")
def signs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("signs")
    for seed, (name, lines) in enumerate(SIGNS.items()):
        sign(lines, seed).save(folder / f"{name}.png")
    for seed in range(3):  # photos without text
        photo(50 + seed, (480, 360)).save(folder / f"photo{seed}.jpg")
    return folder


def test_reads_the_lines_with_their_boxes() -> None:
    image = sign(SIGNS["castle"], 0)
    ocr = Ocr(OcrSettings())
    fields = ocr.read(decode(encode(image, "PNG"), DecodeSettings(), None, ocr.input_size))
    assert [f.text.lower() for f in fields] == ["dragon castle", "level 42"]
    assert all(f.field == "line" and 0.5 <= f.confidence <= 1 for f in fields)
    first = fields[0].box
    assert first is not None and len(first) == 8
    xs, ys = first[0::2], first[1::2]
    assert 0.03 < min(xs) < 0.15 and max(xs) < 0.75  # the text starts at x=40 of 560
    assert 0.05 < min(ys) < 0.2 and max(ys) < 0.35  # the first panel: y 28-98 of 320


def test_the_8_bit_detector_is_made_once_and_reads_what_the_float_one_reads(models_folder: Path) -> None:
    image = decode(encode(sign(SIGNS["castle"], 0), "PNG"), DecodeSettings(), None, 960)
    fast = Ocr(OcrSettings(), cache=models_folder / "rapidocr")
    assert [f.text.lower() for f in fast.read(image)] == ["dragon castle", "level 42"]
    [made] = (models_folder / "rapidocr").glob("*.int8-*.onnx")
    assert "8-bit" in fast.engine.models and made.stat().st_size < 4_000_000  # a quarter of the float model
    again = Ocr(OcrSettings(), cache=models_folder / "rapidocr")
    assert [f.text for f in again.read(image)] == [f.text for f in fast.read(image)]
    assert list((models_folder / "rapidocr").glob("*.int8-*.onnx")) == [made]  # made once, then reused
    plain = Ocr(OcrSettings(int8=False), cache=models_folder / "rapidocr")
    assert [f.text.lower() for f in plain.read(image)] == ["dragon castle", "level 42"]
    assert "float" in plain.engine.models


def test_without_the_onnx_package_the_float_detector_reads_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx fails
    ocr = Ocr(OcrSettings(), cache=tmp_path / "rapidocr")
    image = decode(encode(sign(SIGNS["shop"], 1), "PNG"), DecodeSettings(), None, 960)
    assert [f.text.lower() for f in ocr.read(image)] == ["golden apples"]
    assert "onnx package is not installed" in caplog.text and "float" in ocr.engine.models
    assert not list((tmp_path / "rapidocr").glob("*.onnx"))


def tesseract_or_skip() -> None:
    """Tesseract is optional; CI installs it (CI_REQUIRE_TESSERACT=1), where it must not be missing."""
    ok, why = engine_status(OcrSettings(engine="tesseract"))
    if not ok:
        if os.environ.get("CI_REQUIRE_TESSERACT"):
            pytest.fail(f"Tesseract is required here: {why}")
        pytest.skip(f"Tesseract is not installed: {why}")


def test_tesseract_reads_the_same_sign_as_the_second_engine() -> None:
    tesseract_or_skip()
    fields = Ocr(OcrSettings(engine="tesseract")).read(
        decode(encode(sign(SIGNS["castle"], 0), "PNG"), DecodeSettings(), None, 960)
    )
    assert [f.text.lower() for f in fields] == ["dragon castle", "level 42"]
    assert all(0.5 <= f.confidence <= 1 and f.box and len(f.box) == 8 for f in fields)
    assert fields[0].box[1] < fields[1].box[1]  # type: ignore[index]  # the first line is above the second


def test_text_too_small_for_the_settings_is_not_read() -> None:
    tiny = sign(["Hi"], 1, (60, 40))
    assert read(tiny) == []  # a sprite-sized image is skipped
    assert read(sign(["Options"], 1), min_confidence=1.0) == []  # nothing is that sure


def test_a_photo_without_text_reads_nothing() -> None:
    assert read(photo(7, (480, 360))) == []


def test_typo_limits_depend_on_word_length() -> None:
    assert [edits_for(w, 2) for w in ("cat", "apple", "dragons", "castles")] == [0, 1, 2, 2]
    assert edits_for("dragons", 1) == 1 and edits_for("apple", 0) == 0


def test_search_finds_read_words_with_typos_exact_first(signs: Path, tmp_path: Path) -> None:
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": ["phash", "colour", "ocr"]}) as c:
        c.index([signs])
        for query, name in [
            ("castle", "castle"),
            ("castel", "castle"),
            ("dargon", "castle"),
            ("goldn aples", "shop"),
        ]:
            results = c.search(text=query, k=3)
            assert results and Path(results[0].location).stem == name, query
        [exact] = c.search(text="options", k=1)
        [fuzzy] = c.search(text="optoins", k=1)
        assert exact.score == 1.0 and fuzzy.score < exact.score
        assert fuzzy.why[0].note == "read 'optoins' as 'options'"
        [snippet] = fuzzy.snippets
        assert snippet.signal == "ocr" and snippet.text.lower() == "options" and snippet.box
        assert fuzzy.as_dict()["snippets"][0]["text"].lower() == "options"
        assert c.search(text="cat", k=3) == []  # short words are never corrected into "castle"
        assert c.search(text="level 42", k=1)[0].location.endswith("castle.png")


def test_an_ocr_pass_over_indexed_images_resumes_and_reaches_the_cli(signs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", str(signs), "--data", str(data), "--json"])
    assert indexed.exit_code == 0, indexed.output
    before = runner.invoke(app, ["search", "--text", "apples", "--data", str(data), "--json"])
    assert json.loads(before.stdout) == []  # not read yet
    first = runner.invoke(app, ["index", "--ocr", "--data", str(data), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["backfill"]["computed"]["ocr"] == 6
    again = runner.invoke(app, ["index", "--ocr", "--data", str(data), "--json"])
    assert json.loads(again.stdout)["backfill"]["computed"]["ocr"] == 0  # done images are not read again
    found = runner.invoke(app, ["search", "--text", "golden aples", "--data", str(data), "--json"])
    [hit] = json.loads(found.stdout)[:1]
    assert hit["occurrences"][0]["uri"].endswith("shop.png")
    assert hit["snippets"][0]["text"].lower() == "golden apples" and len(hit["snippets"][0]["box"]) == 8
    table = runner.invoke(app, ["search", "--text", "golden aples", "--data", str(data)])
    assert "shop.png" in table.output


class Flaky:
    """The real engine, except that it trips on images 600 px wide (as a hostile image might)."""

    name, models = "flaky", "rapidocr"

    def __init__(self) -> None:
        self.real = make_engine(OcrSettings())

    def read(self, rgb: np.ndarray) -> list[object]:
        if rgb.shape[1] == 600:
            raise RuntimeError("the engine tripped on this image")
        return list(self.real.read(rgb))


def test_an_image_the_engine_trips_on_is_recorded_kept_and_read_by_the_next_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sign(SIGNS["castle"], 0).save(folder / "castle.png")
    sign(["Start Game"], 3, (600, 320)).save(folder / "menu.png")
    settings = {"ingest": {"workers": 1, "signals": ["phash", "ocr"]}}
    monkeypatch.setattr("lookalike.signals.ocr.make_engine", lambda *_: Flaky())
    with lookalike.open(tmp_path / "data", **settings) as c:
        report = c.index([folder])
        assert report.images_new == 2 and report.failed == 0  # the image is kept, only its text is missing
        assert c.stats()["signal_failures"] == {"ocr": 1}
        [failure] = c.catalog.features.failures()
        assert failure["signal"] == "ocr" and failure["uri"].endswith("menu.png")
        assert "tripped on this image" in failure["detail"]
        assert c.search(text="dragon", k=1)[0].location.endswith("castle.png")
        assert c.search(text="start game", k=3) == []
        assert c.search(folder / "menu.png", k=1)[0].why[0].distance == 0  # its phash was stored
        again = c.backfill(["ocr"])
        assert (
            again["computed"]["ocr"] == 0 and again["signal_failed"]["ocr"] == 1
        )  # tried again, still fails
        with serving(create_app(c)) as http:
            assert http.get("/api/stats").json()["signal_failure_list"][0]["signal"] == "ocr"
            page = http.get("/collection").text
            assert "could not read 1 image:" in page and "menu.png" in page and "tripped" in page
    shown = CliRunner().invoke(app, ["stats", "--failures", "--data", str(tmp_path / "data")])
    assert "ocr could not read 1 images" in shown.output and "menu.png" in shown.output
    monkeypatch.undo()  # the engine is well again
    with lookalike.open(tmp_path / "data", **settings) as c:
        healed = c.backfill(["ocr"])
        assert healed["computed"]["ocr"] == 1 and healed["signal_failed"]["ocr"] == 0
        assert c.stats()["signal_failures"] == {} and c.catalog.features.failures() == []
        assert c.search(text="start game", k=1)[0].location.endswith("menu.png")


def test_extraction_keeps_the_features_of_other_signals_and_images_when_one_signal_fails() -> None:
    ocr = Ocr(OcrSettings(), engine=Flaky())
    items = [
        (name, encode(image, "PNG"), name)
        for name, image in [("good", sign(["Options"], 1)), ("bad", sign(["Options"], 2, (600, 320)))]
    ]
    good, bad = extract_many(items, Settings(), {"phash": PHash(), "ocr": ocr})
    assert good.failure is None and set(good.features) == {"phash", "ocr"} and not good.signal_failures
    assert bad.failure is None and set(bad.features) == {"phash"}
    assert bad.signal_failures["ocr"][0] == Ocr.spec.version and "tripped" in bad.signal_failures["ocr"][1]


def test_an_ocr_pass_queued_for_workers_makes_the_text_searchable(signs: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(signs), "--data", str(data)]).exit_code == 0
    queued = runner.invoke(app, ["index", "--ocr", "--queue", "--data", str(data), "--json"])
    assert json.loads(queued.stdout) == {"queued": 1, "images": 6}
    worked = runner.invoke(app, ["worker", "--drain", "--data", str(data), "--json"])
    assert worked.exit_code == 0, worked.output
    assert json.loads(worked.stdout)["backfilled"] == 6
    found = runner.invoke(app, ["search", "--text", "start gmae", "--data", str(data), "--json"])
    assert json.loads(found.stdout)[0]["occurrences"][0]["uri"].endswith("menu.png")


def test_an_ocr_pass_stopped_midway_resumes_without_reading_finished_images(
    signs: Path, tmp_path: Path
) -> None:
    options = {"ingest": {"workers": 1, "batch_size": 2}}  # three batches of two images
    with lookalike.open(tmp_path / "data", **options) as c:
        c.index([signs])

    def stop_after_the_first_batch(event: str, n: int) -> None:
        if event == "file":
            raise KeyboardInterrupt  # a Ctrl-C (or a kill) between two commits

    with lookalike.open(tmp_path / "data", extra_signals=["ocr"], **options) as c:
        with pytest.raises(KeyboardInterrupt):
            c.backfill(["ocr"], progress=stop_after_the_first_batch)
        assert c.catalog.features.by_signal()["ocr"] == 2  # the first batch was committed
        rest = c.backfill(["ocr"])
        assert rest["computed"] == {"ocr": 4}  # only the images not read yet
        assert c.search(text="golden apples", k=1)[0].location.endswith("shop.png")
