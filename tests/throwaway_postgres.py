"""A real PostgreSQL for the tests: the server `.ci/run` started, or a throwaway one started here.

``LOOKALIKE_TEST_POSTGRES`` names a server (a superuser URL); without it, a cluster is made
with Debian's ``initdb`` in a temporary folder, listening on loopback only, and stopped at
exit.  With ``CI_REQUIRE_POSTGRES=1`` a missing PostgreSQL fails the tests instead of
skipping them.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

_started: str | None = None


def _binaries() -> Path | None:
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(found, "initdb").exists():
            return Path(found)
    found_initdb = shutil.which("initdb")
    return Path(found_initdb).parent if found_initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start() -> str:
    """initdb into a temporary folder and start the server on loopback; returns its URL."""
    binaries = _binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="lookalike-pg-"))
    data, port = folder / "data", _free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    subprocess.run(
        [*as_user, binaries / "initdb", "-D", data, "-A", "trust", "--no-sync", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c fsync=off"
    ctl = [*as_user, binaries / "pg_ctl", "-D", data]
    subprocess.run(
        [*ctl, "-o", options, "-l", folder / "log", "-w", "start"], check=True, capture_output=True
    )
    atexit.register(_stop, ctl, folder)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _stop(ctl: list[object], folder: Path) -> None:
    """Stop the server and remove its folder (each run's cluster takes about 55 MB)."""
    subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def server() -> str:
    """The URL of a server where the tests may create databases."""
    global _started
    given = os.environ.get("LOOKALIKE_TEST_POSTGRES")
    if given:
        return given
    if _started is None:
        _started = _start()
    return _started


def new_database() -> tuple[str, str]:
    """A fresh, empty database: (its URL, its name)."""
    import psycopg

    base = server()
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return base.rsplit("/", 1)[0] + "/" + name, name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
