"""Filters and facets, for the web service: they live in :mod:`lookalike.search.facets`.

Kept here so that ``lookalike.api.facets`` still names them; browsing the collection
(:mod:`lookalike.usecases.browse`, used by the CLI too) filters with the same code.
"""

from lookalike.search.facets import (
    FACETS,
    SIZES,
    Filters,
    facet_counts,
    matches,
    size_bucket,
    source_of,
    values,
)

__all__ = ["FACETS", "SIZES", "Filters", "facet_counts", "matches", "size_bucket", "source_of", "values"]
