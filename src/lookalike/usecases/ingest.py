"""Adding images: index files, folders, archives and plugin sources; add one image; backfill signals."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lookalike.app import App, make_signals
from lookalike.errors import InputError, NotFoundError
from lookalike.ingest.extract import extract, with_tiles
from lookalike.ingest.pipeline import Ingester, IngestReport, Progress
from lookalike.ingest.workers import Extractor
from lookalike.records import Extracted, Provenance
from lookalike.signals import SignalSet
from lookalike.sources.files import load_metadata, walk
from lookalike.usecases.originals import original

__all__ = [
    "SIDECAR",
    "add",
    "backfill",
    "compute",
    "enqueue",
    "enqueue_backfill",
    "index",
    "ingester",
    "lacking",
    "missing",
    "require",
    "sidecars_in",
]

#: A sidecar of this name at the top of an indexed folder is applied without ``--metadata``.
SIDECAR = "metadata.jsonl"


def ingester(app: App, progress: Progress | None = None) -> Ingester:
    """The ingest pipeline over the collection's parts (worker processes make their own signals)."""
    return Ingester(
        app.catalog, app.signals, app.settings, app.indexes, app.thumbs, progress, app.originals, make_signals
    )


def index(
    app: App,
    targets: Sequence[str | Path],
    metadata: str | Path | None = None,
    retire: bool = True,
    progress: Progress | None = None,
) -> IngestReport:
    """Index files, folders and archives (unchanged files are skipped), and the targets of plugin sources.

    With ``retire``, images under the given folders that are no longer there are
    removed.  ``metadata`` is a JSONL sidecar (see :func:`lookalike.sources.files.load_metadata`);
    without it, a ``metadata.jsonl`` at the top of an indexed folder is applied.  Targets that are
    not there are left out and listed in the report's ``missing`` (all of them: :class:`NotFoundError`).
    """
    paths, sourced, missing = _split(app, targets)
    sidecars = [Path(metadata)] if metadata else sidecars_in(paths)
    sidecar = {uri: where for file in sidecars for uri, where in load_metadata(file).items()}
    pipeline = ingester(app, progress)
    report = (
        pipeline.run([Path(p) for p in paths], sidecar, retire) if paths or not sourced else IngestReport()
    )
    report.missing, report.metadata = missing, [str(file) for file in sidecars]
    for target, source in sourced:
        pipeline.add_blobs(source.items(target, app.settings), report)
    if sourced:
        pipeline.close()
        app.indexes.catch_up()
        app.indexes.save()
    return report


def sidecars_in(paths: Sequence[str | Path]) -> list[Path]:
    """The ``metadata.jsonl`` files at the top of the folders among ``paths``."""
    return [Path(p) / SIDECAR for p in paths if (Path(p) / SIDECAR).is_file()]


def _split(app: App, targets: Sequence[str | Path]) -> tuple[list[str], list[tuple[str, Any]], list[str]]:
    """Paths on this machine, the targets a registered source accepts, and the rest (missing):
    :class:`NotFoundError` when nothing is left to index."""
    paths, sourced, missing = [], [], []
    for target in map(str, targets):
        if Path(target).exists():
            paths.append(target)
            continue
        source = next((p.value for p in app.plugins.sources.parts.values() if p.value.accepts(target)), None)
        if source is None:
            missing.append(target)
        else:
            sourced.append((target, source))
    if missing and not paths and not sourced:
        raise NotFoundError(f"no such file or folder: {', '.join(missing)}")
    return paths, sourced, missing


def add(app: App, data: bytes, where: Provenance) -> tuple[int, bool]:
    """Add one image's bytes; returns (image id, whether the content was new).

    Raises :class:`InputError` when the bytes are not a usable image.
    """
    extracted = extract(data, where.uri, app.settings, app.signals)
    if extracted.failure is not None:
        raise InputError(extracted.failure.reason, extracted.failure.detail, where.uri)
    known = extracted.sha256 in app.catalog.images.known([extracted.sha256])
    every = [extracted, *(tile for _, tile in extracted.tiles)]
    app.thumbs.put([(ex.sha256, ex.thumbnail) for ex in every if ex.thumbnail])
    app.catalog.images.record(with_tiles([(where, extracted)]), None)
    # index files are written on close: until then a crash costs only a replay of the log
    app.indexes.catch_up()
    return app.catalog.images.ids_at(where.uri)[0], not known


def backfill(
    app: App, names: Sequence[str] | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Compute the features of ``names`` (default: every signal) for indexed images that lack them.

    The bytes come from the kept original or the file or archive member the image
    was indexed from; metadata is not read again.  Extraction runs in ``ingest.workers``
    processes, one batch while the one before is committed.  Resumable: each batch
    commits.  An image a signal cannot read is recorded with why (``stats``) and the
    pass goes on; the next backfill tries it again.
    """
    chosen = SignalSet({n: app.signals[n] for n in signal_names(app, names)})
    return compute(app, chosen, missing(app, chosen), progress)


def compute(
    app: App, chosen: SignalSet, ids: Sequence[int], progress: Progress | None = None
) -> dict[str, Any]:
    """:func:`backfill` of the ``chosen`` signals for ``ids`` (a worker's job: see :func:`lacking`)."""
    report: dict[str, Any] = {
        "computed": dict.fromkeys(chosen, 0),
        "signal_failed": dict.fromkeys(chosen, 0),  # images a signal could not read
        "unreadable": 0,  # no longer found where they were indexed from
        "failed": 0,  # no longer decode
    }
    todo = list(ids)
    notify = progress or (lambda event, n: None)
    notify("files_total", len(todo))
    extractor = Extractor(app.settings, chosen, make_signals, tiles=False, thumbnails=False)
    size = app.settings.ingest.batch_size
    pending: _Backfill | None = None
    try:
        for start in range(0, len(todo), size):
            started = _start(app, extractor, todo[start : start + size], report)
            if pending is not None:
                notify("file", _finish(app, chosen, pending, report))
            pending = started
        if pending is not None:
            notify("file", _finish(app, chosen, pending, report))
    finally:
        extractor.close()
    app.indexes.catch_up()
    return report


def lacking(app: App, chosen: SignalSet, ids: Sequence[int]) -> list[int]:
    """Those of ``ids`` that lack a feature of one of the ``chosen`` signals."""
    features = app.catalog.features
    have = [features.having(s.spec.name, s.spec.version, ids) for s in chosen.values()]
    return sorted(i for i in set(ids) if not all(i in done for done in have))


def enqueue_backfill(app: App, names: Sequence[str]) -> dict[str, int]:
    """Queue the images that lack one of the signals ``names`` as jobs of ``worker.batch`` images
    for ``lookalike worker`` processes; returns how many jobs and images."""
    chosen = sorted(signal_names(app, names))
    todo = missing(app, SignalSet({n: app.signals[n] for n in chosen}))
    size = app.settings.worker.batch
    jobs = [
        (f"{'+'.join(chosen)}:{part[0]}-{part[-1]}", {"signals": chosen, "ids": part})
        for part in (todo[i : i + size] for i in range(0, len(todo), size))
    ]
    queued = sum(app.catalog.jobs.add("backfill", jobs[i : i + 5000]) for i in range(0, len(jobs), 5000))
    return {"queued": queued, "images": len(todo)}


def missing(app: App, chosen: SignalSet) -> list[int]:
    """Usable images that lack a feature of one of the ``chosen`` signals, in id order."""
    return sorted(
        {i for s in chosen.values() for i in app.catalog.features.missing(s.spec.name, s.spec.version)}
    )


@dataclass
class _Backfill:
    """A batch of a backfill on its way: image ids by key, and their extraction."""

    ids: dict[str, int]
    futures: dict[str, Future[list[Extracted]]]


def _start(app: App, extractor: Extractor, ids: Sequence[int], report: dict[str, Any]) -> _Backfill:
    work, keys = [], {}
    for image_id in ids:
        try:
            data, uri = original(app, image_id)
        except NotFoundError:
            report["unreadable"] += 1
            continue
        keys[str(image_id)] = image_id
        work.append((str(image_id), data, uri))
    return _Backfill(keys, extractor.submit(work))


def _finish(app: App, chosen: SignalSet, pending: _Backfill, report: dict[str, Any]) -> int:
    """Commit a batch's features, texts and failures; returns how many images it held."""
    extracted = {ex.sha256: ex for future in set(pending.futures.values()) for ex in future.result()}
    done = [(pending.ids[key], ex) for key, ex in extracted.items() if ex.failure is None]
    for name, signal in chosen.items():
        rows = [(image_id, ex.features[name][1]) for image_id, ex in done if name in ex.features]
        failed = [
            (image_id, ex.signal_failures[name][1]) for image_id, ex in done if name in ex.signal_failures
        ]
        report["computed"][name] += app.catalog.features.add(name, signal.spec.version, rows, failed)
        report["signal_failed"][name] += len(failed)
    for name in chosen.texts():
        for image_id, ex in done:
            if name in ex.features:
                app.catalog.texts.replace(image_id, name, ex.texts.get(name, ()))
    for name in chosen.flags():
        app.catalog.flags.replace(name, [(i, ex.flags.get(name)) for i, ex in done if name in ex.features])
    report["failed"] += len(extracted) - len(done)
    return len(pending.ids)


def enqueue(app: App, paths: Sequence[str | Path]) -> int:
    """Queue every file under ``paths`` for ``lookalike worker`` processes; returns how many."""
    require(paths)
    entries, queued = (
        walk(
            [Path(p) for p in paths], exclude=[app.settings.home], follow=app.settings.ingest.follow_symlinks
        ),
        0,
    )
    while chunk := [(entry.path, None) for entry in itertools.islice(entries, 5000)]:
        queued += app.catalog.jobs.add("file", chunk)  # a transaction per chunk: any size of tree
    return queued


def signal_names(app: App, signals: Sequence[str] | None) -> list[str]:
    """The signals a command names (default: ``search.signals``, else every signal); unknown ones fail."""
    from lookalike.errors import ConfigError

    names = list(signals or app.settings.search.signals or app.signals)
    unknown = [n for n in names if n not in app.signals]
    if unknown:
        raise ConfigError(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(sorted(app.signals))}")
    return names


def require(paths: Sequence[str | Path]) -> None:
    """Raise :class:`NotFoundError` naming every path of ``paths`` that is not there."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise NotFoundError(f"no such file or folder: {', '.join(missing)}")
