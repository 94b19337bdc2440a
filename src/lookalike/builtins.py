"""The parts that ship with lookalike, registered the way a plugin registers its own."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from lookalike.index import BruteFactory
from lookalike.signals.colour import Colour
from lookalike.signals.phash import PHash

if TYPE_CHECKING:
    from lookalike.index.base import IndexFactory, VectorIndex
    from lookalike.plugins import Registries
    from lookalike.settings import IndexSettings, Settings
    from lookalike.signals import Signal, SignalSpec
    from lookalike.signals.neural import ModelSignal

__all__ = ["register"]


class _LazyFaiss:
    """The FAISS backend, imported only when an index is first made or loaded."""

    name = "faiss"
    suffix = ".faiss"

    def __init__(self, options: IndexSettings | None = None) -> None:
        self.options = options

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> VectorIndex:
        from lookalike.index.faiss_backend import FaissFactory

        return FaissFactory(self.options).create(spec, threads, size)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex:
        from lookalike.index.faiss_backend import FaissFactory

        return FaissFactory(self.options).load(spec, path, threads)


class _LazyMilvus:
    """The Milvus backend, imported when an index is first made or loaded; one client for all."""

    name = "milvus"
    suffix = ".milvus.json"
    shared = True  # the index lives on a server that other processes use too

    def __init__(self, options: IndexSettings | None = None, uri: str | None = None) -> None:
        self.options, self.uri = options, uri
        self._factory: IndexFactory | None = None

    def _made(self) -> IndexFactory:
        if self._factory is None:
            from lookalike.index.milvus_backend import MilvusFactory

            self._factory = MilvusFactory(self.options, self.uri)
        return self._factory

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> VectorIndex:
        return self._made().create(spec, threads, size)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex:
        return self._made().load(spec, path, threads)


def model_signal(name: str, settings: Settings) -> ModelSignal:
    """The ``embedding`` or ``clip`` signal over the model its setting names."""
    from lookalike.errors import ConfigError
    from lookalike.models import ModelKind, ModelStore
    from lookalike.signals.neural import ModelSignal

    chosen: str | None = getattr(settings.models, name)
    if not chosen:
        raise ConfigError(
            f"signal '{name}' needs a model: set models.{name} (LOOKALIKE_MODELS__{name.upper()}) to an "
            "installed model (`lookalike models list`; add one with `lookalike models add NAME PATH` "
            "or `lookalike models pull NAME`)"
        )
    models = settings.models
    model = ModelStore(models.folder, models.providers, models.threads).load(chosen)
    if name == "clip" and model.config.kind is not ModelKind.CLIP:
        raise ConfigError(f"models.clip is '{chosen}', an image-only model; the clip signal needs a clip model")
    return ModelSignal(name, model, models.batch_size)


class _LazyDescriptors:
    """The descriptor index of local-feature signals, imported when first made or loaded."""

    name = "descriptors"
    suffix = ".desc.npz"

    def __init__(self, options: IndexSettings | None = None) -> None:
        pass  # sized by the number of descriptors it holds, not by settings

    def create(self, spec: SignalSpec, threads: int, size: int = 0) -> VectorIndex:
        from lookalike.index.descriptors import DescriptorFactory

        return DescriptorFactory().create(spec, threads)

    def load(self, spec: SignalSpec, path: Path, threads: int) -> VectorIndex:
        from lookalike.index.descriptors import DescriptorFactory

        return DescriptorFactory().load(spec, path, threads)


def _keypoints(settings: Settings) -> Signal:
    from lookalike.signals.keypoints import Keypoints

    return Keypoints()


def register(registries: Registries) -> None:
    """Register the built-in signals and index backends."""
    registries.signals.register("phash", lambda settings: PHash(settings.search.phash_variants))
    registries.signals.register("colour", lambda settings: Colour())
    if find_spec("onnxruntime") is not None and find_spec("tokenizers") is not None:
        registries.signals.register("embedding", lambda settings: model_signal("embedding", settings))
        registries.signals.register("clip", lambda settings: model_signal("clip", settings))
    else:
        for name in ("embedding", "clip"):
            registries.signals.mark_unavailable(
                name, "ONNX Runtime or tokenizers is not installed", "Install them: pip install 'lookalike[models]'"
            )
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
    if find_spec("pymilvus") is not None:
        registries.indexes.register("milvus", _LazyMilvus)
    else:
        registries.indexes.mark_unavailable(
            "milvus", "the pymilvus package is not installed", "Install it: pip install 'lookalike[milvus]'"
        )
