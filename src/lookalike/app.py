"""The composition root: :func:`build` makes the whole object graph from settings, once.

The CLI, the web service, the worker and the Python API (:mod:`lookalike.collection`)
all go through it; plugins are loaded here and nowhere else, and nothing is created
at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lookalike.catalog import Catalog, Database
from lookalike.catalog.originals import OriginalStore
from lookalike.catalog.thumbnails import Thumbs, ThumbStore
from lookalike.errors import ConfigError
from lookalike.index import IndexFactory, IndexSet
from lookalike.index.milvus_uri import milvus_uri
from lookalike.plugins import Plugins, load_plugins
from lookalike.search.planner import Planner
from lookalike.settings import Settings
from lookalike.signals import Signal, SignalSet
from lookalike.signals.neural import share_passes
from lookalike.signals.tags import Tagger
from lookalike.signals.whitening import Whitening

__all__ = ["App", "build", "discover", "make_signals", "signal_names"]

INDEX_FOLDER = "indexes"
THUMB_FILE = "thumbs.sqlite"
ORIGINALS_FOLDER = "originals"


@dataclass
class App:
    """Everything a collection is made of, wired; the use cases take it (or its parts)."""

    settings: Settings
    home: Path
    plugins: Plugins
    catalog: Catalog
    signals: SignalSet
    indexes: IndexSet
    thumbs: Thumbs
    originals: OriginalStore
    planner: Planner
    configured: list[str]  # the signals the settings ask for (``signals`` may hold a command's extra ones)

    def whitening_path(self, signal: Signal) -> Path:
        """Where the whitening fitted for ``signal`` is kept (derived data, beside the indexes)."""
        return self.home / INDEX_FOLDER / f"{signal.spec.name}.v{signal.spec.version}.whiten.npz"

    def close(self) -> None:
        self.indexes.save()
        self.catalog.close()
        self.thumbs.close()


def build(settings: Settings, plugins: Plugins | None = None, extra_signals: Sequence[str] = ()) -> App:
    """The collection that ``settings`` describe, with every part made once.

    ``extra_signals``: signals to compute beside the configured ones (``--signals`` of a command).
    """
    plugins = plugins or load_plugins()
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(open_database(settings.catalog, home, plugins))
    configured = signal_names(settings, plugins)
    signals = make_signals(settings, [*configured, *extra_signals], plugins)
    indexes = IndexSet(
        home / INDEX_FOLDER,
        catalog,
        signals.indexed(),
        _index_factory(settings, home, plugins),
        settings.index.threads,
        _own_index_factories(settings, signals, plugins),
    )
    thumbs: Thumbs = catalog.thumbnails if catalog.shared else ThumbStore(home / THUMB_FILE)
    models = settings.models
    planner = Planner(
        catalog,
        indexes,
        signals,
        settings.search,
        expansion=(models.expansion, models.expansion_alpha),
        tagger=_tagger(settings, signals),
    )
    originals = OriginalStore(home / ORIGINALS_FOLDER)
    app = App(settings, home, plugins, catalog, signals, indexes, thumbs, originals, planner, configured)
    _load_whitening(app)
    return app


def discover() -> Plugins:
    """The parts installed here, without opening a collection (``lookalike doctor``)."""
    return load_plugins()


def signal_names(settings: Settings, plugins: Plugins) -> list[str]:
    """The signals a collection computes: ``ingest.signals`` (none named: the default ones),
    with every required signal first."""
    required = plugins.signals.required()
    names = settings.ingest.signals or plugins.signals.defaults()
    return [*required, *(n for n in dict.fromkeys(names) if n not in required)]


def make_signals(settings: Settings, names: Sequence[str], plugins: Plugins | None = None) -> SignalSet:
    """The named signals, made from their registered factories (also in each ingest worker process)."""
    plugins = plugins or load_plugins()
    made = {}
    for name in dict.fromkeys(names):
        signal = plugins.signals.get(name)(settings)
        if not isinstance(signal, Signal):  # a plugin's part is checked where it enters
            raise ConfigError(f"signal '{name}' does not implement the Signal protocol")
        made[name] = signal
    share_passes(made.values())  # the embedding and tags of one model file: one inference pass
    return SignalSet(made)


def open_database(where: str, home: Path, plugins: Plugins) -> Database:
    """The catalog database the ``catalog`` setting names, by its URL scheme (none: SQLite)."""
    scheme = where.split("://", 1)[0] if "://" in where else "sqlite"
    return plugins.catalogs.get(scheme)(where, home, True)


def _index_factory(settings: Settings, home: Path, plugins: Plugins) -> IndexFactory:
    """The backend of every signal's index: Milvus where ``vectors`` names one, else ``index.backend``."""
    name, uri = settings.index.backend, milvus_uri(settings.vectors, home)
    if name == "auto":
        name = "milvus" if uri else "faiss" if "faiss" in plugins.indexes else "brute"
    if (name == "milvus") != (uri is not None):
        raise ConfigError(
            f"index.backend is {name!r} and vectors (LOOKALIKE_VECTORS) is {settings.vectors!r}: "
            "Milvus needs vectors set to 'milvus://host:19530' or a '.db' file, and index.backend "
            "'auto' or 'milvus'; other backends need vectors empty"
        )
    where = {"uri": uri} if uri else {}
    return plugins.indexes.get(name)(settings.index, **where)


def _own_index_factories(settings: Settings, signals: SignalSet, plugins: Plugins) -> dict[str, IndexFactory]:
    """Indexes of signals that name their own kind (local features: descriptors), unless the
    brute-force reference is asked for, which holds many rows per image as well."""
    if settings.index.backend == "brute":
        return {}
    return {
        name: plugins.indexes.get(signal.index_backend)()
        for name, signal in signals.local().items()
        if signal.index_backend in plugins.indexes
    }


def _tagger(settings: Settings, signals: SignalSet) -> Tagger | None:
    """Automatic tags from the first signal that embeds words (``models.tags`` per image)."""
    worded = next(iter(signals.text_queries().values()), None)
    if worded is None or settings.models.tags <= 0:
        return None
    from lookalike.signals.tags import DEFAULT_VOCABULARY

    models = settings.models
    words = [*(() if models.tag_vocabulary_only else DEFAULT_VOCABULARY), *models.tag_vocabulary]
    return Tagger(worded, words, models.tags)


def _load_whitening(app: App) -> None:
    """Apply the whitening fitted earlier (``lookalike models whiten``) to the signals that take one."""
    if not app.settings.models.whiten:
        return
    for signal in app.signals.whitenable().values():
        path = app.whitening_path(signal)
        if path.exists():
            try:
                signal.whitening = Whitening.load(path)
            except (OSError, ValueError, KeyError):  # derived data: refit on request, never trust
                signal.whitening = None
