"""Settings of the explore map (``lookalike map``, the ``/map`` page)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["MapSettings"]


class MapSettings(BaseModel):
    """How the explore map is laid out and drawn."""

    method: Literal["auto", "tsne", "umap", "pca"] = Field(
        "auto",
        description="How features become 2-D places: 'tsne' (openTSNE), 'umap' (umap-learn), 'pca' (numpy "
        "only, coarse); 'auto': tsne if installed, else umap, else pca.  Both need 'lookalike[map]'.",
    )
    cell: Literal[16, 32, 64, 128] = Field(
        64, description="Pixels of one image's square at the deepest zoom of the map's tiles."
    )
    tile_format: Literal["webp", "jpeg", "png"] = Field("webp", description="Format of the map's tiles.")
    spare: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Share of the grid's cells a full layout leaves free, so that images added later "
        "go near their neighbours without moving the others.",
    )
