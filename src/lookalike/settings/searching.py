"""Settings of the vector indexes and of queries."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

__all__ = ["IndexSettings", "SearchSettings"]


class IndexSettings(BaseModel):
    """Vector index backends."""

    backend: str = Field(
        "auto",
        description="Index backend: 'auto' (milvus when 'vectors' names one, else faiss if installed, else "
        "brute), 'faiss', 'brute', 'milvus' (needs 'vectors').",
    )
    threads: int = Field(1, ge=1, description="Threads an index may use per search.")
    dense: Literal["auto", "flat", "hnsw", "ivfpq"] = Field(
        "auto",
        description="Index for float vectors (embeddings): 'flat' (exact), 'hnsw' (graph, fast, "
        "about 1.1x the memory of flat), 'ivfpq' (compressed, 16x smaller; 4x the candidates are re-scored exactly, so recall stays near exact); 'auto': flat up "
        "to index.flat_max vectors, then hnsw.  Milvus builds FLAT, HNSW or IVF_PQ alike; milvus-lite has only "
        "FLAT and IVF_FLAT, and builds IVF_FLAT for hnsw and ivfpq.",
    )
    flat_max: int = Field(
        100_000, ge=0, description="Largest float index kept exact (flat) by index.dense='auto'."
    )
    hnsw_m: int = Field(32, ge=4, le=128, description="Links per vector in an HNSW index (build time).")
    hnsw_ef_construction: int = Field(
        80,
        ge=8,
        le=1024,
        description="Candidates kept while linking a vector into an HNSW index (build time: higher, "
        "a better graph and a slower build).",
    )
    ef_search: int = Field(
        96, ge=1, description="Candidates an HNSW search keeps (higher: better recall, slower)."
    )
    nprobe: int = Field(
        32,
        ge=1,
        description="Lists an IVF search (FAISS IVF-PQ, Milvus IVF_*) visits (higher: better recall, slower).",
    )
    hash_shortlist: int = Field(
        2048,
        ge=0,
        description="Hash codes per query that a FAISS hash search past 50 times as many images picks by a "
        "16-byte low-frequency prefix (the bits an image shares with its mirror image: one scan for both rows) "
        "before it ranks them on all their bits; 0: every search scans every code in full.",
    )
    milvus_prefix: str = Field(
        "lookalike",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Start of the Milvus collection names ('PREFIX_SIGNAL_vVERSION'), so several lookalike "
        "collections can share one Milvus.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Credentials for a Milvus server: 'user:password' or an API token; unset: none."
    )


def _default_folder_cache() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lookalike" / "folders"


DupesTier = Literal["exact", "copy", "crop"]


class SearchSettings(BaseModel):
    """Defaults for queries."""

    k: int = Field(12, ge=1, le=1000, description="Number of results returned by default.")
    folder_cache: Path = Field(
        default_factory=_default_folder_cache,
        description="Where `lookalike search IMAGE --in DIR` keeps the collection of each folder it "
        "searches, one subfolder per folder (default: ~/.cache/lookalike/folders).",
    )
    signals: list[str] = Field(
        default_factory=list,
        description="Signals searched by default; empty: every signal in ingest.signals.",
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weight of a signal in the fused score, where it differs from the signal's own "
        "(phash 1, colour 0.35, others 1; 'text', the keyword match, 1).",
    )
    candidates: int = Field(
        100, ge=1, description="Candidates taken from each index before fusion (at least k)."
    )
    collapse: Literal["copies", "bits"] = Field(
        "copies",
        description="Which results fold into a better one: 'copies', those its phash says are the same "
        "picture (the copy tier, the mirror image too); 'bits', those within collapse_bits.",
    )
    collapse_bits: int = Field(
        48,
        ge=0,
        description="With collapse=bits, results whose phash differs by at most this many of 576 bits are "
        "collapsed into one; 0 collapses nothing. Also `lookalike dupes`' default --max-bits.",
    )
    dupes_keep: list[str] = Field(
        default_factory=list,
        description="The rules that pick the image to keep in each group of `lookalike dupes`, first "
        "deciding (original, largest, lossless, metadata, oldest); empty: all five in that order. "
        "`--keep` overrides it.",
    )
    dupes_tiers: list[DupesTier] = Field(
        default_factory=lambda: list[DupesTier](["exact", "copy"]),
        description="The tiers `lookalike dupes` groups: exact (one file at several places) and copy "
        "(the same picture: re-encoded, resized, edited, mirrored, turned) always; add 'crop' to also "
        "group a part of a picture with it (needs keypoints). `--crop` adds it for one run.",
    )
    dupes_keypoints: bool = Field(
        True,
        description="`lookalike dupes` also checks, with the keypoints where they are indexed, the images "
        "that share local features, so a copy turned a few degrees (which no hash finds) joins its "
        "group; off: hashes only, faster (see docs/benchmarks.md for the cost).",
    )
    phash_variants: Literal["mirror", "dihedral"] = Field(
        "mirror",
        description="Query variants for phash: 'mirror' (image and its mirror) or 'dihedral' "
        "(also the 90/180/270 degree rotations; four times the search work).",
    )
    hue_turns: bool = Field(
        True,
        description="An image query of at most 256 colours (pixel art, a graphic) is also hashed with its "
        "palette's hue turned by each 15 degrees, so a recoloured copy (a palette swap) is found as a copy; "
        "46 more phash rows (each turn as it is and inside its border) for such queries only.",
    )
    verify: int = Field(
        20,
        ge=1,
        le=1000,
        description="Candidates of a keypoints search (by descriptor votes, and by the other signals' "
        "scores) that are checked geometrically; each check costs about a millisecond.",
    )
    rerank_keypoints: int = Field(
        0,
        ge=0,
        le=1000,
        description="When keypoints are indexed but not among the query's signals, check this many of the "
        "best results geometrically and lift each verified one to its keypoints similarity; 0: off.",
    )
    local_fallback: bool = Field(
        True,
        description="When an image query's global signals (phash, colour, embeddings) find no copy-tier "
        "hit and local features (keypoints) are indexed, search those too: descriptor votes and a "
        "geometric check find the picture as a crop, inside a larger picture or turned a little. "
        "Costs a keypoints search (about 0.1 s at 1,000 images) only for queries without a copy. Only "
        "when neither the query nor search.signals names signals (those search each signal named). "
        "false: local features are searched with every image query, like the other signals.",
    )
    fuzzy: int = Field(
        2,
        ge=0,
        le=2,
        description="Most edits by which a query word may differ from a word read in images (OCR) and "
        "still find it, ranked below exact matches; words of up to 3 letters are never corrected, up to 6 "
        "by one edit; 0: exact words only.",
    )
