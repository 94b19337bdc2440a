"""SignalSet: the signals of a collection, chosen by the capabilities they declare."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from lookalike.app import make_signals
from lookalike.decode import DecodedImage, decode
from lookalike.plugins import load_plugins
from lookalike.records import TextField
from lookalike.settings import load_settings
from lookalike.signals import (
    BaseSignal,
    BaseTextSignal,
    Capability,
    Kind,
    LocalSignal,
    Metric,
    SignalSet,
    SignalSpec,
    TextQuerySignal,
    WhitenableSignal,
)
from lookalike.signals.whitening import Whitening

from conftest import encode, photo


class Lexicon(BaseSignal):
    """A made-up signal that embeds words, may be whitened and tells duplicates apart."""

    spec = SignalSpec("lexicon", 1, Kind.FLOAT, Metric.COSINE, 4, "float32")
    capabilities = frozenset(
        {Capability.VECTORS, Capability.TEXT_QUERY, Capability.WHITENING, Capability.DUPLICATES}
    )
    description = "a test signal"

    def __init__(self) -> None:
        self.whitening: Whitening | None = None

    def extract(self, image: DecodedImage) -> np.ndarray:
        v = image.rgb(2).reshape(-1)[:4].astype(np.float32) + 1
        return (v / np.linalg.norm(v))[None, :]

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(np.float32(0.5), (len(texts), 4))

    def text_similarity(self, distance: np.ndarray) -> np.ndarray:
        return 1.0 - np.asarray(distance, dtype=np.float64)


class Caption(BaseTextSignal):
    spec = SignalSpec("caption", 1, Kind.TEXT, Metric.WORDS, 0, "uint8")
    description = "a test text signal"

    def read(self, image: Any) -> list[TextField]:
        return [TextField("caption", "a picture", 0.9)]


@pytest.fixture(scope="module")
def builtins() -> SignalSet:
    plugins = load_plugins(third_party=False)
    names = ["phash", "colour", *(["keypoints"] if "keypoints" in plugins.signals else [])]
    return make_signals(load_settings(), names, plugins)


def test_a_set_keeps_the_configured_order_and_is_a_mapping(builtins: SignalSet) -> None:
    assert list(builtins)[:2] == ["phash", "colour"]
    assert builtins["colour"].spec.name == "colour" and len(builtins) == len(list(builtins))
    assert "missing" not in builtins and builtins.get("missing") is None
    with pytest.raises(KeyError):
        builtins["missing"]


def test_builtin_signals_by_capability(builtins: SignalSet) -> None:
    assert list(builtins.vectors()) == ["phash", "colour"]
    assert list(builtins.having(Capability.DUPLICATES)) == ["phash"]
    assert builtins.texts() == {} and builtins.text_queries() == {} and builtins.whitenable() == {}
    key = builtins.duplicate_key()
    assert key is not None and key[0] == "phash" and key[1] is builtins["phash"]
    if "keypoints" in builtins:
        assert list(builtins.local()) == ["keypoints"]
        assert isinstance(builtins["keypoints"], LocalSignal)
        assert list(builtins.indexed()) == ["phash", "colour", "keypoints"]
    else:
        assert builtins.local() == {} and list(builtins.indexed()) == ["phash", "colour"]


def test_selections_among_given_names(builtins: SignalSet) -> None:
    assert list(builtins.vectors(["colour"])) == ["colour"]
    assert builtins.local(["phash", "colour"]) == {}
    assert list(builtins.having(Capability.VECTORS, ["colour", "phash"])) == ["colour", "phash"]
    with pytest.raises(KeyError):
        builtins.vectors(["nope"])


def test_a_custom_signal_is_chosen_by_what_it_declares(builtins: SignalSet) -> None:
    lexicon, caption = Lexicon(), Caption()
    signals = SignalSet({"caption": caption, "lexicon": lexicon, **builtins})
    assert list(signals.texts()) == ["caption"]
    assert signals.text_queries() == {"lexicon": lexicon} and isinstance(lexicon, TextQuerySignal)
    assert signals.whitenable() == {"lexicon": lexicon} and isinstance(lexicon, WhitenableSignal)
    assert "caption" not in signals.indexed() and "lexicon" in signals.indexed()
    assert list(signals.vectors())[:3] == ["lexicon", "phash", "colour"]
    assert signals.duplicate_key() == ("lexicon", lexicon)  # the first that declares it, by order
    assert SignalSet({**builtins, "lexicon": lexicon}).duplicate_key() == ("phash", builtins["phash"])
    assert signals.text_queries(["phash", "caption"]) == {}


def test_a_set_without_a_duplicate_key_has_none(builtins: SignalSet) -> None:
    assert SignalSet({"colour": builtins["colour"], "caption": Caption()}).duplicate_key() is None
    assert SignalSet({}).indexed() == {} and SignalSet({}).duplicate_key() is None


def test_selected_signals_work_on_a_real_image(builtins: SignalSet) -> None:
    image = decode(encode(photo(3, (96, 72))), load_settings().decode)
    signals = SignalSet({**builtins, "caption": Caption(), "lexicon": Lexicon()})
    for name, signal in signals.vectors().items():
        feature = signal.extract(image)
        assert feature.shape[1] == signal.spec.row_width, name
        assert np.array_equal(signal.decode(signal.encode(feature)), feature.astype(signal.spec.dtype))
    [(name, reader)] = signals.texts().items()
    assert reader.texts(reader.extract(image)) == [TextField("caption", "a picture", 0.9)]
