"""Signals: pure functions from a decoded image to a feature (see :mod:`.base`)."""

from lookalike.signals.base import (
    BaseFlagSignal,
    BaseSignal,
    BaseTextSignal,
    Capability,
    FlagSignal,
    Kind,
    LocalSignal,
    Match,
    Metric,
    Region,
    Signal,
    SignalSpec,
    TextQuerySignal,
    TextSignal,
    WhitenableSignal,
    distances,
)
from lookalike.signals.set import SignalSet

__all__ = [
    "BaseFlagSignal",
    "BaseSignal",
    "BaseTextSignal",
    "Capability",
    "FlagSignal",
    "Kind",
    "LocalSignal",
    "Match",
    "Metric",
    "Region",
    "Signal",
    "SignalSet",
    "SignalSpec",
    "TextQuerySignal",
    "TextSignal",
    "WhitenableSignal",
    "distances",
]
