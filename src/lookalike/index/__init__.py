"""Vector indexes, one per signal, derived from the catalog (see :mod:`.base`)."""

from lookalike.index.base import BaseIndex, IndexFactory, VectorIndex
from lookalike.index.brute import BruteFactory, BruteIndex
from lookalike.index.sync import IndexSet

__all__ = ["BaseIndex", "BruteFactory", "BruteIndex", "IndexFactory", "IndexSet", "VectorIndex"]
