"""``lookalike models``: list, add, pull, remove neural models; fit whitening."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from lookalike.cli.common import HELP_MARKUP, DataOption, JsonOption, console, errors, opened
from lookalike.cli.render import Lines, Part, Table, note, show
from lookalike.errors import ModelError
from lookalike.settings import load_settings

__all__ = ["models_app"]

models_app = typer.Typer(
    help="Neural models (ONNX) for the embedding and clip signals: list, add, pull, remove.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
)


def _store() -> Any:
    from lookalike.models import ModelStore

    models = load_settings().models
    return ModelStore(models.folder, models.providers, models.threads)


@contextmanager
def _model_errors() -> Iterator[None]:
    """A model that cannot be used is bad input: its message, and exit code 2."""
    try:
        yield
    except ModelError as exc:
        errors.print(f"[red]Error:[/] {exc}")
        raise typer.Exit(2) from None


@models_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """Installed models, and the known ones `pull` can download."""
    from lookalike.models.hub import KNOWN

    store = _store()
    names = store.names()
    known = [
        {"name": m.name, "about": m.about, "repo": m.repo, "size_mb": m.size_mb, "installed": m.name in names}
        for m in KNOWN.values()
    ]
    listing = {"folder": str(store.folder), "installed": store.describe(), "known": known}
    show(listing, Lines(_folder), INSTALLED, Lines(_known), as_json=as_json)


def _folder(listing: dict[str, Any]) -> list[str]:
    return [f"models folder: {listing['folder']}"]


def _installed_row(m: dict[str, Any], broken: str = "[red]broken[/]") -> tuple[str, ...]:
    if "error" in m:
        return m["name"], broken, "", "", m["error"]
    return m["name"], m["kind"], str(m["dim"]), f"{m['bytes'] / 1e6:.1f}", m["source"] or ""


INSTALLED = Part[dict[str, Any], list[dict[str, Any]]](
    Table(
        ("name", "kind", "dim", "MB", "source"),
        lambda installed: [_installed_row(m) for m in installed],
        piped=lambda installed: [_installed_row(m, "broken") for m in installed],
        empty="no models installed",
    ),
    lambda listing: listing["installed"],
)


def _known(listing: dict[str, Any]) -> list[str]:
    return [
        "known models (lookalike models pull NAME):",
        *(
            f"  {m['name']:<14} {m['about']} (~{m['size_mb']} MB){' [installed]' if m['installed'] else ''}"
            for m in listing["known"]
        ),
    ]


@models_app.command()
def add(
    name: Annotated[str, typer.Argument(help="Name to install the model under.")],
    path: Annotated[
        Path, typer.Argument(help="A model folder (with lookalike-model.json), or an image-model .onnx file.")
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace an installed model of that name.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Install a model from a folder or an .onnx file; it is loaded and test-run first."""
    with _model_errors():
        installed = _store().add(name, path, replace=replace)
    show(installed, INSTALLED_ONE, as_json=as_json)


@models_app.command()
def pull(
    name: Annotated[str, typer.Argument(help="A known model (see `lookalike models list`).")],
    as_json: JsonOption = False,
) -> None:
    """Download a known model from the model hub (needs internet), verify it and install it."""
    settings = load_settings()
    with _model_errors():
        installed = _store().pull(
            name, settings.models.hub_url, settings.fetch.timeout, _pull_progress(as_json)
        )
    show(installed, INSTALLED_ONE, as_json=as_json)


def _pull_progress(as_json: bool) -> Any:
    """Every 50 MB of each file downloaded, a line (none with --json)."""
    shown: dict[str, int] = {}

    def progress(file: str, done: int, total: int | None) -> None:
        step = done // (50 << 20)
        if not as_json and shown.get(file) != step:
            shown[file] = step
            console.print(f"  {file}: {done / 1e6:.0f}{f' of {total / 1e6:.0f}' if total else ''} MB")

    return progress


@models_app.command()
def remove(name: Annotated[str, typer.Argument(help="An installed model.")]) -> None:
    """Remove an installed model (features already computed stay in collections)."""
    with _model_errors():
        _store().remove(name)
    console.print(f"removed {name}")


@models_app.command()
def whiten(
    dim: Annotated[int | None, typer.Option(help="Dimensions to keep [default: models.whiten_dim].")] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit PCA whitening of the embedding signal on the collection and rebuild its index."""
    with opened(data) as collection:
        fitted = collection.fit_whitening(dim)
    show(fitted, WHITENED, as_json=as_json)
    if not fitted["active"]:
        note("[yellow]note:[/] set models.whiten (LOOKALIKE_MODELS__WHITEN=true) to use it", as_json)


WHITENED = Lines[dict[str, Any]](
    lambda fitted: [f"whitening fitted on {fitted['fitted_on']} images, {fitted['dim']} dimensions kept"]
)


def _installed_lines(installed: dict[str, Any]) -> list[str]:
    """What `add` and `pull` print: the model's facts, then how to use it."""
    name, kind = installed["name"], installed["kind"]
    signal = "clip" if kind == "clip" else "embedding"
    return [
        f"installed [bold]{name}[/]: {kind}, {installed['dim']} dimensions",
        f"use it: LOOKALIKE_MODELS__{signal.upper()}={name} and add '{signal}' to LOOKALIKE_INGEST__SIGNALS, "
        f"then `lookalike index --signals {signal}` to compute it for images already indexed",
    ]


INSTALLED_ONE = Lines(_installed_lines)
