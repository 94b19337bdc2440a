"""``lookalike doctor``: what is installed, what is missing, and how to add it."""

from __future__ import annotations

import shutil
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from lookalike.catalog.sqlite.search import fts5_available
from lookalike.catalog.sqlite.search import version as sqlite_version
from lookalike.decode import FORMATS_EXTRA, OPTIONAL_FORMATS, formats
from lookalike.errors import LookalikeError
from lookalike.plugins import Plugins

__all__ = ["checks"]

OPTIONAL = [
    ("faiss", "faiss-cpu", "fast vector indexes (without it: brute-force numpy)", "pip install faiss-cpu"),
    ("py7zr", "py7zr", "7z archives", "pip install 'lookalike[archives]'"),
    ("rarfile", "rarfile", "rar archives (also needs the unar tool)", "pip install 'lookalike[archives]'"),
    (
        "extruct",
        "extruct",
        "crawl metadata from schema.org microdata and microformats (JSON-LD is read without it)",
        "pip install 'lookalike[crawl]'",
    ),
    (
        "av",
        "av",
        "video files (mp4, mkv, webm, mov, avi): their frames as images (PyAV)",
        "pip install 'lookalike[video]'",
    ),
    ("skimage", "scikit-image", "sample photos for `lookalike demo`", "pip install 'lookalike[demo]'"),
    ("fastapi", "fastapi", "the web page and REST API (`lookalike serve`)", "pip install 'lookalike[web]'"),
    ("uvicorn", "uvicorn", "the web server for `lookalike serve`", "pip install 'lookalike[web]'"),
    (
        "fastapi_offline",
        "fastapi-offline",
        "the API docs pages (/docs, /redoc) offline",
        "pip install 'lookalike[web]'",
    ),
    (
        "openTSNE",
        "openTSNE",
        "the explore map's t-SNE layout (`lookalike map`)",
        "pip install 'lookalike[map]'",
    ),
    (
        "umap",
        "umap-learn",
        "the explore map's UMAP layout, for large collections",
        "pip install 'lookalike[map]'",
    ),
    (
        "onnxruntime",
        "onnxruntime",
        "neural models: embedding and clip signals",
        "pip install 'lookalike[models]'",
    ),
    (
        "tokenizers",
        "tokenizers",
        "text models' tokenizers (clip text search)",
        "pip install 'lookalike[models]'",
    ),
    (
        "cv2",
        "opencv-python-headless",
        "the keypoints signal: crops and partial copies (`--signals keypoints`)",
        "pip install 'lookalike[keypoints]'",
    ),
    (
        "s3fs",
        "s3fs",
        "buckets: `lookalike index s3://bucket/prefix` (gs://: gcsfs, az://: adlfs)",
        "pip install 'lookalike[s3]'",
    ),
    (
        "psycopg",
        "psycopg",
        "a PostgreSQL catalog (LOOKALIKE_CATALOG=postgresql://...)",
        "pip install 'lookalike[postgres]'",
    ),
    (
        "pymilvus",
        "pymilvus",
        "Milvus vector indexes (LOOKALIKE_VECTORS=milvus://...)",
        "pip install 'lookalike[milvus]'",
    ),
]


def _package(module: str, dist: str) -> str | None:
    if find_spec(module) is None:
        return None
    try:
        return version(dist)
    except PackageNotFoundError:
        return "installed"


def checks(plugins: Plugins) -> list[dict[str, Any]]:
    """One entry per part: name, ok, detail and, when missing, the fix; ``plugins``: what is
    registered here (:func:`lookalike.app.discover`)."""
    found: list[dict[str, Any]] = []
    fts = fts5_available()
    found.append(
        {
            "name": "sqlite",
            "ok": fts,
            "detail": f"SQLite {sqlite_version()}" + (" with FTS5" if fts else " without FTS5"),
            "fix": "use a Python built with SQLite FTS5 (keyword search needs it)",
        }
    )
    for module, dist, what, fix in OPTIONAL:
        installed = _package(module, dist)
        found.append(
            {
                "name": dist,
                "ok": installed is not None,
                "detail": f"{installed} — {what}" if installed else what,
                "fix": fix,
            }
        )
    unar = shutil.which("unar")
    found.append(
        {
            "name": "unar",
            "ok": unar is not None,
            "detail": unar or "the extractor rarfile uses for rar archives",
            "fix": "apt-get install unar (Debian/Ubuntu) or brew install unar (macOS)",
        }
    )
    found += _formats()
    found += _registered(plugins)
    for name, missing in plugins.signals.unavailable.items():
        found.append({"name": f"signal {name}", "ok": False, "detail": missing.why, "fix": missing.fix})
    found += _models()
    found += _ocr()
    found += _backends()
    for name, missing in plugins.indexes.unavailable.items():
        found.append(
            {"name": f"index backend {name}", "ok": False, "detail": missing.why, "fix": missing.fix}
        )
    for name, error in plugins.errors.items():
        found.append(
            {"name": f"plugin {name}", "ok": False, "detail": error, "fix": "reinstall or remove it"}
        )
    return found


_FORMAT_PACKAGES = {
    "HEIF": "pillow-heif",
    "AVIF": "Pillow 11.3 or later (or pillow-avif-plugin)",
    "JXL": "pillow-jxl-plugin",
}


def _formats() -> list[dict[str, Any]]:
    """The image formats decoded here, and one line per optional format (HEIF, AVIF, JPEG XL)."""
    known = formats()
    found = [
        {"name": "formats", "ok": True, "detail": ", ".join(n for n, ok in known.items() if ok), "fix": ""}
    ]
    for name in OPTIONAL_FORMATS:
        what = f"{name} images, through {_FORMAT_PACKAGES[name]}"
        found.append({"name": f"format {name}", "ok": known[name], "detail": what, "fix": FORMATS_EXTRA})
    return found


def _ocr() -> list[dict[str, Any]]:
    """The OCR engine the ``ocr.engine`` setting names, and the models it runs."""
    from lookalike.settings import load_settings
    from lookalike.signals.ocr import engine_status

    try:
        every = load_settings()
    except LookalikeError:
        return []
    settings = every.ocr
    ok, detail = engine_status(settings, every.models.folder / "rapidocr")
    fix = (
        "apt-get install tesseract-ocr and pip install pytesseract, or set ocr.engine=rapidocr"
        if settings.engine == "tesseract"
        else "pip install 'lookalike[ocr]'"
    )
    return [{"name": f"ocr engine {settings.engine}", "ok": ok, "detail": detail, "fix": fix}]


def _registered(plugins: Plugins) -> list[dict[str, Any]]:
    """The signals and sources registered, and what each plugin package added."""
    found = [
        {"name": "signals", "ok": True, "detail": ", ".join(plugins.signals), "fix": ""},
        {"name": "sources", "ok": True, "detail": ", ".join(plugins.sources), "fix": ""},
    ]
    for name in plugins.loaded:
        if name == "builtins":
            continue
        parts = [
            f"{registry.kind} {part.name}" + (f" ({part.description})" if part.description else "")
            for registry in (
                plugins.signals,
                plugins.sources,
                plugins.indexes,
                plugins.catalogs,
                plugins.models,
            )
            for part in registry.parts.values()
            if part.plugin == name
        ]
        found.append(
            {
                "name": f"plugin {name}",
                "ok": True,
                "detail": "; ".join(parts) or "registers nothing",
                "fix": "",
            }
        )
    return found


def _models() -> list[dict[str, Any]]:
    """ONNX Runtime's execution providers and the installed models, where models can run."""
    from lookalike.models import ModelStore
    from lookalike.models.runtime import available_providers
    from lookalike.settings import load_settings

    providers = available_providers()
    if not providers:
        return []
    settings = load_settings().models
    names = ModelStore(settings.folder).names()
    chosen = {"embedding": settings.embedding, "clip": settings.clip}
    missing = [f"models.{k}={v}" for k, v in chosen.items() if v and v not in names]
    return [
        {
            "name": "execution providers",
            "ok": True,
            "detail": ", ".join(providers),
            "fix": "",
        },
        {
            "name": "models",
            "ok": not missing,
            "detail": f"{', '.join(names) or 'none'} in {settings.folder}"
            + (f"; not installed: {', '.join(missing)}" if missing else ""),
            "fix": "lookalike models add NAME FOLDER, or lookalike models pull NAME (needs internet)",
        },
    ]


def _backends() -> list[dict[str, Any]]:
    """The catalog and vector backends the settings name, and whether they answer."""
    from lookalike.errors import LookalikeError
    from lookalike.settings import load_settings

    settings = load_settings()
    if not settings.catalog:
        return []  # the embedded catalog: nothing to reach
    if not settings.catalog.startswith(("postgresql://", "postgres://")):
        return []  # a SQLite file: the sqlite line above covers it
    from lookalike.catalog import Catalog
    from lookalike.catalog.postgres import PostgresDatabase

    try:
        catalog = Catalog(
            PostgresDatabase(settings.catalog, connect_timeout=5, migrate=False)
        )  # look, never change
        version = catalog.schema_version
        detail = f"{catalog.describe()}, schema version {version}" + (
            "" if version else " (new: set up on first use)"
        )
        catalog.close()
        ok = True
    except LookalikeError as exc:
        detail, ok = str(exc), False
    return [{"name": "catalog", "ok": ok, "detail": detail, "fix": "check LOOKALIKE_CATALOG and the server"}]
