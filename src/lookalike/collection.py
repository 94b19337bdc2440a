"""The Python API: :func:`open` a collection, then index, search and look after it.

A :class:`Collection` is a thin front over the composition root (:func:`lookalike.app.build`)
and the use cases (:mod:`lookalike.usecases`); the CLI and the web service use the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lookalike.app import App, build
from lookalike.catalog import exists as catalog_exists
from lookalike.errors import ConfigError
from lookalike.ingest.pipeline import IngestReport, Progress
from lookalike.records import Provenance
from lookalike.search.facets import Filters
from lookalike.search.planner import Result
from lookalike.settings import Settings, load_settings
from lookalike.usecases import browse as browsing
from lookalike.usecases import crawl as crawling
from lookalike.usecases import dedupe, ingest, maintenance, originals, search
from lookalike.usecases import dupes as duplicates
from lookalike.usecases.browse import Browsed

if TYPE_CHECKING:
    from lookalike.sources.crawl import CrawlReport

__all__ = ["Collection", "open", "open_folder", "require_collection"]


def open(
    home: str | Path | None = None,
    settings: Settings | None = None,
    extra_signals: Sequence[str] = (),
    create: bool = True,
    **overrides: Any,
) -> Collection:
    """Open (or create) the collection in ``home`` (default: ``LOOKALIKE_HOME`` or ./lookalike-data).

    ``extra_signals``: signals to compute beside the configured ones (a backfill of a new signal).
    ``create`` off: a collection that is not there raises :class:`ConfigError` instead of being
    made (what the commands that only read do, so a forgotten ``--data`` is not an empty collection).
    """
    if settings is None:
        settings = load_settings(**overrides)
    if home is not None:
        settings = settings.model_copy(update={"home": Path(home)})
    if not create:
        require_collection(settings)
    return Collection(build(settings, extra_signals=extra_signals))


def open_folder(folder: str | Path, settings: Settings | None = None, **overrides: Any) -> Collection:
    """The cache collection of one folder (``search.folder_cache``, one subfolder per folder), for
    searching inside it; :meth:`Collection.index` of the folder then brings it up to date, reading
    only the files that changed since.  Always SQLite and FAISS files, whatever ``catalog`` and
    ``vectors`` say (those are the main collection's)."""
    settings = settings or load_settings(**overrides)
    where = Path(folder).resolve()
    home = settings.search.folder_cache / hashlib.sha256(str(where).encode()).hexdigest()[:16]
    home.mkdir(parents=True, exist_ok=True)
    (home / "FOLDER").write_text(f"{where}\n", encoding="utf-8")  # which folder this is, for a person
    return Collection(build(settings.model_copy(update={"home": home, "catalog": "", "vectors": ""})))


def require_collection(settings: Settings) -> None:
    """Raise :class:`ConfigError` unless the collection ``settings`` describe exists."""
    if not catalog_exists(settings.catalog, settings.home):
        home = settings.home
        shown = str(home) if home.is_absolute() or str(home).startswith(".") else f"./{home}"
        raise ConfigError(f"no collection at {shown} (use --data DIR or LOOKALIKE_HOME)")


class Collection:
    """A collection of images: index files, search by image, id, URL or words."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings, self.home, self.catalog, self.signals = (
            app.settings,
            app.home,
            app.catalog,
            app.signals,
        )
        self.indexes, self.planner, self.thumbs, self.originals = (
            app.indexes,
            app.planner,
            app.thumbs,
            app.originals,
        )

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- adding and removing ----------------------------------------------------------

    def index(
        self,
        paths: Sequence[str | Path],
        metadata: str | Path | None = None,
        retire: bool = True,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index files, folders, archives and plugin sources' targets (see :func:`lookalike.usecases.ingest.index`)."""
        return ingest.index(self.app, paths, metadata, retire, progress)

    def add(self, data: bytes, where: Provenance) -> tuple[int, bool]:
        """Add one image's bytes; returns (image id, whether the content was new)."""
        return ingest.add(self.app, data, where)

    def backfill(
        self, names: Sequence[str] | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Compute the features of ``names`` (default: every signal) for indexed images that lack them."""
        return ingest.backfill(self.app, names, progress)

    def crawl(self, starts: Sequence[str], **options: Any) -> CrawlReport:
        """Crawl websites from ``starts`` (see :func:`lookalike.usecases.crawl.crawl` for the options)."""
        return crawling.crawl(self.app, starts, **options)

    def index_urls(self, urls: str | Path, progress: Progress | None = None) -> CrawlReport:
        """Fetch and index a list of image (or archive) URLs, one per line."""
        return crawling.index_urls(self.app, urls, progress)

    def enqueue(self, paths: Sequence[str | Path]) -> int:
        """Queue every file under ``paths`` for ``lookalike worker`` processes; returns how many."""
        return ingest.enqueue(self.app, paths)

    def enqueue_backfill(self, names: Sequence[str]) -> dict[str, int]:
        """Queue the images that lack one of the signals ``names`` as jobs for workers."""
        return ingest.enqueue_backfill(self.app, names)

    def enqueue_crawl(self, starts: Sequence[str], recrawl: bool = False, **options: Any) -> int:
        """Queue a crawl that every worker joins."""
        return crawling.enqueue_crawl(self.app, starts, recrawl, **options)

    def remove(self, target: int | str) -> list[int]:
        """Remove an image by id, or everything seen at a path, folder, archive or URL."""
        return maintenance.remove(self.app, target)

    def rebuild(self) -> dict[str, int]:
        """Rebuild every index from the catalog's features."""
        return maintenance.rebuild(self.app)

    def fit_whitening(self, dim: int | None = None) -> dict[str, Any]:
        """Fit PCA whitening of the embedding signal on the collection and rebuild its index."""
        return maintenance.fit_whitening(self.app, dim)

    # ---- searching and looking around -------------------------------------------------

    def search(self, image: bytes | str | Path | None = None, **query: Any) -> list[Result]:
        """Search by image, id (``image_id=``), words (``text=``), or an image and words together
        (junk left out unless ``include_junk=True``; flagged exposure too with ``safe=True``)."""
        return search.search(self.app, image, **query)

    def similar(
        self,
        image_id: int,
        k: int | None = None,
        signals: Sequence[str] | None = None,
        include_junk: bool = False,
        safe: bool = False,
    ) -> list[Result]:
        """Images that look like the indexed image ``image_id`` (itself excluded); junk too with
        ``include_junk``; with ``safe``, not those the safety signal flagged."""
        return search.similar(self.app, image_id, k, signals, include_junk, safe)

    def browse(
        self, sort: str = browsing.DEFAULT_SORT, filters: Filters | None = None, **page: Any
    ) -> Browsed:
        """The whole collection, filtered, sorted and paged (``offset``, ``k``, ``facets``); no query needed.
        Junk is left out unless ``include_junk=True``, flagged exposure with ``safe=True``."""
        return browsing.browse(self.app, sort, filters, **page)

    def dupes(
        self,
        max_bits: int | None = None,
        keep: Sequence[str] | None = None,
        include_junk: bool = False,
        crops: bool | None = None,
    ) -> list[dict[str, Any]]:
        """Groups of exact copies (one content, several places) and of copies of the same picture
        (with ``crops``, default ``search.dupes_tiers``, also of crops of it), each with the image
        to keep by the ``keep`` rules (see :mod:`lookalike.usecases.dupes`); junk is left out
        unless ``include_junk``."""
        return duplicates.dupes(self.app, max_bits, keep, include_junk, crops)

    def dedupe(
        self,
        mode: Literal["move", "link", "trash"],
        move_to: Path | None = None,
        groups: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Plan moving, linking or trashing every duplicate file but the kept one of each group of
        :meth:`dupes` (nothing is touched); see :mod:`lookalike.usecases.dedupe`."""
        return dedupe.plan(self.app, self.dupes() if groups is None else groups, mode, move_to)

    def apply_dedupe(
        self, planned: dict[str, Any], link: Literal["hard", "symbolic"] = "hard"
    ) -> dict[str, Any]:
        """Carry out a :meth:`dedupe` plan; returns it with what was done and the undo log."""
        return planned | dedupe.apply(self.app, planned["actions"], link)

    def undo_dedupe(self, log: Path) -> dict[str, Any]:
        """Put back the files an applied :meth:`dedupe` moved, linked or trashed."""
        return dedupe.undo(self.app, log)

    def info(self, image_id: int) -> dict[str, Any]:
        """An image's facts, every place it was seen, and which features it has."""
        return maintenance.info(self.app, image_id)

    def thumbnail(self, image_id: int) -> bytes | None:
        """The thumbnail made at ingest, if there is one."""
        return maintenance.thumbnail(self.app, image_id)

    def original(self, image_id: int) -> tuple[bytes, str]:
        """The image's own bytes and where they were seen."""
        return originals.original(self.app, image_id)

    def stats(self) -> dict[str, Any]:
        """Counts, failures by reason, index sizes and disk use."""
        return maintenance.stats(self.app)

    def jobs(self) -> dict[str, Any]:
        """The job queue: jobs by kind and state, and the latest failures."""
        return maintenance.jobs(self.app)

    def crawl_status(self) -> dict[str, Any]:
        """The crawl frontier: URLs by kind and state, and the latest failures."""
        return crawling.status(self.app)
