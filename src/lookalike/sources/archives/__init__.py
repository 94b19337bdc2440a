"""Read the members of zip, tar, 7z and rar archives into memory, with limits.

Nothing is written to disk (except a temporary copy of a rar given as bytes: the rar
tools need a file).  Every member passes the same checks, whatever the format (see
:mod:`~lookalike.sources.archives.guard`): a name that stays inside the archive, no
links, ``archive.max_member_bytes``, ``archive.max_ratio``; and the archive as a whole
``archive.max_members`` and ``archive.max_total_bytes``.

Archives inside archives come out as members; the caller opens them (``max_depth``).

* :mod:`.members`: what comes out (:class:`Member`, :class:`MemberFailure`);
* :mod:`.kinds`: which format a file is (:func:`archive_kind`, :data:`ARCHIVE_SUFFIXES`);
* :mod:`.guard`: the limits every format shares;
* :mod:`.zipfmt`, :mod:`.tarfmt`, :mod:`.sevenzip` (with :mod:`.feed`), :mod:`.rar`: the formats;
* :mod:`.unpack`: :func:`iter_members`, which opens an archive and picks its format.
"""

from lookalike.sources.archives.kinds import ARCHIVE_SUFFIXES, archive_kind
from lookalike.sources.archives.members import Member, MemberFailure
from lookalike.sources.archives.unpack import iter_members

__all__ = ["ARCHIVE_SUFFIXES", "Member", "MemberFailure", "archive_kind", "iter_members"]
