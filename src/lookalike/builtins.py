"""The parts that ship with lookalike, registered the way a plugin registers its own."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from lookalike.catalog import connect
from lookalike.index import BruteFactory
from lookalike.models.hub import KNOWN
from lookalike.plugins import IndexBackend, Plugins, Registry, SignalFactory
from lookalike.signals.colour import Colour
from lookalike.signals.junk import Junk
from lookalike.signals.phash import PHash
from lookalike.sources.files import Blob, Rejected, blobs, walk
from lookalike.sources.objects import ObjectSource

if TYPE_CHECKING:
    from lookalike.index.base import IndexFactory, VectorIndex
    from lookalike.settings import IndexSettings, Settings
    from lookalike.signals import Signal, SignalSpec
    from lookalike.signals.neural import ModelSignal

__all__ = ["FileSource", "register"]


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
        raise ConfigError(
            f"models.clip is '{chosen}', an image-only model; the clip signal needs a clip model"
        )
    if not model.config.embeds:
        raise ConfigError(
            f"models.{name} is '{chosen}', a classifier without an embedding output: it can only tag "
            f"images (set models.tagger={chosen} and add 'tags' to ingest.signals)"
        )
    return ModelSignal(name, model, models.batch_size, whitenable=name == "embedding")


def tags_signal(settings: Settings) -> Signal:
    """The ``tags`` signal over ``models.tagger`` (none set: the embedding model, if it classifies)."""
    from lookalike.errors import ConfigError
    from lookalike.models import ModelStore
    from lookalike.signals.classes import ClassTags

    models = settings.models
    chosen = models.tagger or models.embedding
    if not chosen:
        raise ConfigError(
            "signal 'tags' needs a model with class logits and labels: set models.tagger "
            "(LOOKALIKE_MODELS__TAGGER) to an installed classifier (`lookalike models add NAME FILE.onnx "
            "--labels FILE`, or `lookalike models pull resnet18-imagenet`)"
        )
    model = ModelStore(models.folder, models.providers, models.threads).load(chosen)
    if not model.config.classifies:
        where = "models.tagger" if models.tagger else "models.embedding (models.tagger is not set)"
        raise ConfigError(
            f"{where} is '{chosen}', a model without class logits; the tags signal needs a classifier "
            "(image.logits and image.labels in its lookalike-model.json)"
        )
    return ClassTags(model, models.tagger_threshold, models.tagger_max, models.batch_size)


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

    def files(self, path: Path) -> list[Path]:
        from lookalike.index.descriptors import DescriptorFactory

        return DescriptorFactory().files(path)


def _keypoints(settings: Settings) -> Signal:
    from lookalike.signals.keypoints import Keypoints

    return Keypoints()


class FileSource:
    """Files, folders and archives on this machine (what ``lookalike index PATH`` walks)."""

    def accepts(self, target: str) -> bool:
        return Path(target).exists()

    def items(self, target: str, settings: Settings) -> Iterator[Blob | Rejected]:
        for entry in walk([Path(target)], exclude=[settings.home], follow=settings.ingest.follow_symlinks):
            yield from blobs(entry, settings.archive, settings.video)


def register(plugins: Plugins) -> None:
    """Register the built-in signals, index and catalog backends, sources and known models."""
    _signals(plugins.signals)
    _ocr(plugins.signals)
    _safety(plugins.signals)
    _indexes(plugins.indexes)
    plugins.catalogs.register(
        "sqlite", connect, description="one SQLite file in the data folder", default=True
    )
    for scheme in ("postgresql", "postgres"):
        plugins.catalogs.register(
            scheme, connect, description="a PostgreSQL database that many machines share"
        )
    plugins.sources.register(
        "files", FileSource(), description="files, folders and archives (zip, tar, 7z, rar)"
    )
    plugins.sources.register(
        "objects",
        ObjectSource(),
        description="buckets: s3:// (and S3-compatible stores), gs://, az:// through fsspec (lookalike[s3])",
    )
    for model in KNOWN.values():
        plugins.models.register(model.name, model, description=model.about)


def _signals(signals: Registry[SignalFactory]) -> None:
    signals.register(
        PHash.spec.name,
        lambda settings: PHash(settings.search.phash_variants, settings.search.hue_turns),
        description=PHash.description,
        required=True,
    )
    signals.register(
        Colour.spec.name, lambda settings: Colour(), description=Colour.description, default=True
    )
    signals.register("junk", lambda settings: Junk(settings.junk), description=Junk.description, default=True)
    if find_spec("onnxruntime") is not None and find_spec("tokenizers") is not None:
        for name, what in (("embedding", "image similarity"), ("clip", "images and words in one space")):
            signals.register(
                name, partial(model_signal, name), description=f"a neural model's embedding: {what}"
            )
        signals.register(
            "tags", tags_signal, description="words for what the picture shows, from a classifier"
        )
    else:
        for name in ("embedding", "clip", "tags"):
            signals.mark_unavailable(
                name,
                "ONNX Runtime or tokenizers is not installed",
                "Install them: pip install 'lookalike[models]'",
            )
    if find_spec("cv2") is not None:
        # on by default: crops, insets and small rotations are found without a setting (issue 14;
        # the ingest cost is in docs/benchmarks.md, "Crops and insets by default")
        signals.register(
            "keypoints",
            _keypoints,
            description="local keypoints with a geometric check: crops",
            default=True,
        )
    else:
        signals.mark_unavailable(
            "keypoints",
            "OpenCV (the opencv-python-headless package) is not installed",
            "Install it: pip install 'lookalike[keypoints]'",
        )


def _ocr_signal(settings: Settings) -> Signal:
    from lookalike.signals.ocr import Ocr

    return Ocr(settings.ocr, cache=settings.models.folder / "rapidocr")


def _safety_signal(settings: Settings) -> Signal:
    from lookalike.signals.safety import Safety

    return Safety(settings.safety, settings.models.providers, settings.models.threads)


def _safety(signals: Registry[SignalFactory]) -> None:
    if find_spec("onnxruntime") is not None and (find_spec("nudenet") is not None):
        signals.register(
            "safety",
            _safety_signal,
            description="exposure (NudeNet): blurred on the page, hidden with --safe",
        )
    else:
        signals.mark_unavailable(
            "safety", "the NudeNet detector is not installed", "Install it: pip install 'lookalike[safety]'"
        )


def _ocr(signals: Registry[SignalFactory]) -> None:
    if find_spec("rapidocr") is not None or find_spec("pytesseract") is not None:
        signals.register(
            "ocr", _ocr_signal, description="text inside the image (OCR), searchable with --text"
        )
    else:
        signals.mark_unavailable(
            "ocr",
            "no OCR engine is installed (rapidocr or pytesseract)",
            "Install it: pip install 'lookalike[ocr]'",
        )


def _indexes(indexes: Registry[IndexBackend]) -> None:
    indexes.register("brute", BruteFactory, description="exact search in numpy: the reference")
    if find_spec("faiss") is not None:
        indexes.register("faiss", _LazyFaiss, description="FAISS index files in the data folder")
        indexes.register(
            "descriptors", _LazyDescriptors, description="FAISS binary index of local descriptors"
        )
    else:
        indexes.mark_unavailable(
            "faiss", "the faiss-cpu package is not installed", "Install it: pip install faiss-cpu"
        )
    if find_spec("pymilvus") is not None:
        indexes.register("milvus", _LazyMilvus, description="a Milvus server (or a milvus-lite file)")
    else:
        indexes.mark_unavailable(
            "milvus", "the pymilvus package is not installed", "Install it: pip install 'lookalike[milvus]'"
        )
