"""The ocr signal on the real RapidOCR models, and searching what it read with typos.

The images are drawn here: words in Pillow's bundled font on light panels over photo-like
backgrounds, so the tests know what each image says and where.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app
from lookalike.decode import decode
from lookalike.search.words import edits_for
from lookalike.settings import DecodeSettings, OcrSettings

from conftest import encode, photo, sign

pytest.importorskip("rapidocr")

from lookalike.signals.ocr import Ocr

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


class Broken:
    name, models = "broken", "none"

    def read(self, rgb: object) -> list[object]:
        raise RuntimeError("the engine tripped on this image")


def test_an_image_the_engine_trips_on_gets_no_text_and_the_pass_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ocr = Ocr(OcrSettings(), engine=Broken())  # type: ignore[arg-type]
    decoded = decode(encode(sign(["Options"], 1), "PNG"), DecodeSettings(), None, ocr.input_size)
    assert ocr.read(decoded) == []
    assert "tripped" in caplog.text
