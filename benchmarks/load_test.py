"""Web service load: N concurrent clients on loopback for a bounded time, mixed searches.

Each client runs a closed loop until the time is up: with probability
``--upload-share`` it uploads a JPEG of about 1 megapixel (``POST /api/search``,
multipart), otherwise it searches by the id of an indexed image
(``GET /api/images/{id}/similar``).  Ids come from a warm-up search.  Reported per
kind and overall: requests, errors (any answer but 200, or a failed connection),
p50 / p90 / p99 / max latency of the whole HTTP exchange as the client sees it, and
throughput (completed requests per second of the timed window).

The clients are one asyncio process (httpx); with ``--serve DIR`` the script
starts ``lookalike serve --data DIR`` on a free loopback port and stops it at
the end, otherwise it loads ``--url``.  On a small machine the clients compete
with the server for the same cores: figures are for the two together.

Examples::

    python benchmarks/load_test.py --serve /tmp/webdemo --clients 50 --seconds 20
    python benchmarks/load_test.py --url http://127.0.0.1:8000 --clients 8 --seconds 10 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import numpy as np
from _common import load_average, machine, percentile, print_machine, print_table, write_json
from PIL import Image

UPLOAD = "upload"
BY_ID = "by_id"


@dataclass
class Tally:
    """What one kind of request measured."""

    seconds: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def row(self, kind: str, window: float) -> list[Any]:
        ms = [s * 1000 for s in self.seconds]
        return [
            kind,
            len(ms) + sum(self.errors.values()),
            sum(self.errors.values()),
            percentile(ms, 50),
            percentile(ms, 90),
            percentile(ms, 99),
            max(ms) if ms else float("nan"),
            len(ms) / window,
        ]


def megapixel_jpeg(source: Path | None, pixels: int = 1_000_000, seed: int = 1) -> bytes:
    """A JPEG of about ``pixels`` pixels: ``source`` resized, or a smooth synthetic photo."""
    if source is not None:
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        scale = (pixels / (image.width * image.height)) ** 0.5
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    else:
        rng = np.random.default_rng(seed)
        w = round((pixels * 4 / 3) ** 0.5)
        h = round(pixels / w)
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        bands = [
            np.sin(rng.uniform(2, 9) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(2, 9) * y)
            for _ in range(3)
        ]
        pixels_array = (np.stack(bands, axis=2) + 1) * 127.5 + rng.normal(0, 6, (h, w, 3))
        image = Image.fromarray(np.clip(pixels_array, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(data: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """``lookalike serve --data DIR`` on a free loopback port, for the duration.

    The server's log goes to a temporary file, whose end is printed if it fails.
    """
    port = free_port()
    command = [sys.executable, "-m", "lookalike", "serve", "--data", str(data), "--port", str(port)]
    env = {**os.environ, **extra_env}
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start:\n{_tail(log)}")
                time.sleep(0.2)
            yield url
        except BaseException:
            print(f"server log:\n{_tail(log)}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(log: Any, lines: int = 40) -> str:
    log.flush()
    log.seek(0)
    return "".join(log.readlines()[-lines:])


WORDS = [
    "red",
    "blue",
    "green",
    "kite",
    "harbour",
    "mill",
    "market",
    "snow",
    "field",
    "coast",
    "light",
    "tower",
    "bird",
    "boat",
    "city",
    "night",
]


def grow(home: Path, target: int, seed: int = 7, batch: int = 5000) -> int:
    """Add synthetic images (features and a title, no files) to the collection until it holds ``target``.

    Each is a random phash (both stored rows) and a random colour histogram,
    recorded through the catalog like an ingest batch; the indexes are rebuilt
    at the end.  Returns how many were added.
    """
    import hashlib

    import lookalike
    from lookalike.decode import decode
    from lookalike.records import Extracted, Provenance

    rng = np.random.default_rng(seed)
    with lookalike.open(home) as collection:
        have = len(collection.catalog.images.ok_ids())
        if have >= target:
            return 0
        sample = decode(megapixel_jpeg(None, 40_000), collection.settings.decode)
        shapes = {name: signal.extract(sample).shape for name, signal in collection.signals.items()}
        added = 0
        while have + added < target:
            n = min(batch, target - have - added)
            rows = []
            for _ in range(n):
                number = have + added + len(rows)
                features = {}
                for name, signal in collection.signals.items():
                    if name == "colour":
                        shares = rng.dirichlet(np.full(shapes[name][1], 0.3))
                        array = np.round(np.sqrt(shares) * 255.0).astype(np.uint8)[None, :]
                    else:
                        array = rng.integers(0, 256, shapes[name], dtype=np.uint8)
                    features[name] = (signal.spec.version, signal.encode(array))
                sha = hashlib.sha256(f"synthetic-{seed}-{number}".encode()).hexdigest()
                title = " ".join(rng.choice(WORDS, 3))
                extracted = Extracted(sha, 100_000, 1024, 768, "JPEG", "RGB", features)
                rows.append((Provenance(f"synthetic://{number}.jpg", title=title), extracted))
            collection.catalog.images.record(rows, None)
            added += n
            print(f"  {have + added:,} images", file=sys.stderr)
        collection.rebuild()
    return added


async def warm_up(client: httpx.AsyncClient, upload: bytes) -> list[int]:
    """Ids to search by (from an upload search, then words), and a first request of each kind."""
    found = await client.post(
        "/api/search", files={"file": ("q.jpg", upload, "image/jpeg")}, data={"k": "100"}
    )
    found.raise_for_status()
    ids = [r["id"] for r in found.json()["results"]]
    if not ids:
        raise SystemExit("the collection answered no results: index some images first")
    (await client.get(f"/api/images/{ids[0]}/similar")).raise_for_status()
    return ids


async def one_client(
    client: httpx.AsyncClient,
    upload: bytes,
    ids: list[int],
    share: float,
    stop: float,
    tallies: dict[str, Tally],
    seed: int,
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop:
        kind = UPLOAD if rng.random() < share else BY_ID
        started = time.perf_counter()
        try:
            if kind == UPLOAD:
                response = await client.post("/api/search", files={"file": ("q.jpg", upload, "image/jpeg")})
            else:
                response = await client.get(f"/api/images/{rng.choice(ids)}/similar")
        except httpx.HTTPError as exc:
            tallies[kind].errors[type(exc).__name__] += 1
            continue
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            tallies[kind].seconds.append(elapsed)
        else:
            tallies[kind].errors[f"HTTP {response.status_code}"] += 1


async def run(url: str, clients: int, seconds: float, share: float, upload: bytes) -> dict[str, Any]:
    # Idle connections are dropped before the server's 5 s keep-alive ends, so that a request never
    # races the server closing its connection (a client-side artefact, not a server error).
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        ids = await warm_up(client, upload)
        tallies = {UPLOAD: Tally(), BY_ID: Tally()}
        started = time.monotonic()
        stop = started + seconds
        await asyncio.gather(
            *(one_client(client, upload, ids, share, stop, tallies, n) for n in range(clients))
        )
        window = time.monotonic() - started
        health = (await client.get("/api/health")).json()
    return {"tallies": tallies, "window": window, "ids": len(ids), "vectors": health.get("vectors")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="A running lookalike server, e.g. http://127.0.0.1:8000.")
    where.add_argument(
        "--serve", type=Path, metavar="DIR", help="Start `lookalike serve --data DIR` for the run."
    )
    parser.add_argument("--clients", type=int, default=50, help="Concurrent clients [50].")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of the timed window [20].")
    parser.add_argument("--upload-share", type=float, default=0.5, help="Share of upload searches [0.5].")
    parser.add_argument(
        "--image", type=Path, help="Query image, resized to --megapixels [a synthetic photo]."
    )
    parser.add_argument(
        "--megapixels", type=float, default=1.0, help="Size of the uploaded JPEG, in megapixels [1]."
    )
    parser.add_argument("--threads", type=int, help="serve.threads of the started server [its setting].")
    parser.add_argument(
        "--grow-to",
        type=int,
        metavar="N",
        help="With --serve: first add synthetic images (features only) until the collection holds N.",
    )
    parser.add_argument("--json", metavar="PATH", help="Also write the figures as JSON ('-' for stdout).")
    args = parser.parse_args()
    if args.grow_to and args.serve:
        started = time.monotonic()
        added = grow(args.serve, args.grow_to)
        print(f"added {added:,} synthetic images in {time.monotonic() - started:.0f} s")

    upload = megapixel_jpeg(args.image, round(args.megapixels * 1_000_000))
    with Image.open(io.BytesIO(upload)) as probe:
        size = probe.size
    facts = machine()
    print_machine(facts)
    print(
        f"{args.clients} clients for {args.seconds:g} s, {args.upload_share:.0%} uploads of a "
        f"{size[0]}x{size[1]} JPEG ({len(upload) / 1e3:.0f} kB), the rest search by id; "
        f"load average before: {load_average()}"
    )
    extra_env = {"LOOKALIKE_SERVE__THREADS": str(args.threads)} if args.threads else {}
    if args.serve:
        with served(args.serve, extra_env) as url:
            outcome = asyncio.run(run(url, args.clients, args.seconds, args.upload_share, upload))
    else:
        outcome = asyncio.run(run(args.url, args.clients, args.seconds, args.upload_share, upload))

    window, tallies = outcome["window"], outcome["tallies"]
    overall = Tally(
        seconds=tallies[UPLOAD].seconds + tallies[BY_ID].seconds,
        errors=tallies[UPLOAD].errors + tallies[BY_ID].errors,
    )
    headers = ["kind", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms", "per s"]
    rows = [
        tallies[UPLOAD].row(f"upload {args.megapixels:g} MP", window),
        tallies[BY_ID].row("by id", window),
        overall.row("all", window),
    ]
    print(
        f"collection: {outcome['vectors']} vectors; {outcome['ids']} ids searched by; window {window:.1f} s"
    )
    print_table(headers, rows, markdown=True)
    if overall.errors:
        print(f"errors: {dict(overall.errors)}")
    if args.json:
        write_json(
            args.json,
            {
                "machine": facts,
                "arguments": {k: str(v) for k, v in vars(args).items()},
                "image": {"width": size[0], "height": size[1], "bytes": len(upload)},
                "window_s": window,
                "vectors": outcome["vectors"],
                "results": [dict(zip(headers, row, strict=True)) for row in rows],
                "errors": dict(overall.errors),
            },
        )


if __name__ == "__main__":
    main()
