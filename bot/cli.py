"""The `newsbot` command line: thin wrappers over the same core functions the bot calls."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, cast

import click
from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from bot.cli_feeds import feeds
from bot.cli_storage import migrate
from bot.formatting import answer_plain
from corpus.errors import InputError, NewsbotError, PartialFailure
from corpus.feeds import PollReport
from corpus.ingest import IngestReport
from corpus.loaders import iter_input_files
from corpus.models import Progress
from corpus.settings import Settings, load_settings
from index.models import Answer
from index.query import Mode, Query
from index.service import NewsService


def parse_as_of(value: str | None) -> datetime | None:
    """A date (end of that day, UTC) or an ISO datetime; None stays None."""
    if value is None:
        return None
    text = value.strip().replace("/", "-")
    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time.max, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"--as-of: {value!r} is not a date (use YYYY-MM-DD or an ISO 8601 datetime)"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@contextmanager
def progress_bars(enabled: bool) -> Iterator[Progress | None]:
    """A Progress callback drawing one tqdm bar per stage on stderr."""
    if not enabled:
        yield None
        return
    current: dict[str, tqdm[Any]] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = current.get(stage)
        if bar is None:
            # One bar at a time: stacked bars leave cursor junk on terminals that are not a tty.
            for old in current.values():
                old.close()
            current.clear()
            bar = current[stage] = tqdm(total=total, desc=stage, unit="", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        for bar in current.values():
            bar.close()


def open_service(ctx: click.Context) -> NewsService:
    """Open the core once per command and close it when the command ends."""
    settings: Settings = ctx.obj
    service = NewsService.open(settings)
    ctx.call_on_close(service.close)
    return service


def print_report(report: IngestReport) -> None:
    """Summarise an ingest or reindex run."""
    click.echo(
        f"files {report.files}, articles {report.articles_seen}: {report.added} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.duplicates} duplicates; passages indexed {report.passages_indexed},"
        f" embedded {report.embedded}, {report.seconds:.1f} s"
    )
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)


def print_poll_report(report: PollReport) -> None:
    """Summarise one poll of the feeds; each failure is one warning line naming the source."""
    click.echo(
        f"feeds {report.feeds}: {report.fetched} changed, {report.not_modified} unchanged, {len(report.failed)}"
        f" failed; articles {report.articles_new} new, {report.articles_updated} updated; embedded"
        f" {report.embedded}; {report.requests} requests, {report.seconds:.1f} s"
    )
    for failure in report.failed:
        click.echo(f"warning: feed {failure}", err=True)
    for failure in report.page_errors:
        click.echo(f"warning: article page {failure}", err=True)
    for failure in report.entry_problems:
        click.echo(f"warning: feed entry {failure}", err=True)
    if report.pages_deferred:
        click.echo(f"{report.pages_deferred} article page(s) wait for a retry (`newsbot feeds list`)")


def outcome(failures: list[tuple[int, int, str]]) -> None:
    """After the summary: raise PartialFailure (exit 3) when some parts failed and others succeeded.

    Each item is (failed, succeeded, what), e.g. (9, 5, "feeds"). When nothing at all succeeded the run
    failed as a whole: NewsbotError, exit 1.
    """
    failed = [(f, ok, what) for f, ok, what in failures if f]
    if not failed:
        return
    summary = "; ".join(f"{f} of {f + ok} {what} failed" for f, ok, what in failed)
    if all(ok == 0 for _, ok, _ in failures):
        raise NewsbotError(f"{summary} (see the warnings above)")
    raise PartialFailure(f"{summary} (see the warnings above)")


class BatchQuestion(BaseModel):
    """One line of an `ask --batch` file."""

    question: str
    as_of: str | None = None


@click.group()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML settings file.")
@click.pass_context
def cli(ctx: click.Context, config: Path | None) -> None:
    """newsbot: cited answers from a news agency's articles."""
    settings = load_settings(config)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    ctx.obj = settings


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--feeds", "with_feeds", is_flag=True, help="Also poll every configured feed once.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], with_feeds: bool, quiet: bool) -> None:
    """Load article files or folders (default: corpus.paths) and index them."""
    settings: Settings = ctx.obj
    targets = list(paths) or settings.corpus.paths
    files, problems = iter_input_files(targets)
    if not files and problems and (paths or not with_feeds):
        # Fail on bad paths before paying for the model load.
        raise InputError("; ".join(str(p) for p in problems))
    service = open_service(ctx)
    failures: list[tuple[int, int, str]] = []
    with progress_bars(not quiet) as progress:
        if paths or not with_feeds:
            # A bad record or file beside good ones is a warning line, not a failure (issue 12's bad-input
            # contract, tests/corpus/test_bad_input_cli.py): every good record is stored.
            report = service.ingest_paths(targets, progress)
            print_report(report)
            failures.append((0, report.articles_seen, "files"))
        if with_feeds:
            poll = service.poll_feeds(progress)
            print_poll_report(poll)
            failures.append((len(poll.failed), poll.feeds - len(poll.failed), "feeds"))
    outcome(failures)


@cli.command()
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def reindex(ctx: click.Context, quiet: bool) -> None:
    """Re-read the configured sources and rebuild the index aside, then swap it in."""
    with progress_bars(not quiet) as progress:
        print_report(open_service(ctx).reindex(progress))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """What is stored and indexed."""
    s = open_service(ctx).stats()
    if as_json:
        data = {k: v for k, v in s.__dict__.items() if k not in ("sources", "languages")}
        data["languages"] = dict(s.languages)
        data["sources"] = [
            {
                "source": src,
                "articles": n,
                "first": a.isoformat() if a else None,
                "last": b.isoformat() if b else None,
            }
            for src, n, a, b in s.sources
        ]
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"articles: {s.articles}\npassages: {s.passages}\nvectors: {s.vectors}")
    click.echo(f"model: {s.model}\nmode: {s.mode}")
    click.echo(
        f"embeddings computed (all time): {s.embeddings_computed_total}\nembeddings cached: {s.embeddings_cached}"
    )
    click.echo(f"questions answered: {s.questions_answered}")
    click.echo(f"last ingest: {s.last_ingest or 'never'}\nlast reindex: {s.last_reindex or 'never'}")
    for src, n, first, last in s.sources:
        span = f"{first.date()} .. {last.date()}" if first and last else "dates unknown"
        click.echo(f"source {src or '(unknown)'}: {n} articles, {span}")
    for language, n in s.languages:
        click.echo(f"language {language}: {n} articles")


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("-k", "k", type=click.IntRange(1, 100), help="How many passages to retrieve.")
@click.option("--as-of", "as_of", help="Answer as if it were this date (YYYY-MM-DD).")
@click.option(
    "--batch", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON Lines questions."
)
@click.option(
    "--mode", type=click.Choice(["dense", "bm25", "hybrid"]), help="Retrieval mode (default: settings)."
)
@click.option("--source", "sources", multiple=True, help="Only this agency (repeatable).")
@click.option("--since", help="Only articles published on or after this date (YYYY-MM-DD).")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    as_json: bool,
    k: int | None,
    as_of: str | None,
    batch: Path | None,
    mode: str | None,
    sources: tuple[str, ...],
    since: str | None,
) -> None:
    """Answer QUESTION from the indexed news, with citations."""
    if (question is None) == (batch is None):
        raise click.UsageError("give either a QUESTION or --batch FILE")
    start = parse_as_of(since)
    base = Query(
        question="",
        k=k,
        mode=cast(Mode | None, mode),
        sources=sources,
        since=start.replace(hour=0, minute=0, second=0, microsecond=0) if start else None,
    )
    service = open_service(ctx)

    def emit(answer: Answer) -> None:
        click.echo(
            json.dumps(answer.to_json(), ensure_ascii=False) if as_json else answer_plain(answer) + "\n"
        )

    if question is not None:
        emit(service.ask(replace(base, question=question, as_of=parse_as_of(as_of))))
        return
    assert batch is not None
    bad = 0
    with batch.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = BatchQuestion.model_validate_json(line)
                asked = replace(base, question=item.question, as_of=parse_as_of(item.as_of or as_of))
                emit(service.ask(asked))
            except (ValidationError, InputError) as exc:
                bad += 1
                reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                click.echo(f"error: {batch}:{line_no}: {reason}", err=True)
    if bad:
        raise InputError(f"{bad} line(s) of {batch} could not be answered")


@cli.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the Telegram bot (token from NEWSBOT_TELEGRAM__TOKEN) until interrupted."""
    from bot.app import run_bot

    run_bot(ctx.obj)


@cli.command()
@click.option("--as-of", "as_of", help="The digest as of this date (YYYY-MM-DD).")
@click.option("--send", is_flag=True, help="Send it now to every subscriber who has not had today's.")
@click.pass_context
def digest(ctx: click.Context, as_of: str | None, send: bool) -> None:
    """Print the daily digest, or --send it (safe while the bot runs: nobody gets it twice)."""
    from bot.context import require_token
    from bot.delivery import send_digest_now
    from bot.formatting import digest_plain

    if send:
        require_token(ctx.obj)  # fail before the slow model load
    service = open_service(ctx)
    if not send:
        click.echo(digest_plain(service.digest(parse_as_of(as_of))))
        return
    r = send_digest_now(ctx.obj, service, parse_as_of(as_of))
    click.echo(
        f"digest {r.digest_date}: {r.sent} sent, {r.already} already had it, {r.blocked} blocked,"
        f" {r.failed} failed; {r.messages} messages in {r.seconds:.1f} s"
    )
    if r.failed:
        click.echo(
            f"warning: {r.failed} deliveries failed; `newsbot digest --send` again retries them", err=True
        )
    outcome([(r.failed, r.sent, "digest deliveries")])


cli.add_command(migrate)
cli.add_command(feeds)


def main(argv: list[str] | None = None) -> None:
    """Entry point: every failure is one clean line on stderr and an exit code.

    0 success, 1 error, 2 usage or bad input, 3 partial failure (some feeds or digest deliveries failed
    while the rest succeeded; the summary says which), 130 interrupted.
    """
    try:
        cli.main(args=argv, prog_name="newsbot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError | click.BadParameter) else exc.exit_code)
    except PartialFailure as exc:
        click.echo(f"partial failure: {exc}", err=True)
        sys.exit(exc.exit_code)
    except NewsbotError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last resort: one line for the user, the trace in the log
        logging.getLogger("newsbot").debug("unexpected error", exc_info=True)
        click.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
