"""Typed registries, filled through one path: the ``lookalike.plugins`` entry points.

A plugin package names, in its ``lookalike.plugins`` entry point, a function that
takes the :class:`Plugins` and registers its parts::

    def register(plugins):
        plugins.signals.register("words", WordsSignal, description="...")
        plugins.sources.register("swatch", SwatchSource(), description="...")

lookalike's own parts register the same way, from :func:`lookalike.builtins.register`
(entry point ``builtins``).  :func:`load_plugins` is called by the composition root
(:func:`lookalike.app.build`) and by nothing else that runs a collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from lookalike.errors import ConfigError

if TYPE_CHECKING:
    from lookalike.catalog import Database
    from lookalike.index import IndexFactory
    from lookalike.models.hub import KnownModel
    from lookalike.settings import Settings
    from lookalike.signals import Signal
    from lookalike.sources.files import Blob, FileEntry, Listing, Rejected

__all__ = [
    "CatalogBackend",
    "IndexBackend",
    "ListedSource",
    "Part",
    "Plugins",
    "Registry",
    "SignalFactory",
    "Source",
    "Unavailable",
    "load_plugins",
]

T = TypeVar("T")
BUILTINS = "lookalike.builtins:register"

#: Makes a signal from the settings (a model signal loads its model).
SignalFactory = Callable[["Settings"], "Signal"]
#: Makes the factory of one kind of index from the index settings (``uri=``: a server's address).
IndexBackend = Callable[..., "IndexFactory"]
#: Opens the database a ``catalog`` setting names: (the setting, the data folder, migrate).
CatalogBackend = Callable[[str, Path, bool], "Database"]


class Source(Protocol):
    """Where images come from, beyond files and folders: ``lookalike index TARGET`` hands each
    target to the first source that accepts it."""

    def accepts(self, target: str) -> bool:
        """Whether ``target`` is this source's (a cheap check: a URI scheme, say)."""
        ...

    def items(self, target: str, settings: Settings) -> Iterator[Blob | Rejected]:
        """The images of ``target``: bytes with where they were seen, or what was rejected and why."""
        ...


@runtime_checkable
class ListedSource(Source, Protocol):
    """A source whose targets hold entries it can list cheaply (a bucket's objects, with size and
    ETag), so that ``lookalike index TARGET`` works as for a folder: only new and changed entries
    are read, and places no longer listed are retired (mark and sweep)."""

    def listing(self, target: str, settings: Settings) -> Listing:
        """Every entry of ``target``, listed before anything is read (a failed listing retires nothing)."""
        ...

    def read(
        self, entries: Iterable[FileEntry], settings: Settings
    ) -> Iterator[tuple[FileEntry, Iterable[Blob | Rejected]]]:
        """Each of ``entries`` (those that changed) with the images in it, in order."""
        ...


@dataclass(frozen=True)
class Unavailable:
    """A part that is known but cannot be used here, and what to do about it."""

    name: str
    why: str
    fix: str


@dataclass(frozen=True)
class Part(Generic[T]):
    """One registered part: its name, what makes it, and what it is for."""

    name: str
    value: T
    description: str = ""
    default: bool = False  # used when the settings name none of its kind
    required: bool = False  # always used (a signal every collection needs)
    plugin: str = ""  # the entry point that registered it


@dataclass
class Registry(Generic[T]):
    """Named parts of one kind (signals, index backends, catalog backends, sources, models)."""

    kind: str
    parts: dict[str, Part[T]] = field(default_factory=dict)
    unavailable: dict[str, Unavailable] = field(default_factory=dict)
    plugin: str = ""  # set while a plugin registers

    def register(
        self, name: str, value: T, *, description: str = "", default: bool = False, required: bool = False
    ) -> None:
        self.parts[name] = Part(name, value, description, default, required, self.plugin)
        self.unavailable.pop(name, None)

    def mark_unavailable(self, name: str, why: str, fix: str) -> None:
        if name not in self.parts:
            self.unavailable[name] = Unavailable(name, why, fix)

    def get(self, name: str) -> T:
        """The part named ``name``; a clear error when it is unknown or cannot be used here."""
        if name in self.parts:
            return self.parts[name].value
        if name in self.unavailable:
            missing = self.unavailable[name]
            raise ConfigError(f"{self.kind} '{name}' is not available: {missing.why}. {missing.fix}")
        raise ConfigError(f"unknown {self.kind} '{name}' (known: {', '.join(self) or 'none'})")

    def defaults(self) -> list[str]:
        return [p.name for p in self.parts.values() if p.default or p.required]

    def required(self) -> list[str]:
        return [p.name for p in self.parts.values() if p.required]

    def __contains__(self, name: object) -> bool:
        return name in self.parts

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.parts))


@dataclass
class Plugins:
    """Every registry of the program, filled once by :func:`load_plugins`."""

    signals: Registry[SignalFactory] = field(default_factory=lambda: Registry("signal"))
    indexes: Registry[IndexBackend] = field(default_factory=lambda: Registry("index backend"))
    catalogs: Registry[CatalogBackend] = field(default_factory=lambda: Registry("catalog backend"))
    sources: Registry[Source] = field(default_factory=lambda: Registry("source"))
    models: Registry[KnownModel] = field(default_factory=lambda: Registry("model"))  # `models pull`
    loaded: list[str] = field(default_factory=list)  # entry points that registered, in order
    errors: dict[str, str] = field(default_factory=dict)  # entry points that failed, with the error

    def _registries(self) -> list[Registry[Any]]:
        return [self.signals, self.indexes, self.catalogs, self.sources, self.models]

    def run(self, name: str, register: Callable[[Plugins], None]) -> None:
        """Let one plugin register its parts; a broken plugin is recorded, never fatal."""
        for registry in self._registries():
            registry.plugin = name
        try:
            register(self)
            self.loaded.append(name)
        except Exception as exc:  # a broken plugin must not break the program
            self.errors[name] = f"{type(exc).__name__}: {exc}"
        finally:
            for registry in self._registries():
                registry.plugin = ""


def load_plugins(third_party: bool = True) -> Plugins:
    """Run every ``lookalike.plugins`` entry point, lookalike's own built-ins first.

    Without an installed distribution (running from a source tree) the built-ins are
    run directly, so lookalike always has its own parts.  ``third_party`` off: the
    built-ins only.
    """
    plugins = Plugins()
    found = sorted(entry_points(group="lookalike.plugins"), key=lambda ep: ep.value != BUILTINS)
    if not any(ep.value == BUILTINS for ep in found):
        found.insert(0, EntryPoint("builtins", BUILTINS, "lookalike.plugins"))
    for ep in found:
        if not third_party and ep.value != BUILTINS:
            continue
        try:
            register = ep.load()
        except Exception as exc:
            plugins.errors[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        plugins.run(ep.name, register)
    return plugins
