"""Acting on duplicates: move, link or trash every file of a group but the one kept.

:func:`plan` turns the groups of :func:`lookalike.usecases.dupes.dupes` into actions on
files; nothing happens until :func:`apply`.  Only plain files on this machine are
touched: a place inside an archive or at a URL is skipped with its reason.  In an
``exact`` group (one content at several places) the first place is kept; in a ``copy``
group the kept image's first place, and every place of the other images is acted on.

Every action is written to an undo log (JSON lines in the data folder's ``undo/``)
before the catalog learns of it; :func:`undo` puts the files back.  A trashed file goes
to the desktop trash (freedesktop.org's, where the file manager can restore it too);
a linked file is first moved into the log's own folder, so undoing it restores the
bytes, not a link.  The catalog follows: a file moved out of the collection or trashed
is removed from it; a linked file is indexed again (it is now the kept content).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from lookalike.app import App
from lookalike.errors import InputError, NotFoundError, Reason
from lookalike.records import Occurrence
from lookalike.sources.files import fs_path

__all__ = ["Action", "apply", "plan", "undo"]

Mode = Literal["move", "link", "trash"]


@dataclass(frozen=True)
class Action:
    """One file to act on: ``source`` goes to ``target`` (move) or becomes a link to ``keep``."""

    kind: Mode
    source: str
    keep: str
    target: str | None = None
    image_id: int = 0
    bytes: int = 0


def plan(
    app: App, groups: Sequence[dict[str, Any]], mode: Mode, move_to: Path | None = None
) -> dict[str, Any]:
    """The actions on the groups' files, and the places skipped with why; nothing is touched."""
    if mode == "move" and move_to is None:
        raise InputError(
            Reason.NOT_A_FILE, "moving duplicates needs a folder to move them to (--move-to DIR)"
        )
    ids = [image["id"] for group in groups for image in group["images"]]
    places = app.catalog.images.occurrences(ids)
    roots = _roots(app)
    actions: list[Action] = []
    skipped: list[dict[str, str]] = []
    for group in groups:
        ordered = [
            o for image in group["images"] for o in places.get(image["id"], []) if o.image_id is not None
        ]
        kept = [o for o in ordered if o.image_id == group["keep"]]
        keep = next((o for o in kept if _local(o) is None), None)
        if keep is None:
            skipped += [{"location": o.uri, "why": "the kept image is not a file here"} for o in ordered]
            continue
        for o in ordered:
            if o is keep:
                continue
            why = _local(o)
            if why is not None:
                skipped.append({"location": o.uri, "why": why})
                continue
            target = (
                str(_target(Path(fs_path(o.uri)), roots, move_to)) if mode == "move" and move_to else None
            )
            size = Path(fs_path(o.uri)).stat().st_size
            actions.append(Action(mode, o.uri, keep.uri, target, int(o.image_id or 0), size))
    return {
        "mode": mode,
        "actions": [asdict(a) for a in actions],
        "skipped": skipped,
        "files": len(actions),
        "bytes": sum(a.bytes for a in actions),
    }


def _local(o: Occurrence) -> str | None:
    """Why a place cannot be acted on, or None for a plain file here."""
    if o.member is not None or o.box is not None:
        return "inside an archive or a sheet: archives are never changed"
    if "://" in o.uri:
        return "at a URL: remote files are never changed"
    if not Path(fs_path(o.uri)).is_file():
        return "no longer there"
    return None


def _roots(app: App) -> list[Path]:
    folders = {Path(fs_path(r)) for scan in app.catalog.scans.recent(100) for r in scan["roots"]}
    return sorted((p for p in folders if p.is_dir()), key=lambda p: -len(p.parts))


def _target(path: Path, roots: list[Path], folder: Path) -> Path:
    """Where a moved file goes: its path under the indexed folder that holds it, under ``folder``."""
    for root in roots:
        if path.is_relative_to(root):
            return folder / root.name / path.relative_to(root)
    return folder / path.name


def apply(
    app: App, actions: Sequence[dict[str, Any]], link: Literal["hard", "symbolic"] = "hard"
) -> dict[str, Any]:
    """Carry out planned actions, logging each for :func:`undo`; returns the log and counts."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = app.home / "undo" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "undo.jsonl"
    done, failed = 0, []
    with log.open("a", encoding="utf-8") as out:
        for n, action in enumerate(actions):
            try:
                entry = _act(Action(**action), folder / "files" / str(n), link)
            except OSError as exc:
                failed.append({"location": action["source"], "why": str(exc)})
                continue
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())
            done += 1
    _follow(app, [Action(**a) for a in actions], failed)
    return {"done": done, "failed": failed, "undo_log": str(log)}


def _act(action: Action, spare: Path, link: str) -> dict[str, Any]:
    source = Path(fs_path(action.source))
    if action.kind == "move":
        target = Path(action.target or "")
        if target.exists():
            raise FileExistsError(f"{target} is already there")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return {"op": "move", "from": str(source), "to": str(target)}
    if action.kind == "trash":
        trashed = _trash(source, spare)
        return {"op": "trash", "from": str(source), "to": str(trashed)}
    spare.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, spare)  # kept in the log's folder: undo puts these bytes back
    if action.kind == "link":
        keep = Path(fs_path(action.keep))
        if link == "hard":
            os.link(keep, source)
        else:
            source.symlink_to(keep.resolve())
    return {"op": action.kind, "from": str(source), "to": str(spare)}


def _trash(source: Path, spare: Path) -> Path:
    """Move a file to the desktop trash (the freedesktop.org one: ~/.local/share/Trash), where the
    file manager can restore it too; elsewhere than on a POSIX system, to ``spare`` in the undo log's folder."""
    home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "Trash"
    if os.name != "posix":
        spare.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, spare)
        return spare
    (home / "files").mkdir(parents=True, exist_ok=True)
    (home / "info").mkdir(parents=True, exist_ok=True)
    name, n = source.name, 1
    while (home / "files" / name).exists() or (home / "info" / f"{name}.trashinfo").exists():
        n += 1
        name = f"{source.stem}.{n}{source.suffix}"
    info = f"[Trash Info]\nPath={source.resolve()}\nDeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
    (home / "info" / f"{name}.trashinfo").write_text(info, encoding="utf-8")
    shutil.move(source, home / "files" / name)
    return home / "files" / name


def _follow(app: App, actions: Sequence[Action], failed: list[dict[str, str]]) -> None:
    """Tell the catalog: moved and trashed files leave the collection, linked ones are indexed again."""
    from lookalike.usecases.ingest import index
    from lookalike.usecases.maintenance import remove

    not_done = {f["location"] for f in failed}
    for action in actions:
        if action.source in not_done:
            continue
        if action.kind == "link":
            index(app, [fs_path(action.source)], retire=False)
        else:
            with contextlib.suppress(NotFoundError):  # already gone from the catalog
                remove(app, fs_path(action.source))


def undo(app: App, log: Path) -> dict[str, Any]:
    """Put back what an undo log records, newest first, and index the restored files again."""
    from lookalike.usecases.ingest import index

    if not log.is_file():
        raise NotFoundError(f"no such undo log: {log}")
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    restored, failed = [], []
    for entry in reversed(entries):
        original, now = Path(entry["from"]), Path(entry["to"])
        try:
            if entry["op"] == "link" and (original.is_symlink() or original.exists()):
                original.unlink()  # the link made in its place
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(now, original)
            if entry["op"] == "trash":
                (now.parent.parent / "info" / f"{now.name}.trashinfo").unlink(missing_ok=True)
            restored.append(str(original))
        except OSError as exc:
            failed.append({"location": str(original), "why": str(exc)})
    if restored:
        index(app, restored, retire=False)
    log.rename(log.with_suffix(".undone"))
    return {"restored": len(restored), "failed": failed}
