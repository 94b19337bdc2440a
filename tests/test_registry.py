"""lookalike.plugins: the typed registries, and load_plugins running the built-ins and other plugins."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import lookalike.plugins
from lookalike.errors import ConfigError
from lookalike.plugins import Part, Plugins, Registry, Unavailable, load_plugins
from lookalike.settings import load_settings
from lookalike.signals import Signal

from conftest import DEFAULT_SIGNALS


def test_register_and_get() -> None:
    registry: Registry[int] = Registry("widget")
    registry.register("one", 1, description="the first")
    registry.register("two", 2, default=True)
    assert registry.get("one") == 1 and registry.get("two") == 2
    assert registry.parts["one"] == Part("one", 1, "the first", False, False, "")
    assert "one" in registry and "three" not in registry
    assert list(registry) == ["one", "two"]


def test_iteration_is_sorted_by_name() -> None:
    registry: Registry[str] = Registry("widget")
    for name in ("zeta", "alpha", "mid"):
        registry.register(name, name)
    assert list(registry) == ["alpha", "mid", "zeta"]


def test_defaults_and_required_keep_registration_order() -> None:
    registry: Registry[str] = Registry("signal")
    registry.register("extra", "x")
    registry.register("hint", "h", default=True)
    registry.register("core", "c", required=True)
    assert registry.required() == ["core"]
    assert registry.defaults() == ["hint", "core"]  # a required part is always among the defaults


def test_an_unknown_name_is_a_config_error_listing_the_known_ones() -> None:
    registry: Registry[int] = Registry("gadget")
    with pytest.raises(ConfigError, match=r"unknown gadget 'x' \(known: none\)"):
        registry.get("x")
    registry.register("b", 2)
    registry.register("a", 1)
    with pytest.raises(ConfigError, match=r"unknown gadget 'x' \(known: a, b\)"):
        registry.get("x")


def test_an_unavailable_part_says_why_and_how_to_fix_it() -> None:
    registry: Registry[int] = Registry("signal")
    registry.mark_unavailable("ocr", "tesseract is missing", "Install it: apt-get install tesseract-ocr")
    assert registry.unavailable["ocr"] == Unavailable(
        "ocr", "tesseract is missing", "Install it: apt-get install tesseract-ocr"
    )
    assert "ocr" not in registry
    with pytest.raises(
        ConfigError, match=r"signal 'ocr' is not available: tesseract is missing\. Install it"
    ):
        registry.get("ocr")
    registry.register("ocr", 7)  # installed after all: registering clears the mark
    assert registry.get("ocr") == 7 and "ocr" not in registry.unavailable
    registry.mark_unavailable("ocr", "gone", "reinstall")  # never hides a part that is registered
    assert registry.get("ocr") == 7 and registry.unavailable == {}


def test_a_second_registration_of_a_name_replaces_the_first_and_names_its_plugin() -> None:
    plugins = Plugins()
    plugins.run("first", lambda p: p.signals.register("words", "v1"))
    plugins.run("second", lambda p: p.signals.register("words", "v2", default=True))
    assert plugins.signals.get("words") == "v2"
    assert plugins.signals.parts["words"].plugin == "second" and plugins.signals.defaults() == ["words"]
    assert plugins.loaded == ["first", "second"] and plugins.errors == {}


def test_run_records_which_plugin_registered_each_part_and_resets_after() -> None:
    plugins = Plugins()
    plugins.run("mine", lambda p: (p.sources.register("s", "src"), p.models.register("m", "model")))
    assert plugins.sources.parts["s"].plugin == "mine" and plugins.models.parts["m"].plugin == "mine"
    plugins.signals.register("later", "x")  # outside any plugin
    assert plugins.signals.parts["later"].plugin == ""


def test_a_plugin_that_raises_is_recorded_and_the_others_still_register() -> None:
    plugins = Plugins()

    def broken(p: Plugins) -> None:
        raise RuntimeError("no GPU here")

    plugins.run("good", lambda p: p.indexes.register("fast", "f"))
    plugins.run("broken", broken)
    plugins.run("after", lambda p: p.catalogs.register("mem", "m"))
    assert plugins.errors == {"broken": "RuntimeError: no GPU here"}
    assert plugins.loaded == ["good", "after"]
    assert plugins.indexes.get("fast") == "f" and plugins.catalogs.get("mem") == "m"
    assert all(r.plugin == "" for r in (plugins.signals, plugins.indexes, plugins.catalogs))


# ---- the built-ins, through load_plugins ---------------------------------------------------


@pytest.fixture(scope="module")
def builtin() -> Plugins:
    return load_plugins(third_party=False)


def test_builtins_register_phash_required_and_colour_default(builtin: Plugins) -> None:
    assert builtin.loaded == ["builtins"] and builtin.errors == {}
    assert builtin.signals.required() == ["phash"] and builtin.signals.defaults() == DEFAULT_SIGNALS
    settings = load_settings()
    for name in ("phash", "colour"):
        signal = builtin.signals.get(name)(settings)
        assert isinstance(signal, Signal) and signal.spec.name == name
    for name in ("embedding", "clip", "keypoints"):  # registered, or known and marked with a fix
        assert (name in builtin.signals) != (name in builtin.signals.unavailable)


def test_builtins_register_indexes_catalogs_sources_and_models(builtin: Plugins) -> None:
    assert "brute" in builtin.indexes
    for name in ("faiss", "milvus"):
        assert (name in builtin.indexes) != (name in builtin.indexes.unavailable)
    assert {"sqlite", "postgresql", "postgres"} <= set(builtin.catalogs)
    assert builtin.catalogs.defaults() == ["sqlite"]
    assert list(builtin.sources) == ["files", "objects"]
    assert builtin.sources.get("objects").accepts("s3://bucket/prefix")
    assert not builtin.sources.get("objects").accepts(__file__)
    files = builtin.sources.get("files")
    assert files.accepts(__file__) and not files.accepts("swatch:red")
    assert len(list(builtin.models)) > 0
    assert all(builtin.models.get(name).name == name for name in builtin.models)
    assert {
        p.plugin for r in (builtin.indexes, builtin.catalogs, builtin.sources) for p in r.parts.values()
    } == {"builtins"}


def test_the_sqlite_catalog_backend_opens_a_database(builtin: Plugins, tmp_path: Path) -> None:
    db = builtin.catalogs.get("sqlite")("", tmp_path, True)
    try:
        assert db.schema_version > 0 and (tmp_path / "catalog.sqlite").exists()
    finally:
        db.close()


# ---- third-party entry points ---------------------------------------------------------------

PLUGIN_MODULE = """
def good(plugins):
    plugins.sources.register("extra", object(), description="from a test plugin")

def broken(plugins):
    raise ValueError("this plugin is broken")
"""


@pytest.fixture
def entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Four installed entry points: a good plugin, one whose register raises, one that cannot be imported,
    and (listed after them) the built-ins, which still run first."""
    (tmp_path / "registry_test_plugin.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    group = "lookalike.plugins"
    found = [
        EntryPoint("good", "registry_test_plugin:good", group),
        EntryPoint("broken", "registry_test_plugin:broken", group),
        EntryPoint("absent", "no_such_module_for_lookalike:register", group),
        EntryPoint("builtins", lookalike.plugins.BUILTINS, group),
    ]
    monkeypatch.setattr(lookalike.plugins, "entry_points", lambda group: found)
    yield
    sys.modules.pop("registry_test_plugin", None)


@pytest.mark.usefixtures("entry_points")
def test_load_plugins_runs_builtins_first_and_survives_broken_plugins() -> None:
    plugins = load_plugins()
    assert plugins.loaded == ["builtins", "good"]
    assert plugins.errors["broken"] == "ValueError: this plugin is broken"
    assert plugins.errors["absent"].startswith("ModuleNotFoundError")
    assert set(plugins.errors) == {"broken", "absent"}
    assert plugins.sources.parts["extra"].plugin == "good" and "files" in plugins.sources
    assert plugins.signals.required() == ["phash"]


@pytest.mark.usefixtures("entry_points")
def test_third_party_off_runs_only_the_builtins() -> None:
    plugins = load_plugins(third_party=False)
    assert plugins.loaded == ["builtins"] and plugins.errors == {} and "extra" not in plugins.sources
