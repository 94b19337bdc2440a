"""The signals of a collection, grouped by what they can do.

The one place that turns a declared capability into the protocol that goes with it;
everything else asks the set (``signals.local()``, ``signals.duplicate_key()``) and
never a signal's name or class.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import cast

from lookalike.signals.base import (
    Capability,
    FlagSignal,
    LocalSignal,
    Signal,
    TextQuerySignal,
    TextSignal,
    WhitenableSignal,
)

__all__ = ["SignalSet"]


class SignalSet(Mapping[str, Signal]):
    """Signals by name (in the order they were configured), with views by capability."""

    def __init__(self, signals: Mapping[str, Signal]) -> None:
        self._signals = dict(signals)

    def __getitem__(self, name: str) -> Signal:
        return self._signals[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)

    def having(self, capability: Capability, names: Sequence[str] | None = None) -> dict[str, Signal]:
        """The signals (among ``names``, if given) that declare ``capability``."""
        chosen = self._signals if names is None else {n: self._signals[n] for n in names}
        return {n: s for n, s in chosen.items() if capability in s.capabilities}

    def indexed(self) -> dict[str, Signal]:
        """Signals with an index: global vectors or local features (text signals have none)."""
        return {**self.having(Capability.VECTORS), **self.having(Capability.LOCAL)}

    def local(self, names: Sequence[str] | None = None) -> dict[str, LocalSignal]:
        return cast(dict[str, LocalSignal], self.having(Capability.LOCAL, names))

    def vectors(self, names: Sequence[str] | None = None) -> dict[str, Signal]:
        return self.having(Capability.VECTORS, names)

    def texts(self) -> dict[str, TextSignal]:
        return cast(dict[str, TextSignal], self.having(Capability.TEXT))

    def flags(self, hiding: bool | None = None) -> dict[str, FlagSignal]:
        """Signals that flag images: junk (``hiding``: results leave its images out unless asked)
        and safety (not hiding: left out only when a search asks to be safe)."""
        found = cast(dict[str, FlagSignal], self.having(Capability.FLAG))
        return {n: s for n, s in found.items() if hiding is None or s.hides == hiding}

    def text_queries(self, names: Sequence[str] | None = None) -> dict[str, TextQuerySignal]:
        return cast(dict[str, TextQuerySignal], self.having(Capability.TEXT_QUERY, names))

    def whitenable(self) -> dict[str, WhitenableSignal]:
        return cast(dict[str, WhitenableSignal], self.having(Capability.WHITENING))

    def content(self) -> dict[str, Signal]:
        """Signals that find look-alikes by what the picture shows (a model's embedding)."""
        return self.having(Capability.CONTENT)

    def duplicate_key(self) -> tuple[str, Signal] | None:
        """The signal whose distance says 'near-identical' (it collapses results and finds dupes)."""
        return next(iter(self.having(Capability.DUPLICATES).items()), None)
