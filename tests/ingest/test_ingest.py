from __future__ import annotations

from lookalike.app import make_signals, signal_names
from lookalike.ingest.pipeline import CHUNK, CHUNK_BYTES, _chunks, decode_size
from lookalike.plugins import load_plugins
from lookalike.settings import load_settings


def test_chunks_are_bounded_by_count_and_bytes() -> None:
    small = [(f"s{i}", b"x" * 10, "u") for i in range(CHUNK + 3)]
    assert [len(c) for c in _chunks(small)] == [CHUNK, 3]
    big = [(f"b{i}", b"x" * (CHUNK_BYTES // 2 + 1), "u") for i in range(3)]
    assert [len(c) for c in _chunks(big)] == [1, 1, 1]  # each alone: two would pass CHUNK_BYTES
    huge = [("h", b"x" * (CHUNK_BYTES * 2), "u")]
    assert [len(c) for c in _chunks(huge)] == [1]
    assert list(_chunks([])) == []


def test_decode_size_covers_signals_and_thumbnails() -> None:
    plugins = load_plugins()
    settings = load_settings()
    signals = dict(make_signals(settings, signal_names(settings, plugins), plugins))
    assert decode_size(settings, signals) == 240
    assert decode_size(load_settings(ingest={"thumbnail_size": 0}), signals) == 96
    if "keypoints" in plugins.signals:  # keypoints read a larger view (512 pixels)
        signals["keypoints"] = plugins.signals.get("keypoints")(settings)
        assert decode_size(settings, signals) == 512
