"""A video's frames in the catalog, on every dialect: parts, seen again, and left out of backfills."""

from __future__ import annotations

from lookalike.catalog import Catalog
from lookalike.ingest.extract import with_tiles
from lookalike.ingest.pipeline import retire_unseen
from lookalike.records import Extracted, Provenance

from catalogs import extracted


def video(sha: str, *frames: tuple[float, str]) -> Extracted:
    """A video item (no features of its own) with frames at the given times."""
    return Extracted(
        sha, 1000, 320, 240, "MP4", "yuv420p", frames=tuple((at, extracted(f)) for at, f in frames)
    )


def test_frames_are_parts_of_their_video(catalog: Catalog) -> None:
    where = Provenance("/v/a.mp4", file="/v/a.mp4")
    scan = catalog.scans.begin(["/v"])
    catalog.images.record(with_tiles([(where, video("v", (0.0, "f0"), (2.5, "f1")))]), scan)
    ids = catalog.images.ids_at("/v/a.mp4")
    parent = next(i for i, info in catalog.images.many(ids).items() if info.format == "MP4")
    parts = catalog.images.parts(parent)
    assert [(o.uri, o.at, o.describe_part()) for o in parts] == [
        ("/v/a.mp4#t=0", 0.0, "/v/a.mp4 at 00:00:00"),
        ("/v/a.mp4#t=2.5", 2.5, "/v/a.mp4 at 00:00:02.5"),
    ]
    assert parent not in catalog.features.missing("sig", 1)  # a video has no pixels of its own to backfill
    # read again (touched) but known: not extracted again, its frames stay through the sweep
    again = catalog.scans.begin(["/v"])
    catalog.images.record([(where, Extracted("v", 0))], again)
    catalog.images.keep_parts([("/v/a.mp4", "/v/a.mp4", "v")], again)
    retire_unseen(catalog, ["/v"], again)
    assert len(catalog.images.parts(parent)) == 2
    # read again without keeping them: the frames are retired with the scan
    last = catalog.scans.begin(["/v"])
    catalog.images.record([(where, Extracted("v", 0))], last)
    retire_unseen(catalog, ["/v"], last)
    assert catalog.images.parts(parent) == []
