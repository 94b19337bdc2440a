"""Signals: pure functions from a decoded image to a feature (see :mod:`.base`)."""

from lookalike.signals.base import (
    BaseSignal,
    Kind,
    LocalSignal,
    Match,
    Metric,
    Region,
    Signal,
    SignalSpec,
    distances,
)

__all__ = ["BaseSignal", "Kind", "LocalSignal", "Match", "Metric", "Region", "Signal", "SignalSpec", "distances"]
