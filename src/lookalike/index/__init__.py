"""Vector indexes, one per signal, derived from the catalog (see :mod:`.base`)."""

from .base import BaseIndex, IndexFactory, VectorIndex
from .brute import BruteFactory, BruteIndex
from .sync import IndexSet

__all__ = ["BaseIndex", "BruteFactory", "BruteIndex", "IndexFactory", "IndexSet", "VectorIndex"]
