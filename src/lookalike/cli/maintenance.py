"""Looking after the collection: ``remove``, ``info``, ``stats``, ``rebuild``, ``jobs``,
``migrate`` and ``doctor``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from lookalike.cli.common import DataOption, JsonOption, opened, usage_error
from lookalike.cli.progress import file_progress
from lookalike.cli.render import Lines, Table, readable, show
from lookalike.collection import Collection
from lookalike.records import is_internal_field

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    for command in (remove, info, stats, rebuild, doctor, jobs, migrate):
        app.command()(command)


def remove(
    target: Annotated[str, typer.Argument(help="An image id, or a path, folder, archive or URL.")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove an image by id, or everything indexed from a path."""
    with opened(data) as collection:
        removed = collection.remove(int(target) if target.isdigit() else target)
        show({"removed": removed}, REMOVED, as_json=as_json)


REMOVED = Lines[dict[str, list[int]]](lambda done: [f"removed {len(done['removed'])} image(s)"])


def info(
    image_id: Annotated[int, typer.Argument(help="Id of an indexed image.")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an image's facts, every place it was seen, and its features."""
    with opened(data) as collection:
        show(collection.info(image_id), Lines(_info_lines), as_json=as_json)


def _info_lines(facts: dict[str, Any]) -> list[str]:
    image = facts["image"]
    size = f"{image['width']}x{image['height']} {image['format']} {image['mode']}"
    lines = [
        f"[bold]image {image['id']}[/] {escape(size)}, {_bytes(image['bytes'])}, sha256 {image['sha256']}",
        f"features: {', '.join(f'{k} v{v}' for k, v in facts['features'].items()) or 'none'}",
        *(f"[yellow]{flag}[/]: {escape(reason)}" for flag, reason in facts.get("flags", {}).items()),
    ]
    for item in facts.get("texts", []):
        lines.append(f"{escape(item['signal'])} read: {escape(str(item.get('text', '')))}")
    lines.append(f"seen at {len(facts['occurrences'])} place(s):")
    for o in facts["occurrences"]:
        lines.append(f"  {escape(o['uri'])}")
        if o.get("status") == "failed":
            lines.append(f"    failed: {escape(str(o.get('reason')))} {escape(str(o.get('detail') or ''))}")
        shown = {key: o[key] for key in ("title", "url", "page_url", "tags", "text") if o.get(key)}
        extra = {k: v for k, v in (o.get("extra") or {}).items() if not is_internal_field(k)}
        lines += _fields({**shown, **extra}, "    ")
    return lines


def _fields(fields: dict[str, Any], indent: str) -> list[str]:
    """Metadata as ``key: value`` lines: a list as 'a, b, c', a dict as indented lines of its own."""
    lines = []
    for key, value in fields.items():
        if isinstance(value, dict):
            lines += [f"{indent}{escape(str(key))}:", *_fields(value, indent + "  ")]
        else:
            lines.append(f"{indent}{escape(str(key))}: {escape(readable(value))}")
    return lines


def _bytes(n: int) -> str:
    return f"{n} bytes" if n < 10_000 else f"{n / 1e3:.0f} kB" if n < 10_000_000 else f"{n / 1e6:.1f} MB"


FailuresOption = Annotated[
    bool,
    typer.Option("--failures", help="List failed files, and images a signal could not read, with reasons."),
]


def stats(failures: FailuresOption = False, data: DataOption = None, as_json: JsonOption = False) -> None:
    """Counts, failures by reason, index sizes and disk use."""
    with opened(data) as collection:
        facts = collection.stats()
        if failures:
            facts["failure_list"] = collection.catalog.images.failures(limit=1000)
            facts["signal_failure_list"] = collection.catalog.features.failures(limit=1000)
        show(facts, Lines(_stats_lines), as_json=as_json)


def _stats_lines(facts: dict[str, Any]) -> list[str]:
    return [
        f"[bold]{escape(facts['home'])}[/] (catalog: {escape(facts['catalog'])})",
        f"images {facts['images']}, places {facts['occurrences']}, failed {facts['failed']}, "
        f"disk {facts['disk_bytes'] / 1e6:.1f} MB, catalog {facts['catalog_bytes'] / 1e6:.1f} MB",
        *(f"  failed [yellow]{reason}[/]: {count}" for reason, count in facts["failures_by_reason"].items()),
        *(
            [
                f"  tiles {facts['tiles']} cut from {facts['sheets']} sheets (found as their sheets; ingest.tiles)"
            ]
            if facts.get("tiles")
            else []
        ),
        *(
            f"  [yellow]{signal}[/] could not read {count} images (kept without it; `index --signals {signal}` "
            "tries again)"
            for signal, count in facts.get("signal_failures", {}).items()
        ),
        *(_flag_line(flag, reasons) for flag, reasons in facts.get("flags", {}).items()),
        *_crop_lines(facts.get("crop_search")),
        *(_index_line(name, index) for name, index in facts["indexes"].items()),
        *_job_lines(facts.get("jobs", {})),
        *(
            escape(f"  {item['reason']}\t{item['uri']}\t{item['detail']}")
            for item in facts.get("failure_list", [])
        ),
        *(
            escape(f"  {item['signal']} failed\t{item['uri']}\t{item['detail']}")
            for item in facts.get("signal_failure_list", [])
        ),
    ]


def _crop_lines(crops: dict[str, Any] | None) -> list[str]:
    """Whether crop search works (keypoints indexed), or what it lacks and how to turn it on."""
    if not crops:
        return []
    if crops["note"]:
        return [f"  [yellow]{escape(crops['note'][:1].upper() + crops['note'][1:])}.[/]"]
    return [f"  crop search on: {crops['signal']} of {crops['covered']} images"]


def _flag_line(flag: str, reasons: dict[str, int]) -> str:
    """'junk 3 images (left out of results): blank 2, spacer 1'."""
    by_reason = ", ".join(f"{reason} {n}" for reason, n in reasons.items())
    return f"  {flag} {sum(reasons.values())} images (left out of results): {by_reason}"


def _index_line(name: str, index: dict[str, Any]) -> str:
    size = "on its server" if index["bytes"] is None else f"{index['bytes'] / 1e6:.2f} MB"
    return f"index {name}: {index['vectors']} vectors, {size} ({index['backend']})"


def _job_lines(jobs: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{kind} jobs: " + ", ".join(f"{n} {state}" for state, n in counts.items())
        for kind, counts in jobs.items()
    ]


def rebuild(data: DataOption = None, as_json: JsonOption = False) -> None:
    """Rebuild every index from the catalog (the catalog is the truth)."""
    with opened(data) as collection:
        show(collection.rebuild(), REBUILT, as_json=as_json)


REBUILT = Lines[dict[str, int]](lambda counts: [f"index {name}: {n} vectors" for name, n in counts.items()])


def doctor(as_json: JsonOption = False) -> None:
    """What is installed, which optional parts are missing, and how to add them."""
    from lookalike.app import discover
    from lookalike.usecases.doctor import checks

    show(checks(discover()), DOCTOR, as_json=as_json)


def _doctor_row(item: dict[str, Any]) -> tuple[str, str, str]:
    mark = "[green]ok[/]" if item["ok"] else "[yellow]missing[/]"
    detail = item["detail"] + (f"\n→ {item['fix']}" if not item["ok"] and item.get("fix") else "")
    return mark, escape(item["name"]), escape(detail)  # "pip install 'lookalike[ocr]'" keeps its [ocr]


DOCTOR = Table[list[dict[str, Any]]](
    ("status", "part", "detail"),
    lambda found: [_doctor_row(item) for item in found],
    piped=lambda found: [
        (
            "ok" if item["ok"] else "missing",
            item["name"],
            item["detail"],
            "" if item["ok"] else item.get("fix") or "",
        )
        for item in found
    ],
    plain=True,
)


def jobs(data: DataOption = None, as_json: JsonOption = False) -> None:
    """The job queue: files and crawls by state (pending, running, done, failed), latest failures."""
    with opened(data) as collection:
        status = collection.jobs()
    show(status, Lines(_jobs_lines), as_json=as_json)


def _jobs_lines(status: dict[str, Any]) -> list[str]:
    failures = (escape(f"  failed\t{item['key']}\t{item['last_error']}") for item in status["failures"])
    return [*_job_lines(status["jobs"]), *failures]


CatalogOption = Annotated[
    str | None, typer.Option(help="The target catalog, e.g. postgresql://user@host/db [default: the same].")
]
VectorsOption = Annotated[
    str | None, typer.Option(help="The target vectors, e.g. milvus://host:19530 [default: the same].")
]


def migrate(
    catalog: CatalogOption = None,
    vectors: VectorsOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the collection to other backends (SQLite+FAISS to PostgreSQL+Milvus) without recomputing.

    Copies every catalog row with its id, the thumbnails, then builds the target's indexes from the
    copied features. Running it again after a stop finishes the copy. Afterwards, set
    LOOKALIKE_CATALOG and LOOKALIKE_VECTORS to the targets.
    """
    if catalog is None and vectors is None:
        usage_error("name a target: --catalog URL and/or --vectors URI")
    targets = {k: v for k, v in {"catalog": catalog, "vectors": vectors}.items() if v is not None}
    with opened(data) as source:
        done = _copy(source, targets, as_json)
    show((done, targets), Lines(_migrated), as_json=as_json, data=lambda shown: shown[0])


def _copy(source: Collection, targets: dict[str, str], as_json: bool) -> dict[str, Any]:
    from lookalike.app import build
    from lookalike.usecases.migrate import migrate as run_migration

    settings = source.settings.model_copy(update=targets)
    with Collection(build(settings)) as target, file_progress(as_json, "copying") as update:
        return run_migration(source.app, target.app, update and (lambda table, n: update("file", n)))


def _migrated(shown: tuple[dict[str, Any], dict[str, str]]) -> list[str]:
    done, targets = shown
    copied = ", ".join(f"{n} {table}" for table, n in done["copied"].items()) or "nothing (same catalog)"
    env = " ".join(f"LOOKALIKE_{k.upper()}={v}" for k, v in targets.items())
    return [
        f"copied {copied}",
        "indexes built: " + ", ".join(f"{name} {n}" for name, n in done["indexes"].items()),
        f"now use the new backends: {env}",
    ]
