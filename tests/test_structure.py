"""The shape the architecture promises, measured on the source: small modules, small classes,
short functions.  (Import layering and cycles are held by import-linter in .ci/run.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent.parent / "src" / "lookalike"
MODULES = sorted(SOURCE.rglob("*.py"))
MAX_MODULE_LINES = 500
MAX_PUBLIC_METHODS = 25
MAX_P90_FUNCTION_LINES = 20


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in MODULES]


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


def test_no_class_has_more_than_25_public_methods() -> None:
    crowded = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                public = [
                    b.name
                    for b in node.body
                    if isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef) and not b.name.startswith("_")
                ]
                if len(public) > MAX_PUBLIC_METHODS:
                    crowded.append(f"{path.relative_to(SOURCE)}:{node.name} ({len(public)})")
    assert crowded == []


def test_functions_are_short() -> None:
    lengths = sorted(
        f.end_lineno - f.lineno + 1 for _, tree in _trees() for f in _functions(tree) if f.end_lineno
    )
    assert len(lengths) > 100  # the measure sees the package
    p90 = lengths[int(0.9 * len(lengths))]
    assert p90 <= MAX_P90_FUNCTION_LINES, f"p90 function length {p90} lines"


def test_the_tree_shows_the_flow() -> None:
    packages = {p.name for p in SOURCE.iterdir() if (p / "__init__.py").exists()}
    assert {
        "sources",
        "ingest",
        "signals",
        "catalog",
        "index",
        "search",
        "usecases",
        "api",
        "cli",
    } <= packages
    loose = {p.stem for p in SOURCE.glob("*.py")} - {"__init__", "__main__"}
    assert loose <= {"app", "plugins", "builtins", "collection", "settings", "errors", "records", "decode"}
