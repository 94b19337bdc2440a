"""What reading an archive gives: members read into memory, and members refused."""

from __future__ import annotations

from dataclasses import dataclass

from lookalike.errors import Reason

__all__ = ["Member", "MemberFailure"]


@dataclass(frozen=True)
class Member:
    """A regular file of an archive, read into memory."""

    name: str  # normalised posix path inside the archive, e.g. "sprites/hero.png"
    data: bytes


@dataclass(frozen=True)
class MemberFailure:
    """A member that was not read, and why; the archive goes on."""

    name: str
    reason: Reason
    detail: str
