"""Results equally sure to be the same picture (a calibrated probability of 1) come nearest
phash first, not in the order of the colour histogram, which a recolouring makes wrong."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageDraw

import lookalike
from lookalike.search.tiers import Tier

from conftest import encode, photo

WITHOUT_KEYPOINTS = ["phash", "colour", "junk"]


def test_equally_sure_copies_come_nearest_first(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    original = photo(7)
    original.save(folder / "original.png")
    edited = original.convert("L").convert(
        "RGB"
    )  # grey like the query, and a small patch changed (a few bits: still certain)
    ImageDraw.Draw(edited).rectangle((10, 10, 16, 14), fill=(90, 90, 90))
    edited.save(folder / "edited-grey.png")
    for seed in range(3):
        photo(seed).save(folder / f"other{seed}.png")
    query = encode(original.convert("L"), "PNG")  # a greyscale copy of the original
    with lookalike.open(tmp_path / "data", ingest={"workers": 1, "signals": WITHOUT_KEYPOINTS}) as opened:
        opened.index([folder])
        found = opened.search(query, k=3, collapse=False)
    first, second = found[0], found[1]
    assert first.location.endswith("original.png") and second.location.endswith("edited-grey.png")
    assert first.match is not None and second.match is not None
    assert first.match.tier == second.match.tier == Tier.COPY and first.score == second.score == 1.0
    distance = {r.location: next(e.distance for e in r.why if e.signal == "phash") for r in (first, second)}
    assert distance[first.location] < distance[second.location]  # nearer, though the colours are not
    colour = {r.location: next(e.similarity for e in r.why if e.signal == "colour") for r in (first, second)}
    assert colour[first.location] < colour[second.location]
