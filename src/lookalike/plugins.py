"""Explicit registries: built-ins register through the same path as plugins.

A plugin package exposes an entry point in the ``lookalike.plugins`` group that
names a function taking the :class:`Registries`; that function calls
``registries.signals.register(...)`` and friends, exactly as
:func:`lookalike.builtins.register` does for the parts that ship with lookalike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from lookalike.errors import ConfigError

__all__ = ["Registries", "Registry", "Unavailable", "load_registries"]

T = TypeVar("T")


@dataclass(frozen=True)
class Unavailable:
    """A part that is known but cannot be used here, and what to do about it."""

    name: str
    why: str
    fix: str


@dataclass
class Registry(Generic[T]):
    """Named factories of one kind of part (signals, index backends, ...)."""

    kind: str
    _factories: dict[str, Callable[..., T]] = field(default_factory=dict)
    unavailable: dict[str, Unavailable] = field(default_factory=dict)

    def register(self, name: str, factory: Callable[..., T]) -> None:
        self._factories[name] = factory
        self.unavailable.pop(name, None)

    def mark_unavailable(self, name: str, why: str, fix: str) -> None:
        if name not in self._factories:
            self.unavailable[name] = Unavailable(name, why, fix)

    def create(self, name: str, *args: object, **kwargs: object) -> T:
        if name in self._factories:
            return self._factories[name](*args, **kwargs)
        if name in self.unavailable:
            missing = self.unavailable[name]
            raise ConfigError(f"{self.kind} '{name}' is not available: {missing.why}. {missing.fix}")
        known = ", ".join(sorted(self._factories)) or "none"
        raise ConfigError(f"unknown {self.kind} '{name}' (known: {known})")

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._factories))


@dataclass
class Registries:
    """Every registry of the program, built once by :func:`load_registries`."""

    signals: Registry[object] = field(default_factory=lambda: Registry("signal"))
    indexes: Registry[object] = field(default_factory=lambda: Registry("index backend"))
    plugin_errors: dict[str, str] = field(default_factory=dict)


def load_registries(plugins: bool = True) -> Registries:
    """Register the built-in parts, then every installed plugin."""
    from lookalike import builtins

    registries = Registries()
    builtins.register(registries)
    if plugins:
        for ep in entry_points(group="lookalike.plugins"):
            try:
                ep.load()(registries)
            except Exception as exc:  # a broken plugin must not break the program
                registries.plugin_errors[ep.name] = f"{type(exc).__name__}: {exc}"
    return registries
