"""The plugin seam, end to end: an example package in tests/plugins is installed with pip and adds a
text signal and a source that doctor lists, ingest uses and search finds, without touching core code."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.cli import app
from lookalike.plugins import load_plugins

PLUGIN = Path(__file__).parent / "plugins" / "lookalike-swatch"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the example plugin is pip-installed into (its entry point included)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PLUGIN)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("lookalike_swatch", None)


def test_builtins_register_through_the_entry_point_like_any_plugin() -> None:
    plugins = load_plugins()
    assert plugins.loaded[0] == "builtins" and not plugins.errors
    assert {p.plugin for p in plugins.signals.parts.values()} == {"builtins"}
    local = ["keypoints"] if find_spec("cv2") is not None else []  # on by default where OpenCV is
    assert plugins.signals.required() == ["phash"]
    assert plugins.signals.defaults() == ["phash", "colour", "junk", *local]
    assert "files" in plugins.sources and {"sqlite", "postgresql"} <= set(plugins.catalogs)


def test_without_the_plugin_its_parts_are_unknown() -> None:
    plugins = load_plugins()
    assert "colour-words" not in plugins.signals and "swatch" not in plugins.sources
    with pytest.raises(lookalike.ConfigError, match="unknown signal 'colour-words'"):
        plugins.signals.get("colour-words")


@pytest.mark.usefixtures("installed")
def test_an_installed_plugin_registers_its_signal_and_source() -> None:
    plugins = load_plugins()
    assert plugins.loaded == ["builtins", "swatch"] and not plugins.errors
    assert plugins.signals.parts["colour-words"].plugin == "swatch"
    assert plugins.sources.parts["swatch"].value.accepts("swatch:red")
    assert "colour-words" not in load_plugins(third_party=False).signals


@pytest.mark.usefixtures("installed")
def test_doctor_lists_the_plugin_and_what_it_adds() -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert "signal colour-words" in rows["plugin swatch"]["detail"]
    assert "source swatch" in rows["plugin swatch"]["detail"]
    assert "colour-words" in rows["signals"]["detail"] and "swatch" in rows["sources"]["detail"]


@pytest.mark.usefixtures("installed")
def test_the_plugin_source_is_indexed_and_its_text_signal_is_searched(tmp_path: Path) -> None:
    signals = ["phash", "colour", "colour-words"]
    with lookalike.open(tmp_path / "with", ingest={"signals": signals, "workers": 1}) as collection:
        report = collection.index(["swatch:red,blue,teal,mauve"])
        assert report.images_new == 3 and report.failures == {"not_an_image": 1}
        [hit, *_] = collection.search(text="red")  # the places say only "swatch:#dc1e1e": the signal read it
        assert hit.location == "swatch:#dc1e1e"
        words = collection.info(hit.image_id)["texts"]
        assert words == [{"signal": "colour-words", "field": "colour", "text": "red", "confidence": 1.0}]
        assert [r.location for r in collection.search(text="teal")][:1] == ["swatch:#149696"]
        assert collection.search(text="orange") == []
    with lookalike.open(tmp_path / "without", ingest={"workers": 1}) as collection:
        collection.index(["swatch:red"])
        assert collection.search(text="red") == []  # without the text signal nothing says "red"
