"""Watched folders: the file system's change events (through watchfiles) as batches of paths.

An event is a hint, not a fact: a batch only names the paths that changed, and the caller
looks at each one on disk (there or gone, a file or a folder) to see what happened.  Events
are gathered for up to ``watch.debounce_ms`` once the first one comes (handed over early when
``watch.quiet_ms`` pass without one), so a burst of copied files is one batch; while a batch is
being indexed, the next one gathers.  Names that a walk skips (hidden ones) and the collection's
own data folder are left out.  Needs the ``watch`` extra (``pip install 'lookalike[watch]'``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lookalike.errors import ConfigError, NotFoundError
from lookalike.settings import WatchSettings

__all__ = ["TICK_MS", "changes", "watched"]

#: Milliseconds after which an idle watch hands over an empty batch (time to save, or to stop).
TICK_MS = 500


def watched(folders: Sequence[str | Path]) -> list[Path]:
    """The folders to watch, absolute and resolved; :class:`NotFoundError` for any that is not one."""
    missing = [str(f) for f in folders if not Path(f).is_dir()]
    if missing:
        raise NotFoundError(f"no such folder to watch: {', '.join(missing)}")
    return list(dict.fromkeys(Path(f).resolve() for f in folders))


def changes(
    roots: Sequence[Path],
    settings: WatchSettings,
    stop: threading.Event,
    exclude: Sequence[Path] = (),
) -> Iterator[set[str] | None]:
    """Batches of changed paths under ``roots`` (absolute, as the system names them) until ``stop``
    is set; an empty batch every :data:`TICK_MS` while nothing changes.

    ``None`` comes first, once the watch is in place (what changes after it is seen): the time to
    catch up with the folders.  It comes again whenever events were lost: watchfiles gives up on
    a name that is not UTF-8 (any bytes are legal on Linux), and the watch is started again."""
    try:
        import watchfiles
    except ImportError:
        raise ConfigError("watching folders needs watchfiles: pip install 'lookalike[watch]'") from None
    keep = _Filter(roots, exclude)
    while not stop.is_set():
        try:
            for number, batch in enumerate(_watch(watchfiles, roots, settings, stop, keep)):
                yield None if number == 0 else {path for _, path in batch}
            return
        except OSError as exc:  # inotify limits, a folder that went away as the watch started
            raise ConfigError(
                f"cannot watch {', '.join(map(str, roots))}: {exc}; on Linux raise fs.inotify.max_user_watches "
                "(sysctl), or set watch.polling (LOOKALIKE_WATCH__POLLING=true)"
            ) from None
        except RuntimeError:  # watchfiles' own error (a name it cannot decode): its events are lost
            stop.wait(RESTART_SECONDS)


#: Seconds before a watch that watchfiles gave up on is started again.
RESTART_SECONDS = 1.0


def _watch(
    watchfiles: Any, roots: Sequence[Path], settings: WatchSettings, stop: threading.Event, keep: _Filter
) -> Iterator[set[tuple[Any, str]]]:
    batches: Iterator[set[tuple[Any, str]]] = watchfiles.watch(
        *roots,
        watch_filter=keep,
        debounce=settings.debounce_ms,
        step=settings.quiet_ms,
        stop_event=stop,
        rust_timeout=TICK_MS,
        yield_on_timeout=True,
        raise_interrupt=False,
        force_polling=settings.polling,
        poll_delay_ms=settings.poll_ms,
        ignore_permission_denied=True,
    )
    return batches


class _Filter:
    """Keeps the paths a walk of ``roots`` would meet: no hidden names, nothing in ``exclude``."""

    def __init__(self, roots: Sequence[Path], exclude: Sequence[Path]) -> None:
        self.roots = [str(r) for r in roots]
        self.exclude = [str(p.resolve()) for p in exclude]

    def __call__(self, change: Any, path: str) -> bool:
        if any(path == e or path.startswith(e + os.sep) for e in self.exclude):
            return False
        root = next((r for r in self.roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)), None)
        if root is None:
            return False
        return not any(
            part.startswith(".") for part in Path(os.path.relpath(path, root)).parts if part != "."
        )
