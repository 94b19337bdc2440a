"""``lookalike models``: list, add, pull, remove neural models; fit whitening."""

from __future__ import annotations

import sys
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
    help="Neural models (ONNX) for the embedding, clip and tags signals: list, add, pull, remove.",
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
    embedding_output: Annotated[
        str | None,
        typer.Option("--embedding-output", metavar="NAME", help="A bare .onnx: its embedding output."),
    ] = None,
    logits_output: Annotated[
        str | None,
        typer.Option(
            "--logits-output", metavar="NAME", help="A bare .onnx: its class-logits output (a tagger)."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            metavar="FILE",
            help="Class names, one a line in logit order (or a Hugging Face config.json); alone, it picks "
            "the output as wide as it is long.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Install a model from a folder or an .onnx file; it is loaded and test-run first.

    A bare .onnx file with two outputs (an embedding and class logits) is asked about on a terminal;
    elsewhere say which is which with the flags."""
    from lookalike.models.inspect import Choice

    choice = Choice("" if embedding_output == "none" else embedding_output, logits_output, labels)
    ask = _ask if sys.stdin.isatty() and not as_json else None
    with _model_errors():
        installed = _store().add(name, path, replace=replace, choice=choice, ask=ask)
    show(installed, INSTALLED_ONE, as_json=as_json)


def _ask(outputs: Any) -> Any:
    """Which output is what, asked on the terminal (``lookalike models add`` of a bare file)."""
    from lookalike.models.inspect import Choice

    names = [o.name for o in outputs]
    console.print("this model has several outputs: " + ", ".join(str(o) for o in outputs))
    embedding = typer.prompt("embedding output ('none': none)", default=names[0])
    logits = typer.prompt("class-logits output (empty: none)", default="", show_default=False)
    labels = typer.prompt("labels file for the logits", default="", show_default=False) if logits else ""
    for given in (embedding, logits):
        if given and given not in names:
            console.print(f"[yellow]'{given}' is not one of {', '.join(names)}[/]")
    return Choice("" if embedding == "none" else embedding, logits or None, Path(labels) if labels else None)


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
    name, kind, classes = installed["name"], installed["kind"], installed.get("classes", 0)
    if kind == "classifier":
        facts, uses = f"{classes} classes (no embedding)", [("tagger", "tags")]
    else:
        facts = f"{installed['dim']} dimensions" + (f" and {classes} classes" if classes else "")
        uses = [("clip" if kind == "clip" else "embedding",) * 2] + ([("tagger", "tags")] if classes else [])
    settings = " and ".join(f"LOOKALIKE_MODELS__{setting.upper()}={name}" for setting, _ in uses)
    signals = ", ".join(f"'{signal}'" for _, signal in uses)
    names = ",".join(signal for _, signal in uses)
    return [
        f"installed [bold]{name}[/]: {kind}, {facts}",
        f"use it: {settings} and add {signals} to LOOKALIKE_INGEST__SIGNALS, "
        f"then `lookalike index --signals {names}` to compute it for images already indexed",
    ]


INSTALLED_ONE = Lines(_installed_lines)
