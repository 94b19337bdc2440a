"""The composition root: :func:`open` builds a :class:`Collection` from settings.

The CLI, the web service and the tests all go through this one object; nothing
is created at import time.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lookalike.catalog import open_catalog
from lookalike.catalog.originals import OriginalStore
from lookalike.catalog.thumbnails import Thumbs, ThumbStore
from lookalike.decode import DecodedImage, decode
from lookalike.errors import ConfigError, InputError, NotFoundError, Reason
from lookalike.index import IndexFactory, IndexSet
from lookalike.index.milvus_uri import milvus_uri
from lookalike.ingest.pipeline import Ingester, IngestReport, Progress, decode_size
from lookalike.plugins import Registries, load_registries
from lookalike.records import Provenance
from lookalike.search.planner import Planner, Result
from lookalike.settings import Settings, load_settings
from lookalike.signals import LocalSignal, Signal, distances
from lookalike.signals.neural import ModelSignal
from lookalike.signals.whitening import Whitening
from lookalike.sources.files import Blob, FileEntry, blobs, load_metadata

if TYPE_CHECKING:
    from lookalike.records import CrawlUrl
    from lookalike.signals.tags import Tagger
    from lookalike.sources.crawl.crawler import CrawlReport

__all__ = ["Collection", "open"]

INDEX_FOLDER = "indexes"
THUMB_FILE = "thumbs.sqlite"
ORIGINALS_FOLDER = "originals"


def open(home: str | Path | None = None, settings: Settings | None = None, **overrides: Any) -> Collection:
    """Open (or create) the collection in ``home`` (default: ``LOOKALIKE_HOME`` or ./lookalike-data)."""
    if settings is None:
        settings = load_settings(**overrides)
    if home is not None:
        settings = settings.model_copy(update={"home": Path(home)})
    return Collection(settings, load_registries())


class Collection:
    """A collection of images: index files, search by image, id, URL or words."""

    def __init__(self, settings: Settings, registries: Registries) -> None:
        self.settings, self.registries = settings, registries
        self.home = settings.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.catalog = open_catalog(settings.catalog, self.home)
        self.signals: dict[str, Signal] = {name: self._signal(name) for name in settings.ingest.signals}
        self.indexes = IndexSet(
            self.home / INDEX_FOLDER,
            self.catalog,
            self.signals,
            self._index_factory(),
            settings.index.threads,
            self._own_index_factories(),
        )
        self.thumbs: Thumbs = (
            self.catalog.thumbnails if self.catalog.shared else ThumbStore(self.home / THUMB_FILE)
        )
        self.originals = OriginalStore(self.home / ORIGINALS_FOLDER)
        self._load_whitening()
        models = settings.models
        self.planner = Planner(
            self.catalog,
            self.indexes,
            self.signals,
            settings.search,
            expansion=(models.expansion, models.expansion_alpha),
            tagger=self._tagger(),
        )

    def _signal(self, name: str) -> Signal:
        signal = self.registries.signals.create(name, self.settings)
        if not isinstance(signal, Signal):
            raise ConfigError(f"signal '{name}' does not implement the Signal protocol")
        return signal

    def _tagger(self) -> Tagger | None:
        clip = self.signals.get("clip")
        if not isinstance(clip, ModelSignal) or not clip.has_text or self.settings.models.tags <= 0:
            return None
        from lookalike.signals.tags import DEFAULT_VOCABULARY, Tagger

        models = self.settings.models
        words = [*(() if models.tag_vocabulary_only else DEFAULT_VOCABULARY), *models.tag_vocabulary]
        return Tagger(clip, words, models.tags)

    # ---- whitening ----------------------------------------------------------------------

    def _whitening_path(self, signal: Signal) -> Path:
        return self.home / INDEX_FOLDER / f"{signal.spec.name}.v{signal.spec.version}.whiten.npz"

    def _load_whitening(self) -> None:
        signal = self.signals.get("embedding")
        if not isinstance(signal, ModelSignal) or not self.settings.models.whiten:
            return
        path = self._whitening_path(signal)
        if path.exists():
            try:
                signal.whitening = Whitening.load(path)
            except (OSError, ValueError, KeyError):  # derived data: refit on request, never trust
                signal.whitening = None

    def fit_whitening(self, dim: int | None = None) -> dict[str, Any]:
        """Fit PCA whitening of the ``embedding`` signal on the collection and rebuild its index."""
        signal = self.signals.get("embedding")
        if not isinstance(signal, ModelSignal):
            raise ConfigError(
                "whitening needs the 'embedding' signal: add it to ingest.signals and set models.embedding"
            )
        rows = [
            signal.decode(p)[0]
            for batch in self.catalog.features.iterate("embedding", signal.spec.version)
            for _, p in batch
        ]
        keep = self.settings.models.whiten_dim if dim is None else dim
        if len(rows) < 2:
            raise InputError(
                Reason.NOT_AN_IMAGE,
                f"whitening needs at least 2 embedded images; the collection has {len(rows)}",
            )
        whitening = Whitening.fit(np.stack(rows).astype(np.float32), keep)
        path = self._whitening_path(signal)
        path.parent.mkdir(parents=True, exist_ok=True)
        whitening.save(path)
        signal.whitening = whitening if self.settings.models.whiten else None
        self.indexes.rebuild(["embedding"])
        return {
            "fitted_on": whitening.fitted_on,
            "dim": int(whitening.projection.shape[1]),
            "active": signal.whitening is not None,
        }

    def _index_factory(self) -> IndexFactory:
        """The backend of every signal's index: Milvus where ``vectors`` names one, else ``index.backend``."""
        name, uri = self.settings.index.backend, milvus_uri(self.settings.vectors, self.home)
        if name == "auto":
            name = "milvus" if uri else "faiss" if "faiss" in self.registries.indexes else "brute"
        if (name == "milvus") != (uri is not None):
            raise ConfigError(
                f"index.backend is {name!r} and vectors (LOOKALIKE_VECTORS) is {self.settings.vectors!r}: "
                "Milvus needs vectors set to 'milvus://host:19530' or a '.db' file, and index.backend "
                "'auto' or 'milvus'; other backends need vectors empty"
            )
        where = {"uri": uri} if uri else {}
        factory: IndexFactory = self.registries.indexes.create(name, self.settings.index, **where)  # type: ignore[assignment]
        return factory

    def _own_index_factories(self) -> dict[str, IndexFactory]:
        """Indexes of signals that name their own kind (``keypoints``: descriptors), unless the
        brute-force reference is asked for, which holds many rows per image as well."""
        if self.settings.index.backend == "brute":
            return {}
        found: dict[str, IndexFactory] = {}
        for name, signal in self.signals.items():
            if isinstance(signal, LocalSignal) and signal.index_backend in self.registries.indexes:
                found[name] = self.registries.indexes.create(signal.index_backend)  # type: ignore[assignment]
        return found

    def close(self) -> None:
        self.indexes.save()
        self.catalog.close()
        self.thumbs.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- adding and removing ------------------------------------------------------------

    def index(
        self,
        paths: Sequence[str | Path],
        metadata: str | Path | None = None,
        retire: bool = True,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Index files, folders and archives; unchanged files are skipped.

        With ``retire``, images under the given folders that are no longer there
        are removed.  ``metadata`` is a JSONL sidecar (see :func:`sources.load_metadata`).
        """
        _require(paths)
        sidecar = load_metadata(Path(metadata)) if metadata else None
        ingester = Ingester(
            self.catalog, self.signals, self.settings, self.indexes, self.thumbs, progress, self.originals
        )
        return ingester.run([Path(p) for p in paths], sidecar, retire)

    def add(self, data: bytes, where: Provenance) -> tuple[int, bool]:
        """Add one image's bytes; returns (image id, whether the content was new).

        Raises :class:`InputError` when the bytes are not a usable image.
        """
        from lookalike.ingest.pipeline import extract, with_tiles

        extracted = extract(data, where.uri, self.settings, self.signals)
        if extracted.failure is not None:
            raise InputError(extracted.failure.reason, extracted.failure.detail, where.uri)
        known = extracted.sha256 in self.catalog.images.known([extracted.sha256])
        every = [extracted, *(tile for _, tile in extracted.tiles)]
        self.thumbs.put([(ex.sha256, ex.thumbnail) for ex in every if ex.thumbnail])
        self.catalog.images.record(with_tiles([(where, extracted)]), None)
        # index files are written on close: until then a crash costs only a replay of the log
        self.indexes.catch_up()
        return self.catalog.images.ids_at(where.uri)[0], not known

    def backfill(
        self, names: Sequence[str] | None = None, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Compute the features of ``names`` (default: every signal) for indexed images that lack them.

        The bytes come from the kept original or the file or archive member the image
        was indexed from; metadata is not read again.  Resumable: each batch commits.
        """
        from lookalike.ingest.pipeline import extract_many

        chosen = {n: self.signals[n] for n in self._signal_names(names)}
        report: dict[str, Any] = {"computed": dict.fromkeys(chosen, 0), "unreadable": 0, "failed": 0}
        todo = sorted(
            {i for s in chosen.values() for i in self.catalog.features.missing(s.spec.name, s.spec.version)}
        )
        notify = progress or (lambda event, n: None)
        notify("files_total", len(todo))
        batch_size = max(self.settings.models.batch_size, 16)
        for start in range(0, len(todo), batch_size):
            items = []
            for image_id in todo[start : start + batch_size]:
                try:
                    data, uri = self.original(image_id)
                except NotFoundError:
                    report["unreadable"] += 1
                    continue
                items.append((image_id, data, uri))
            extracted = extract_many(
                [(str(i), d, u) for i, d, u in items], self.settings, chosen, tiles=False
            )
            for name, signal in chosen.items():
                rows = [
                    (image_id, ex.features[name][1])
                    for (image_id, _, _), ex in zip(items, extracted, strict=True)
                    if ex.failure is None
                ]
                report["computed"][name] += self.catalog.features.add(name, signal.spec.version, rows)
            report["failed"] += sum(1 for ex in extracted if ex.failure is not None)
            notify("file", len(todo[start : start + batch_size]))
        self.indexes.catch_up()
        return report

    def crawl(
        self,
        starts: Sequence[str],
        *,
        follow: str | None = None,
        files: str | None = None,
        max_pages: int | None = None,
        max_depth: int | None = None,
        max_bytes: int | None = None,
        recrawl: bool = False,
        progress: Progress | None = None,
        file_urls: Sequence[CrawlUrl] = (),
        lease: float | None = None,
    ) -> CrawlReport:
        """Crawl websites from ``starts`` and index the images and archives their pages link to.

        ``follow`` and ``files`` are regular expressions for the pages to walk and the
        file links to fetch (see :class:`crawl.Scope`); pending work from an earlier,
        interrupted crawl is continued.  ``recrawl`` fetches finished URLs again with
        conditional requests.  ``file_urls`` are files to fetch as well (see :meth:`index_urls`).
        ``lease``: seconds each claimed URL is this crawl's alone (default: ``worker.lease`` on a
        shared catalog, where other crawls and workers may run at once; none on the embedded one).
        """
        from lookalike.sources.crawl.crawler import Crawler, Politeness, Scope
        from lookalike.sources.crawl.pages import check_selectors
        from lookalike.sources.fetch import Fetcher

        if lease is None:  # other crawls and workers may share a shared catalog's frontier
            lease = self.settings.worker.lease if self.catalog.shared else 0.0

        try:
            scope = Scope.build(starts, self.settings.crawl, follow, files, max_depth)
        except re.error as exc:
            raise ConfigError(f"bad --follow or --files pattern: {exc}") from None
        try:
            check_selectors(self.settings.crawl.selectors)
        except ValueError as exc:
            raise ConfigError(f"setting 'crawl.selectors' (LOOKALIKE_CRAWL__SELECTORS): {exc}") from None
        self.indexes.open_all()
        ingester = Ingester(
            self.catalog, self.signals, self.settings, self.indexes, self.thumbs, progress, self.originals
        )
        with Fetcher(self.settings.fetch) as fetcher:
            politeness = Politeness(fetcher, self.settings.crawl, self.settings.fetch.user_agent)
            crawler = Crawler(
                self.catalog,
                ingester,
                fetcher,
                self.settings.crawl,
                self.settings.archive,
                politeness,
                progress,
                lease,
            )
            report = crawler.run(starts, scope, recrawl, max_pages, file_urls, max_bytes)
        self.catalog.images.sweep()  # content that a URL showed before it changed
        self.indexes.catch_up()
        return report

    def index_urls(self, urls: str | Path, progress: Progress | None = None) -> CrawlReport:
        """Fetch and index a list of image (or archive) URLs: a text file, one URL or JSON object per line.

        The URLs join the crawl frontier, so the same fetcher, limits, robots.txt, retries
        and resumability apply, and a URL indexed before is not fetched again.
        """
        from lookalike.sources.files import load_urls

        return self.crawl([], file_urls=load_urls(Path(urls)), progress=progress)

    # ---- the job queue (lookalike worker) -------------------------------------------------

    def enqueue(self, paths: Sequence[str | Path]) -> int:
        """Queue every file under ``paths`` for ``lookalike worker`` processes; returns how many."""
        from lookalike.sources.files import walk

        _require(paths)
        entries, queued = walk([Path(p) for p in paths], exclude=[self.settings.home]), 0
        while chunk := [(entry.path, None) for entry in itertools.islice(entries, 5000)]:
            queued += self.catalog.jobs.add("file", chunk)  # a transaction per chunk: any size of tree
        return queued

    def enqueue_crawl(self, starts: Sequence[str], recrawl: bool = False, **options: Any) -> int:
        """Queue a crawl that every worker joins (they share the frontier); ``options`` as :meth:`crawl`."""
        from lookalike.sources.crawl.crawler import Scope

        try:
            Scope.build(starts, self.settings.crawl, options.get("follow"), options.get("files"), None)
        except re.error as exc:
            raise ConfigError(f"bad --follow or --files pattern: {exc}") from None
        if recrawl:
            self.catalog.frontier.reset()
        chosen = {k: v for k, v in options.items() if v is not None}
        return self.catalog.jobs.add("crawl", [(" ".join(starts), {"starts": list(starts), **chosen})])

    def jobs(self) -> dict[str, Any]:
        """The job queue: jobs by kind and state, and the latest failures."""
        return {"jobs": self.catalog.jobs.counts(), "failures": self.catalog.jobs.failures(20)}

    def crawl_status(self) -> dict[str, Any]:
        """The crawl frontier: URLs by kind and state, and the latest failures."""
        return {"urls": self.catalog.frontier.counts(), "failures": self.catalog.frontier.failures(20)}

    def remove(self, target: int | str) -> list[int]:
        """Remove an image by id, or everything seen at a path, folder, archive or URL."""
        if isinstance(target, int):
            if not self.catalog.images.remove(target):
                raise NotFoundError(f"no image with id {target}")
            removed = [target]
        else:
            location = str(Path(target).resolve()) if "://" not in target else target
            if not self.catalog.images.ids_at(location):
                raise NotFoundError(f"nothing indexed at {target}")
            with self.catalog.transaction():
                self.catalog.images.forget(location)
                self.catalog.scans.forget(location)
                removed = self.catalog.images.sweep()
        self.indexes.catch_up()
        return removed

    def rebuild(self) -> dict[str, int]:
        """Rebuild every index from the catalog's features."""
        return self.indexes.rebuild()

    # ---- searching ----------------------------------------------------------------------

    def search(
        self,
        image: bytes | str | Path | None = None,
        *,
        text: str | None = None,
        image_id: int | None = None,
        k: int | None = None,
        signals: Sequence[str] | None = None,
        collapse: bool = True,
    ) -> list[Result]:
        """Search by image (bytes, a path or an http(s) URL), by an indexed id, by words, or both."""
        names = self._signal_names(signals)
        if image is not None and image_id is not None:
            raise InputError(Reason.NOT_AN_IMAGE, "give an image or an id, not both")
        rerankers = self._rerankers(names) if image is not None or image_id is not None else []
        vectors: dict[str, np.ndarray] = {}
        if image_id is not None:
            vectors = self._stored_vectors(image_id, [*names, *rerankers])
        elif image is not None:
            data = self._image_bytes(image)
            decoded = self._decode_query(data, image if isinstance(image, str) else None)
            vectors = {name: self.signals[name].query(decoded) for name in [*names, *rerankers]}
        rerank = {name: vectors.pop(name) for name in rerankers if name in vectors}
        if not vectors and not text:
            raise InputError(Reason.NOT_AN_IMAGE, "a search needs an image, an id or some words")
        text_vectors = self._text_vectors(text, names) if text else {}
        exclude = {image_id} if image_id is not None else set()
        return self.planner.search(vectors, text, k, exclude, collapse, rerank, text_vectors)

    def _text_vectors(self, text: str, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Words embedded by each searched signal with a text tower (CLIP); none: keyword search only."""
        found = {}
        for name in names:
            signal = self.signals[name]
            if isinstance(signal, ModelSignal) and signal.has_text:
                found[name] = signal.embed_text([text])
        return found

    def _rerankers(self, names: Sequence[str]) -> list[str]:
        """Local signals that re-rank a query's results (``search.rerank_keypoints``) without being searched."""
        if not self.settings.search.rerank_keypoints:
            return []
        return [n for n, s in self.signals.items() if n not in names and isinstance(s, LocalSignal)]

    def similar(
        self, image_id: int, k: int | None = None, signals: Sequence[str] | None = None
    ) -> list[Result]:
        """Images that look like the indexed image ``image_id`` (itself excluded)."""
        return self.search(image_id=image_id, k=k, signals=signals)

    def _signal_names(self, signals: Sequence[str] | None) -> list[str]:
        names = list(signals or self.settings.search.signals or self.signals)
        unknown = [n for n in names if n not in self.signals]
        if unknown:
            raise ConfigError(
                f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(sorted(self.signals))}"
            )
        return names

    def _stored_vectors(self, image_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        info = self.catalog.images.get(image_id)
        if info is None:
            raise NotFoundError(f"no image with id {image_id}")
        vectors = {}
        for name in names:
            signal = self.signals[name]
            payload = self.catalog.features.get(name, signal.spec.version, [image_id]).get(image_id)
            if payload is not None:
                vectors[name] = signal.decode(payload)
        local = [n for n in vectors if isinstance(self.signals[n], LocalSignal)]
        if local:  # a local signal's query also holds the mirrored image's keypoints: from the pixels
            vectors.update(self._local_queries(image_id, local))
        return vectors

    def _decode_query(self, data: bytes, uri: str | None) -> DecodedImage:
        """A query image decoded at the size ingest decodes at, so its features agree with stored ones."""
        return decode(data, self.settings.decode, uri, decode_size(self.settings, self.signals))

    def _local_queries(self, image_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Query features of local signals made from the image itself, when its bytes are still at hand."""
        try:
            data, uri = self.original(image_id)
        except NotFoundError:
            return {}  # the stored feature still finds unmirrored crops
        decoded = self._decode_query(data, uri)
        return {name: self.signals[name].query(decoded) for name in names}

    def _image_bytes(self, image: bytes | str | Path) -> bytes:
        if isinstance(image, bytes):
            return image
        text = str(image)
        if text.startswith(("http://", "https://")):
            from lookalike.sources.fetch import Fetcher

            with Fetcher(self.settings.fetch) as fetcher:
                return fetcher.get(text).data
        path = Path(text)
        if not path.is_file():
            raise NotFoundError(f"no such image file: {text}")
        if path.stat().st_size > self.settings.decode.max_bytes:
            raise InputError(
                Reason.TOO_LARGE, f"larger than decode.max_bytes={self.settings.decode.max_bytes}", text
            )
        return path.read_bytes()

    # ---- looking around -----------------------------------------------------------------

    def info(self, image_id: int) -> dict[str, Any]:
        """An image's facts, every place it was seen, and which features it has."""
        image = self.catalog.images.get(image_id)
        if image is None:
            raise NotFoundError(f"no image with id {image_id}")
        places = self.catalog.images.occurrences([image_id])[image_id]
        features = {
            name: s.spec.version
            for name, s in self.signals.items()
            if self.catalog.features.get(name, s.spec.version, [image_id])
        }
        return {
            "image": image.__dict__,
            "occurrences": [{k: v for k, v in o.__dict__.items() if v not in (None, (), {})} for o in places],
            "features": features,
        }

    def thumbnail(self, image_id: int) -> bytes | None:
        """The thumbnail made at ingest (JPEG, or PNG for small images), if there is one."""
        image = self.catalog.images.get(image_id)
        if image is None:
            raise NotFoundError(f"no image with id {image_id}")
        return self.thumbs.get(image.sha256)

    def original(self, image_id: int) -> tuple[bytes, str]:
        """The image's own bytes and where they were seen: the kept original (``ingest.originals``,
        by default for images fetched from URLs), else the first place that still has them.

        Only local files and archive members that were indexed are read; the bytes
        must still hash to the image's content.
        """
        image = self.catalog.images.get(image_id)
        if image is None:
            raise NotFoundError(f"no image with id {image_id}")
        places = self.catalog.images.occurrences([image_id])[image_id]
        kept = self.originals.get(image.sha256)
        if kept is not None and places:
            return kept, places[0].uri
        for place in places:
            if place.file is None or not Path(place.file).is_file():
                continue
            st = Path(place.file).stat()
            entry = FileEntry(place.file, st.st_size, st.st_mtime)
            for item in blobs(entry, self.settings.archive):
                if isinstance(item, Blob) and item.where.uri == place.uri:
                    if hashlib.sha256(item.data).hexdigest() == image.sha256:
                        return item.data, place.uri
                    break
        raise NotFoundError(f"image {image_id} is no longer at any place it was indexed from")

    def stats(self) -> dict[str, Any]:
        """Counts, failures by reason, index sizes and disk use."""
        self.indexes.open_all()
        stats = self.catalog.stats()
        stats["indexes"] = self.indexes.describe()
        stats["disk_bytes"] = _disk_use(self.home)
        stats["home"] = str(self.home)
        stats["catalog"] = self.catalog.describe()
        jobs = self.catalog.jobs.counts()
        if any(n for counts in jobs.values() for n in counts.values()):
            stats["jobs"] = jobs
        return stats

    def dupes(self, max_bits: int | None = None) -> list[dict[str, Any]]:
        """Groups of exact copies (one content, several places) and near-identical images."""
        bits = self.settings.search.collapse_bits if max_bits is None else max_bits
        parent: dict[int, int] = {}

        def find(i: int) -> int:
            while parent.setdefault(i, i) != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        signal, index = self.signals["phash"], self.indexes.get("phash")
        for batch in self.catalog.features.iterate("phash", signal.spec.version, batch=4096):
            ids = np.array([i for i, _ in batch], dtype=np.int64)
            rows = np.stack([signal.decode(p)[0] for _, p in batch])
            dist, found = index.search_batch(rows, 16)
            for row, image_id in enumerate(ids):
                for d, other in zip(dist[row], found[row], strict=True):
                    if other >= 0 and other != image_id and d <= bits:
                        parent[find(int(other))] = find(int(image_id))
        groups: dict[int, list[int]] = {}
        for image_id in parent:
            groups.setdefault(find(image_id), []).append(image_id)
        multi = {
            i
            for i, places in self.catalog.images.occurrences(self.catalog.images.ok_ids()).items()
            if len(places) > 1
        }
        for image_id in multi - set(parent):
            groups[image_id] = [image_id]
        return self._describe_groups(sorted(groups.values(), key=lambda g: (-len(g), min(g))), signal)

    def _describe_groups(self, groups: list[list[int]], signal: Signal) -> list[dict[str, Any]]:
        every = [i for g in groups for i in g]
        places = self.catalog.images.occurrences(every)
        stored = self.catalog.features.get("phash", signal.spec.version, every)
        described = []
        for group in groups:
            group = sorted(group)
            first = signal.decode(stored[group[0]])[:1]
            rows = np.stack([signal.decode(stored[i])[0] for i in group])
            d = distances(signal.spec.metric, first, rows)[0]
            described.append(
                {
                    "images": [
                        {"id": i, "distance": int(d[j]), "locations": [o.uri for o in places[i]]}
                        for j, i in enumerate(group)
                    ],
                    "kind": "exact" if len(group) == 1 else "near",
                }
            )
        return described


def _require(paths: Sequence[str | Path]) -> None:
    """Raise :class:`NotFoundError` naming every path of ``paths`` that is not there."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise NotFoundError(f"no such file or folder: {', '.join(missing)}")


def _disk_use(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we count
                total += os.path.getsize(os.path.join(root, name))
    return total
