"""``lookalike crawl``: crawl websites (or a JSON API with a recipe) into the collection;
``crawl status`` is a subcommand beside it (see :class:`CrawlGroup`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from lookalike.cli.common import (
    HELP_MARKUP,
    DataOption,
    JsonOption,
    exit_codes,
    opened,
    usage_error,
)
from lookalike.cli.progress import crawl_progress
from lookalike.cli.render import Lines, show

if TYPE_CHECKING:
    from lookalike.sources.crawl import CrawlReport
    from lookalike.sources.crawl.recipe import Recipe
    from lookalike.usecases.recipe import RecipeReport

__all__ = ["crawl_app", "crawled"]


def crawled(report: CrawlReport) -> list[str]:
    from lookalike.usecases.recipe import RecipeReport

    recipe = isinstance(report, RecipeReport)  # its pages are a JSON API's, with items
    return [
        *(_items_read(report) if isinstance(report, RecipeReport) else []),
        f"[bold]{report.pages}[/] {'API pages' if recipe else 'pages'}, {report.files} files ({report.bytes / 1e6:.1f} MB): "
        f"{report.images_new} new images, {report.images_known} already known, "
        f"{report.not_modified} not modified, {sum(report.refused.values())} refused, "
        f"{report.failed} failed ({report.seconds:.1f} s)",
        *(f"  refused [yellow]{reason}[/]: {count}" for reason, count in report.refused.most_common()),
        *(f"  failed [yellow]{reason}[/]: {count}" for reason, count in report.failures.most_common()),
        *(["  (details: lookalike crawl status)"] if report.refused or report.failed else []),
    ]


def _items_read(report: RecipeReport) -> list[str]:
    return [
        f"[bold]{report.items}[/] items read: {report.image_urls} image URLs, "
        f"{report.items_without_images} items without images, "
        f"{report.places_changed} images indexed before whose item changed"
    ]


# ---- crawl ------------------------------------------------------------------------------


class CrawlGroup(TyperGroup):
    """``lookalike crawl URL...`` runs the group's own callback (the crawl); ``lookalike crawl
    status`` runs the subcommand.  A first argument that names a subcommand goes to it, with
    the crawl's options left at their defaults; anything else is the crawl's URLs and options.
    """

    allow_interspersed_args = True  # options may follow the URLs, as in a plain command

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the (vendored) click Context
        if args and args[0] in self.commands:
            super(TyperGroup, self).parse_args(ctx, [])  # the crawl's own parameters at their defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]  # what TyperGroup.parse_args sets
            return args[1:]
        return super().parse_args(ctx, args)


crawl_app = typer.Typer(
    cls=CrawlGroup,
    invoke_without_command=True,
    subcommand_metavar="| lookalike crawl status [OPTIONS]",
    rich_markup_mode=HELP_MARKUP,
)

UrlsArgument = Annotated[
    list[str] | None, typer.Argument(help="Start URLs (pages).", metavar="URLS", show_default=False)
]
FollowOption = Annotated[str | None, typer.Option(help="Regex: only pages whose URL matches are walked.")]
FilesOption = Annotated[
    str | None,
    typer.Option(help="Regex: file links to fetch [default: images on pages, image and archive links]."),
]
MaxPagesOption = Annotated[
    int | None, typer.Option(help="Most pages fetched in this run [default: crawl.max_pages].")
]
MaxDepthOption = Annotated[
    int | None, typer.Option(help="Most links followed from a start URL [default: crawl.max_depth].")
]
MaxBytesOption = Annotated[
    int | None, typer.Option(help="Most bytes downloaded in this run [default: crawl.max_bytes].")
]
RecrawlOption = Annotated[
    bool,
    typer.Option(
        "--recrawl",
        help="Ask finished pages again (conditional requests); the files of unchanged pages only when "
        "their own max-age ran out.",
    ),
]
RecheckFilesOption = Annotated[
    bool,
    typer.Option("--recheck-files", help="Re-crawl, and ask every file again too (conditional requests)."),
]
ScopeOption = Annotated[
    str | None,
    typer.Option(
        metavar="host|domain|any",
        help="Fetch pages and files on the start URLs' hosts, their registrable domains, or anywhere "
        "[default: crawl.scope].",
        show_default=False,
    ),
]
AllowHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        metavar="HOST",
        help="Also fetch files (not pages) from this host, e.g. a CDN; repeatable; '.example.org' for a "
        "domain [added to crawl.allow_hosts].",
        show_default=False,
    ),
]
IncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="REGEX",
        help="Fetch only URLs found on pages that match (searched anywhere in the URL); repeatable "
        "[added to crawl.include].",
        show_default=False,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="REGEX",
        help="Never fetch URLs that match (searched anywhere in the URL); repeatable [added to crawl.exclude].",
        show_default=False,
    ),
]
DelayOption = Annotated[
    float | None,
    typer.Option(
        help="Seconds between requests to one host; a longer robots.txt Crawl-delay wins [default: crawl.delay]."
    ),
]
PerHostOption = Annotated[
    int | None, typer.Option(help="Requests in flight at once to one host [default: crawl.per_host].")
]
RecipeOption = Annotated[
    Path | None,
    typer.Option(help="Crawl a JSON API as this recipe (a TOML file) says, instead of start URLs."),
]
QueueCrawlOption = Annotated[
    bool, typer.Option("--queue", help="Queue the crawl for `lookalike worker` processes, which share it.")
]


@crawl_app.callback()
def crawl(
    ctx: typer.Context,
    urls: UrlsArgument = None,
    follow: FollowOption = None,
    files: FilesOption = None,
    max_pages: MaxPagesOption = None,
    max_depth: MaxDepthOption = None,
    max_bytes: MaxBytesOption = None,
    scope: ScopeOption = None,
    allow_host: AllowHostOption = None,
    include: IncludeOption = None,
    exclude: ExcludeOption = None,
    delay: DelayOption = None,
    per_host: PerHostOption = None,
    recrawl: RecrawlOption = False,
    recheck_files: RecheckFilesOption = False,
    recipe: RecipeOption = None,
    queue: QueueCrawlOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Crawl websites: walk pages from the start URLs and index the images and archives they link to.

    Pages and files are fetched only on the start URLs' hosts (--scope, --allow-host); every URL
    left out is recorded with its reason. With `--recipe shop.toml`, read a JSON API page by page
    instead, as the recipe says. Stopping and rerunning continues with the pending URLs; finished
    pages are not fetched again. Obeys robots.txt (crawl.robots) and sends crawl.contact in the
    User-Agent (crawl.user_agent). `lookalike crawl status` shows the frontier by host.
    """
    if ctx.invoked_subcommand is not None:
        return
    limits: dict[str, Any] = {"max_pages": max_pages, "max_bytes": max_bytes}
    if recipe is not None:
        if urls or follow or files or max_depth is not None:
            usage_error("--recipe takes no start URLs, --follow, --files or --max-depth: the recipe says")
        with exit_codes():
            limits["recipe"] = _recipe(recipe)
    elif not urls:
        ctx.fail("Missing argument 'urls'.")
    else:
        limits.update(follow=follow, files=files, max_depth=max_depth)
    if scope is not None and scope not in ("host", "domain", "any"):
        raise typer.BadParameter(f"{scope!r}: give host, domain or any", param_hint="--scope")
    bounds = {"scope": scope, "allow_hosts": allow_host, "include": include, "exclude": exclude}
    pace = {"delay": delay, "per_host": per_host, "recheck_files": recheck_files or None}
    _crawl(data, urls or [], recrawl, queue, {**limits, **bounds, **pace}, as_json)


def _recipe(path: Path) -> Recipe:
    """The recipe, read and checked before the collection is opened (a bad one changes nothing)."""
    from lookalike.sources.crawl.recipe import load_recipe

    return load_recipe(path)


def _crawl(
    data: Path | None, urls: list[str], recrawl: bool, queue: bool, limits: dict[str, Any], as_json: bool
) -> None:
    """Crawl here, or with ``--queue`` leave the crawl to ``lookalike worker`` processes."""
    with opened(data, create=True) as collection:
        if queue:
            queued = collection.enqueue_crawl(urls, recrawl, **limits)
            show({"queued": queued}, QUEUED_CRAWL, as_json=as_json)
            return
        chosen = {k: v for k, v in limits.items() if v is not None}
        with crawl_progress(quiet=as_json) as report_progress:
            report = collection.crawl(urls, recrawl=recrawl, progress=report_progress, **chosen)
        show(report, Lines(crawled), as_json=as_json)


QUEUED_CRAWL = Lines[dict[str, int]](
    lambda done: ["crawl queued; `lookalike worker` processes run it" if done["queued"] else "already queued"]
)


@crawl_app.command("status")
def status(data: DataOption = None, as_json: JsonOption = False) -> None:
    """The crawl frontier: URLs by kind and state, then by host with the reasons of refusals and
    failures (out_of_scope, excluded, max_depth, robots, http_404, too_large, ...), the latest ones,
    and the pages fetched last with what each says of itself (page, URL, title, author, licence, tags)."""
    with opened(data) as collection:
        show(collection.crawl_status(), Lines(_status_lines), as_json=as_json)


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n)


def _status_lines(status: dict[str, Any]) -> list[str]:
    return [
        *(
            f"{kind}s: " + ", ".join(f"{n} {state}" for state, n in counts.items())
            for kind, counts in status["urls"].items()
        ),
        *(
            escape(f"{host['host'] or '(no host)'}: {_counted(host['states'])}")
            + (
                f" [dim]({escape(', '.join(f'{r}: {n}' for r, n in host['reasons'].items()))})[/]"
                if host["reasons"]
                else ""
            )
            for host in status["hosts"]
        ),
        *(
            escape(f"  failed\t{item['url']}\t{item['reason']}\t{item['last_error']}")
            for item in status["failures"]
        ),
        *(
            escape(f"  refused\t{item['url']}\t{item['reason']}\t{item['last_error']}")
            for item in status["refusals"]
        ),
        *(escape("  page\t" + "\t".join(_page_fields(page))) for page in status.get("pages", ())),
    ]


def _page_fields(page: dict[str, Any]) -> list[str]:
    """A crawled page's line: its URL, title, author, licence and tags (what it says of itself)."""
    extra = page.get("extra") or {}
    return [
        page["url"],
        page.get("title") or "",
        str(extra.get("author") or ""),
        str(extra.get("licence") or ""),
        ", ".join(page.get("tags") or ()),
    ]
