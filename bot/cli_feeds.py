"""`newsbot feeds ...`: the feed commands of the CLI (OPML import, each feed's polls), registered by bot/cli.py."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from corpus.feeds import configured_feeds, feed_stats, import_opml


@click.group()
def feeds() -> None:
    """The agency RSS/Atom feeds polled for live news."""


@feeds.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", help="Agency name for every feed of the file (default: each outline's text).")
@click.option("--full-text", is_flag=True, help="Fetch article pages when a feed carries only summaries.")
@click.pass_context
def feeds_import(ctx: click.Context, file: Path, source: str | None, full_text: bool) -> None:
    """Add the feeds of an OPML FILE (feeds already configured are skipped)."""
    added = import_opml(ctx.obj, file, source=source, fetch_full_text=full_text)
    click.echo(f"{added} feed(s) added; {len(configured_feeds(ctx.obj))} configured")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """Every configured feed with the outcome of its polls."""
    rows = feed_stats(ctx.obj)
    if as_json:
        data = [{**asdict(s), "healthy": s.healthy} for s in rows]
        click.echo(json.dumps(data, indent=2, default=lambda v: v.isoformat()))
        return
    if not rows:
        click.echo("no feeds configured (add [[corpus.feeds]] to settings.toml or `newsbot feeds import`)")
    for s in rows:
        if s.last_polled is None:
            status = "never polled"
        elif s.healthy:
            status = f"ok {s.last_ok:%Y-%m-%d %H:%M}" if s.last_ok else "ok"
        else:
            status = f"FAILING: {s.last_error}"
        origin = " (imported)" if s.imported else ""
        click.echo(
            f"{s.source}{origin}: {s.url}\n  {status}; errors {s.error_count}, articles seen {s.articles_seen},"
            f" new {s.articles_new}"
        )
        for r in s.retries:
            if r.gave_up:
                click.echo(f"  page given up after {r.attempts} attempts: {r.url}: {r.last_error}")
            else:
                # wait counts the polls skipped before the next attempt.
                when = "at the next poll" if r.wait == 0 else f"in {r.wait + 1} polls"
                click.echo(
                    f"  page waiting for a retry {when} ({r.attempts} failed so far): {r.url}: {r.last_error}"
                )
