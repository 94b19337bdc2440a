"""The catalog: the truth about images, where they were seen, and their features."""

from .sqlite import Change, SqliteCatalog

__all__ = ["Change", "SqliteCatalog"]
