"""Settings of a watched folder (``lookalike watch``, ``lookalike serve --watch``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

__all__ = ["WatchSettings"]


class WatchSettings(BaseModel):
    """How a watched folder turns file system events into batches."""

    debounce_ms: int = Field(
        2000,
        ge=10,
        description="Longest time in milliseconds that changes are gathered into one batch once the "
        "first one is seen: a burst of copied files becomes one batch, not one per file.",
    )
    quiet_ms: int = Field(
        200,
        ge=5,
        description="A batch is handed over early once no change has come for this many milliseconds "
        "(at most watch.debounce_ms after its first change).",
    )
    polling: bool = Field(
        False,
        description="Look for changes by listing the folders every watch.poll_ms instead of the "
        "system's notifications (inotify): for network shares (NFS, SMB) and folders mounted into "
        "containers, where notifications do not arrive.",
    )
    poll_ms: int = Field(300, ge=10, description="Milliseconds between listings when watch.polling is on.")
    save_seconds: float = Field(
        30.0,
        ge=0,
        description="Index files on this machine are written at most this often while watching, and "
        "when the watcher stops; a search sees new images at once either way (it catches up from the "
        "catalog), and a watcher killed in between only replays the catalog's change log.",
    )
    queue: bool = Field(
        False,
        description="Queue new and changed files as jobs for `lookalike worker` processes instead of "
        "indexing them in the watcher (--queue); removals and moves are still recorded by the watcher.",
    )

    @model_validator(mode="after")
    def _quiet_within_debounce(self) -> WatchSettings:
        if self.quiet_ms > self.debounce_ms:
            raise ValueError(
                f"watch.quiet_ms ({self.quiet_ms}) must not be more than watch.debounce_ms ({self.debounce_ms})"
            )
        return self
