"""py7zr pushes members into writers; :class:`Feed` turns that into a pull, one at a time."""

from __future__ import annotations

import queue
import threading
from contextlib import suppress
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import py7zr
    from py7zr.io import WriterFactory

__all__ = ["Feed"]


class _Cancelled(Exception):
    """The reader stopped early; ends the extraction thread."""


class Feed:
    """Turns py7zr's push (it writes members into writers) into a pull, one member at a
    time, so that only about one member is in memory.  Plays py7zr's ``WriterFactory``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._queue: queue.Queue[bytes | Exception | None] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._buffer: bytearray | None = None
        self._thread: threading.Thread | None = None

    def start(self, archive: py7zr.SevenZipFile, names: set[str]) -> None:
        self._thread = threading.Thread(target=self._run, args=(archive, names), daemon=True)
        self._thread.start()

    def take(self, size: int) -> bytes:
        """The next extracted member, whose listed size is ``size``."""
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        if item is None or len(item) != min(size, self.cap + 1):
            raise EOFError("7z data does not match the archive's listing")
        return item

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def create(self, filename: str) -> _Writer:
        """Called by py7zr (in the thread) when the next member starts."""
        self.finish()  # in case this py7zr does not call close(): the next member ends one
        self._buffer = bytearray()
        return _Writer(self, self._buffer)

    def finish(self, buffer: bytearray | None = None) -> None:
        """Hands over the member being written (when given, only if ``buffer`` is it)."""
        if self._buffer is not None and (buffer is None or buffer is self._buffer):
            data, self._buffer = bytes(self._buffer), None
            self._put(data)

    def _run(self, archive: py7zr.SevenZipFile, names: set[str]) -> None:
        item: Exception | None = None
        try:
            archive.extract(targets=names, factory=cast("WriterFactory", self))
            self.finish()
        except _Cancelled:
            return
        except Exception as exc:  # handed to the reader, which raises it
            item = exc
        with suppress(_Cancelled):
            self._put(item)

    def _put(self, item: bytes | Exception | None) -> None:
        while not self._stop.is_set():
            with suppress(queue.Full):
                self._queue.put(item, timeout=0.05)
                return
        raise _Cancelled


class _Writer:
    """A py7zr writer that keeps the first ``cap + 1`` bytes of one member."""

    def __init__(self, feed: Feed, buffer: bytearray) -> None:
        self._feed = feed
        self._buffer = buffer

    def write(self, data: bytes | bytearray) -> int:
        if self._feed.stopped:
            raise _Cancelled
        room = self._feed.cap + 1 - len(self._buffer)
        if room > 0:
            self._buffer += data[:room]
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self._buffer)

    def close(self) -> None:
        """Called by py7zr once the member is unpacked and its CRC checked."""
        self._feed.finish(self._buffer)
