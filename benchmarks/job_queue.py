"""The job queue at size: queue N file jobs, then claim and finish them a batch at a time.

What is measured, on SQLite (the baseline) and on PostgreSQL, each on a fresh catalog:

* **queue**: ``Catalog.jobs_add`` of N jobs in chunks of 5,000 (as ``lookalike index --queue``
  does), jobs/s;
* **claim + finish**: ``jobs_claim`` of ``--batch`` jobs with a lease and ``jobs_finish`` of
  them, ms per batch, over three stretches of ``--claims`` batches (the claim must not slow
  down as finished jobs pile up in front of the pending ones);
* **counts**: ``jobs_counts`` (what ``lookalike jobs`` and the collection page show), ms.

Example::

    python benchmarks/job_queue.py --n 1000000 --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, print_machine, print_table

from lookalike.catalog import Catalog, open_catalog


def measure(catalog: Catalog, n: int, batch: int, claims: int) -> dict[str, Any]:
    keys = [(f"/photos/{i:08d}.jpg", None) for i in range(n)]
    started = time.perf_counter()
    for start in range(0, n, 5000):
        catalog.jobs.add("file", keys[start : start + 5000])
    out: dict[str, Any] = {"queue_per_s": n / (time.perf_counter() - started), "claim_ms": []}
    for _ in range(3):
        started, done = time.perf_counter(), 0
        while done < claims and (jobs := catalog.jobs.claim("bench", ["file"], batch, lease=60)):
            catalog.jobs.finish([j.id for j in jobs])
            done += 1
        out["claim_ms"].append((time.perf_counter() - started) / max(done, 1) * 1000)
    started = time.perf_counter()
    catalog.jobs.counts()
    out["counts_ms"] = (time.perf_counter() - started) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="Jobs queued.")
    parser.add_argument("--batch", type=int, default=16, help="Jobs per claim (worker.batch).")
    parser.add_argument("--claims", type=int, default=1000, help="Claims per stretch.")
    parser.add_argument(
        "--postgres", required=True, help="A PostgreSQL server URL where databases may be made."
    )
    args = parser.parse_args()
    print_machine(machine())

    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    rows = []
    try:
        with tempfile.TemporaryDirectory() as home:
            for label, where in (
                ("sqlite", str(Path(home) / "c.sqlite")),
                ("postgresql", args.postgres.rsplit("/", 1)[0] + "/" + name),
            ):
                catalog = open_catalog(where, Path(home))
                r = measure(catalog, args.n, args.batch, args.claims)
                catalog.close()
                rows.append([label, args.n, r["queue_per_s"], *r["claim_ms"], r["counts_ms"]])
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    print_table(
        ["catalog", "jobs", "queued/s", "claim+finish ms (1st)", "(2nd)", "(3rd)", "counts ms"],
        rows,
        markdown=True,
    )


if __name__ == "__main__":
    main()
