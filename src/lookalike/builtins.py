"""The parts that ship with lookalike, registered the way a plugin registers its own."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from .index import BruteFactory
from .signals.colour import Colour
from .signals.phash import PHash

if TYPE_CHECKING:
    from .index.base import VectorIndex
    from .registry import Registries
    from .settings import Settings
    from .signals import Signal, SignalSpec

__all__ = ["register"]


class _LazyFaiss:
    """The FAISS backend, imported only when an index is first made or loaded."""

    name = "faiss"
    suffix = ".faiss"

    def create(self, spec: SignalSpec, threads: int) -> VectorIndex:
        from .index.faiss_backend import FaissFactory

        return FaissFactory().create(spec, threads)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex:
        from .index.faiss_backend import FaissFactory

        return FaissFactory().load(spec, path, threads)


class _LazyDescriptors:
    """The descriptor index of local-feature signals, imported when first made or loaded."""

    name = "descriptors"
    suffix = ".desc.npz"

    def create(self, spec: SignalSpec, threads: int) -> VectorIndex:
        from .index.descriptors import DescriptorFactory

        return DescriptorFactory().create(spec, threads)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex:
        from .index.descriptors import DescriptorFactory

        return DescriptorFactory().load(spec, path, threads)


def _keypoints(settings: Settings) -> Signal:
    from .signals.keypoints import Keypoints

    return Keypoints()


def register(registries: Registries) -> None:
    """Register the built-in signals and index backends."""
    registries.signals.register("phash", lambda settings: PHash(settings.search.phash_variants))
    registries.signals.register("colour", lambda settings: Colour())
    if find_spec("cv2") is not None:
        registries.signals.register("keypoints", _keypoints)
    else:
        registries.signals.mark_unavailable(
            "keypoints",
            "OpenCV (the opencv-python-headless package) is not installed",
            "Install it: pip install 'lookalike[keypoints]'",
        )
    registries.indexes.register("brute", BruteFactory)
    if find_spec("faiss") is not None:
        registries.indexes.register("faiss", _LazyFaiss)
        registries.indexes.register("descriptors", _LazyDescriptors)
    else:
        registries.indexes.mark_unavailable(
            "faiss", "the faiss-cpu package is not installed", "Install it: pip install faiss-cpu"
        )
