from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from lookalike import ConfigError, Settings, load_settings
from lookalike.app import signal_names
from lookalike.plugins import load_plugins

DOCS = Path(__file__).parent.parent / "docs" / "settings.md"


def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += keys(kind, f"{prefix}{name}__")
        else:
            found.append(f"LOOKALIKE_{prefix}{name}".upper())
    return found


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(LOOKALIKE_[A-Z0-9_]+)`", DOCS.read_text(encoding="utf-8")))
    assert set(keys(Settings)) == documented


def test_environment_is_read_with_nested_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKALIKE_DECODE__MAX_PIXELS", "1234")
    monkeypatch.setenv("LOOKALIKE_HOME", "/tmp/somewhere")
    settings = load_settings()
    assert settings.decode.max_pixels == 1234 and str(settings.home) == "/tmp/somewhere"


def test_bad_values_name_the_key_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKALIKE_CRAWL__ROBOTS", "perhaps")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "crawl.robots" in str(caught.value) and "perhaps" in str(caught.value)
    with pytest.raises(ConfigError, match=r"search\.phash_variants"):
        load_settings(search={"phash_variants": "sideways"})


def test_ingest_signals_always_start_with_phash() -> None:
    plugins = load_plugins()
    assert signal_names(load_settings(ingest={"signals": ["colour"]}), plugins) == ["phash", "colour"]
    assert signal_names(load_settings(ingest={"signals": ["colour", "phash", "colour"]}), plugins) == [
        "phash",
        "colour",
    ]
