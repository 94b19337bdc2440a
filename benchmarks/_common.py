"""Helpers shared by the benchmark scripts: file lists, machine facts, tables, JSON output.

Not a benchmark itself.  The scripts put their own folder on ``sys.path`` and
import this module, so they run as ``python benchmarks/<name>.py`` from anywhere.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lookalike.sources.files import IMAGE_EXTENSIONS

__all__ = [
    "image_files",
    "load_average",
    "machine",
    "merge",
    "parse_settings",
    "percentile",
    "print_machine",
    "print_table",
    "summary_ms",
    "warm_cache",
    "write_json",
]


def image_files(root: Path, exclude: Iterable[str] = (), limit: int | None = None) -> list[Path]:
    """Image files under ``root`` (by extension, sorted, hidden names skipped).

    ``exclude``: names of sub-folders to skip anywhere in the tree (e.g. ``archives``).
    """
    skip = set(exclude)  # names skipped at any depth
    found: list[Path] = []
    for folder, dirs, files in os.walk(root.resolve()):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip)
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(Path(folder, name))
    return found[:limit] if limit else found


def warm_cache(paths: Sequence[Path]) -> int:
    """Read every file once so that timed runs read from the page cache; returns bytes read."""
    total = 0
    for p in paths:
        with open(p, "rb") as fh:
            total += len(fh.read())
    return total


def _git(where: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=where)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _revision() -> tuple[str, str, int]:
    """(where lookalike is imported from, its git revision, uncommitted files under src/).

    A source tree exported without .git (``git archive``) may carry a REVISION file
    beside its src/ folder; that is used when there is no git checkout.
    """
    import lookalike

    src = Path(lookalike.__file__).resolve().parent.parent  # .../src
    rev = _git(src, "rev-parse", "--short", "HEAD")
    dirty = 0
    if rev != "?":
        dirty = len([line for line in _git(src, "status", "--porcelain", ".").splitlines() if line])
    elif (src.parent / "REVISION").is_file():
        rev = (src.parent / "REVISION").read_text(encoding="utf-8").strip() + " (exported tree)"
    return str(src), rev, dirty


def machine() -> dict[str, Any]:
    """Facts about the machine and the code the figures were measured on."""
    import numpy
    import PIL

    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
    }
    facts["lookalike_src"], facts["git_commit"], facts["git_dirty_files"] = _revision()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
        facts["cpu_model"] = model
    except OSError:
        facts["cpu_model"] = "?"
    for name in ("imagehash", "faiss"):
        try:
            facts[name] = __import__(name).__version__
        except Exception:
            facts[name] = None
    return facts


def print_machine(facts: dict[str, Any]) -> None:
    print(
        f"machine: {facts['cpus']} cpus ({facts['cpu_model']}), Python {facts['python']}, "
        f"numpy {facts['numpy']}, Pillow {facts['pillow']}, faiss {facts['faiss']}, "
        f"imagehash {facts['imagehash']}\nlookalike: {facts['lookalike_src']} at {facts['git_commit']}"
        f"{' + ' + str(facts['git_dirty_files']) + ' uncommitted src files' if facts['git_dirty_files'] else ''}"
    )


def load_average() -> float | None:
    """1-minute load average (other jobs on the machine make timings noisy)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean and max of a list of durations in seconds, as milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "max_ms": max(ms) if ms else float("nan"),
        "n": len(ms),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> None:
    """A plain-text (or Markdown) table; floats are rounded for reading."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if markdown:
        print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in cells:
            print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")
    else:
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in cells:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print()


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``["decode.work_size=192", "search.k=5"]`` -> ``{"decode": {"work_size": 192}, "search": {"k": 5}}``.

    Values are read as JSON where they parse (numbers, true/false, lists), else kept as strings.
    """
    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set wants KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Nested merge of two settings trees (``extra`` wins)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def write_json(path: str, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON to ``path`` ('-' for stdout)."""
    text = json.dumps(payload, indent=2, default=str)
    if path == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {path}")
