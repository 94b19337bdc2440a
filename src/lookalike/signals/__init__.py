"""Signals: pure functions from a decoded image to a feature (see :mod:`.base`)."""

from .base import BaseSignal, Kind, Metric, Signal, SignalSpec, distances

__all__ = ["BaseSignal", "Kind", "Metric", "Signal", "SignalSpec", "distances"]
