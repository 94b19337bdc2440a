"""``lookalike models``: list, add, pull, remove neural models; fit whitening."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lookalike.cli.main import DataOption, JsonOption, _collection, _print_json, console, errors
from lookalike.errors import ModelError
from lookalike.settings import load_settings

__all__ = ["models_app"]

models_app = typer.Typer(
    help="Neural models (ONNX) for the embedding and clip signals: list, add, pull, remove.",
    no_args_is_help=True,
)


def _store() -> Any:
    from lookalike.models import ModelStore

    models = load_settings().models
    return ModelStore(models.folder, models.providers, models.threads)


def _fail(exc: ModelError) -> typer.Exit:
    errors.print(f"[red]Error:[/] {exc}")
    return typer.Exit(2)


@models_app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """Installed models, and the known ones `pull` can download."""
    from lookalike.models.hub import KNOWN

    store = _store()
    installed = store.describe()
    known = [
        {
            "name": m.name,
            "about": m.about,
            "repo": m.repo,
            "size_mb": m.size_mb,
            "installed": m.name in store.names(),
        }
        for m in KNOWN.values()
    ]
    if as_json:
        _print_json({"folder": str(store.folder), "installed": installed, "known": known})
        return
    console.print(f"models folder: {store.folder}")
    table = Table("name", "kind", "dim", "MB", "source")
    for m in installed:
        if "error" in m:
            table.add_row(m["name"], "[red]broken[/]", "", "", m["error"])
        else:
            table.add_row(m["name"], m["kind"], str(m["dim"]), f"{m['bytes'] / 1e6:.1f}", m["source"] or "")
    console.print(table if installed else "no models installed")
    console.print("known models (lookalike models pull NAME):")
    for m in known:
        console.print(
            f"  {m['name']:<14} {m['about']} (~{m['size_mb']} MB){' [installed]' if m['installed'] else ''}"
        )


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
    try:
        installed = _store().add(name, path, replace=replace)
    except ModelError as exc:
        raise _fail(exc) from None
    _show_installed(installed, as_json)


@models_app.command()
def pull(
    name: Annotated[str, typer.Argument(help="A known model (see `lookalike models list`).")],
    as_json: JsonOption = False,
) -> None:
    """Download a known model from the model hub (needs internet), verify it and install it."""
    settings = load_settings()
    shown: dict[str, int] = {}

    def progress(file: str, done: int, total: int | None) -> None:
        step = done // (50 << 20)
        if not as_json and shown.get(file) != step:
            shown[file] = step
            console.print(f"  {file}: {done / 1e6:.0f}{f' of {total / 1e6:.0f}' if total else ''} MB")

    try:
        installed = _store().pull(name, settings.models.hub_url, settings.fetch.timeout, progress)
    except ModelError as exc:
        raise _fail(exc) from None
    _show_installed(installed, as_json)


@models_app.command()
def remove(name: Annotated[str, typer.Argument(help="An installed model.")]) -> None:
    """Remove an installed model (features already computed stay in collections)."""
    try:
        _store().remove(name)
    except ModelError as exc:
        raise _fail(exc) from None
    console.print(f"removed {name}")


@models_app.command()
def whiten(
    dim: Annotated[int | None, typer.Option(help="Dimensions to keep [default: models.whiten_dim].")] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit PCA whitening of the embedding signal on the collection and rebuild its index."""
    with _collection(data) as collection:
        fitted = collection.fit_whitening(dim)
    if as_json:
        _print_json(fitted)
        return
    console.print(f"whitening fitted on {fitted['fitted_on']} images, {fitted['dim']} dimensions kept")
    if not fitted["active"]:
        errors.print("[yellow]note:[/] set models.whiten (LOOKALIKE_MODELS__WHITEN=true) to use it")


def _show_installed(installed: dict[str, Any], as_json: bool) -> None:
    """What `add` and `pull` print: the model's facts, then how to use it."""
    if as_json:
        _print_json(installed)
        return
    name, kind = installed["name"], installed["kind"]
    console.print(f"installed [bold]{name}[/]: {kind}, {installed['dim']} dimensions")
    _hint(name, kind)


def _hint(name: str, kind: str) -> None:
    signal = "clip" if kind == "clip" else "embedding"
    console.print(
        f"use it: LOOKALIKE_MODELS__{signal.upper()}={name} and add '{signal}' to LOOKALIKE_INGEST__SIGNALS, "
        f"then `lookalike index --signals {signal}` to compute it for images already indexed"
    )
