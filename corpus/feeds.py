"""Live agency feeds: poll every feed once (conditional GETs in parallel across hosts, one ingest per feed).

The public API of the feeds feature lives here: poll_feeds, import_opml, configured_feeds, feed_stats.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC

import httpx

from corpus.errors import FetchError
from corpus.feedparse import FeedItem, full_text_article, parse_feed
from corpus.feedstate import (
    FeedStateStore,
    FeedStatus,
    articles_db,
    configured_feeds,
    feed_stats,
    import_opml,
)
from corpus.fetch import PAGE_ACCEPT, Fetcher
from corpus.ingest import IngestReport
from corpus.models import Article, Progress
from corpus.settings import FeedSettings, Settings
from corpus.store import ArticleStore, from_iso

__all__ = [
    "FeedFailure",
    "FeedStatus",
    "PollReport",
    "configured_feeds",
    "feed_stats",
    "import_opml",
    "poll_feeds",
]

log = logging.getLogger(__name__)

Ingest = Callable[[list[Article]], IngestReport]
MAX_FEED_WORKERS = 16
MAX_PAGE_WORKERS = 16


@dataclass(frozen=True)
class FeedFailure:
    """A feed (or one of its article pages) that could not be fetched, parsed or ingested."""

    source: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source} ({self.url}): {self.reason}"


@dataclass(frozen=True)
class PollReport:
    """What one poll of all feeds did."""

    feeds: int = 0
    fetched: int = 0
    not_modified: int = 0
    failed: tuple[FeedFailure, ...] = ()
    page_errors: tuple[FeedFailure, ...] = ()
    articles_seen: int = 0
    articles_ingested: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    passages_indexed: int = 0
    embedded: int = 0
    requests: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Stored:
    id: str
    hash: str
    fetched_at: str | None


@dataclass(frozen=True)
class _Outcome:
    """What polling one feed produced, before its articles are ingested."""

    feed: FeedSettings
    not_modified: bool = False
    articles: tuple[Article, ...] = ()
    seen: int = 0
    etag: str | None = None
    last_modified: str | None = None
    page_errors: tuple[FeedFailure, ...] = ()


class _Poller:
    """The shared pieces of one poll: HTTP client, page pool, article lookups."""

    def __init__(
        self, settings: Settings, fetcher: Fetcher, store: ArticleStore, pages: ThreadPoolExecutor
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.store = store
        self.pages = pages

    def stored_by_url(self, urls: Sequence[str]) -> dict[str, _Stored]:
        """What is stored under each URL (after near-duplicate re-keying the id may differ from the URL's)."""
        out: dict[str, _Stored] = {}
        for start in range(0, len(urls), 500):
            part = urls[start : start + 500]
            rows = self.store.execute(
                f"SELECT id, url, hash, fetched_at FROM articles WHERE url IN ({','.join('?' * len(part))})",
                part,
            )
            out.update({r["url"]: _Stored(r["id"], r["hash"], r["fetched_at"]) for r in rows})
        return out

    def poll(self, feed: FeedSettings, etag: str | None, last_modified: str | None) -> _Outcome:
        """Fetch one feed (conditionally) and return its new or changed articles, full text fetched."""
        result = self.fetcher.get(feed.url, etag=etag, last_modified=last_modified)
        if result.not_modified:
            return _Outcome(feed, not_modified=True)
        parsed = parse_feed(
            result.content,
            feed,
            url=result.final_url,
            content_type=result.content_type,
            default_language=self.settings.corpus.default_language,
        )
        if parsed.warning:
            log.warning("feed %s (%s): %s", feed.source, feed.url, parsed.warning)
        stored = self.stored_by_url([i.article.url for i in parsed.items if i.article.url])
        keep: list[Article] = []
        wanted: list[tuple[FeedItem, _Stored | None]] = []
        for item in parsed.items:
            old = stored.get(item.article.url or "")
            art = item.article if old is None else replace(item.article, id=old.id)
            if item.summary_only and feed.fetch_full_text and art.url:
                if old is None or old.hash == art.hash or _updated_since(item, old):
                    wanted.append((replace(item, article=art), old))
            elif old is None or old.hash != art.hash:
                keep.append(art)
        futures = [self.pages.submit(self.page, feed, item, old) for item, old in wanted]
        errors: list[FeedFailure] = []
        for future in futures:
            full, error = future.result()
            if full is not None:
                keep.append(full)
            if error is not None:
                errors.append(error)
        return _Outcome(
            feed, False, tuple(keep), len(parsed.items), result.etag, result.last_modified, tuple(errors)
        )

    def page(
        self, feed: FeedSettings, item: FeedItem, old: _Stored | None
    ) -> tuple[Article | None, FeedFailure | None]:
        """The full-text article; on failure the summary version (unless a version is stored) and the error."""
        url = item.article.url or ""
        try:
            page = self.fetcher.get(url, accept=PAGE_ACCEPT)
            return full_text_article(page, item, self.settings), None
        except FetchError as exc:
            reason = str(exc)
        except Exception as exc:  # one bad page must not stop the feed
            log.exception("extracting %s failed", url)
            reason = f"{type(exc).__name__}: {exc}"
        log.warning("feed %s: article page %s: %s", feed.source, url, reason)
        # Nothing stored yet: the summary keeps the story answerable until the page is fetched at a next poll.
        fallback = item.article if old is None else None
        return fallback, FeedFailure(feed.source, url, reason)


def _updated_since(item: FeedItem, old: _Stored) -> bool:
    """True when the feed says the entry changed after the stored copy was fetched."""
    fetched = from_iso(old.fetched_at)
    if item.updated_at is None or fetched is None:
        return False
    return item.updated_at > fetched.astimezone(UTC)


def poll_feeds(
    settings: Settings,
    ingest: Ingest,
    progress: Progress | None = None,
    *,
    feeds: Sequence[FeedSettings] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> PollReport:
    """Poll every configured feed once, calling ingest once per feed with its new or changed articles."""
    started = time.monotonic()
    feeds = list(configured_feeds(settings) if feeds is None else feeds)
    state = FeedStateStore(articles_db(settings))
    store = ArticleStore(articles_db(settings))
    failed: list[FeedFailure] = []
    page_errors: list[FeedFailure] = []
    totals = dict.fromkeys(
        ("fetched", "not_modified", "seen", "ingested", "new", "updated", "passages", "embedded"), 0
    )
    fetcher = Fetcher(settings.corpus, transport=transport)
    feed_pool = ThreadPoolExecutor(max(1, min(MAX_FEED_WORKERS, len(feeds))), thread_name_prefix="feed")
    page_pool = ThreadPoolExecutor(MAX_PAGE_WORKERS, thread_name_prefix="page")
    try:
        poller = _Poller(settings, fetcher, store, page_pool)
        futures: dict[Future[_Outcome], FeedSettings] = {
            feed_pool.submit(poller.poll, feed, *state.validators(feed.url)): feed for feed in feeds
        }
        for done, future in enumerate(as_completed(futures), start=1):
            feed = futures[future]
            try:
                outcome = future.result()
                report = ingest(list(outcome.articles)) if outcome.articles else None
            except Exception as exc:  # a bad feed never stops the others
                reason = str(exc) if isinstance(exc, FetchError) else f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, FetchError):
                    log.exception("feed %s (%s) failed", feed.source, feed.url)
                log.warning("feed %s (%s) failed: %s", feed.source, feed.url, reason)
                state.record_error(feed.url, reason)
                failed.append(FeedFailure(feed.source, feed.url, reason))
            else:
                _record(state, outcome, report, totals)
                page_errors.extend(outcome.page_errors)
            if progress is not None:
                progress("feeds", done, len(feeds))
    finally:
        feed_pool.shutdown(wait=True, cancel_futures=True)
        page_pool.shutdown(wait=True, cancel_futures=True)
        fetcher.close()
        store.close()
        state.close()
    result = PollReport(
        feeds=len(feeds),
        fetched=totals["fetched"],
        not_modified=totals["not_modified"],
        failed=tuple(failed),
        page_errors=tuple(page_errors),
        articles_seen=totals["seen"],
        articles_ingested=totals["ingested"],
        articles_new=totals["new"],
        articles_updated=totals["updated"],
        passages_indexed=totals["passages"],
        embedded=totals["embedded"],
        requests=fetcher.requests,
        seconds=time.monotonic() - started,
    )
    log.info(
        "polled %d feeds: %d changed, %d unchanged, %d failed; %d new and %d updated articles; %d requests",
        result.feeds, result.fetched, result.not_modified, len(failed), result.articles_new,
        result.articles_updated, result.requests,
    )  # fmt: skip
    return result


def _record(
    state: FeedStateStore, outcome: _Outcome, report: IngestReport | None, totals: dict[str, int]
) -> None:
    """Persist a feed's success after its articles were ingested (committed), and add up the totals."""
    feed = outcome.feed
    if outcome.not_modified:
        state.record_not_modified(feed.url)
        totals["not_modified"] += 1
        return
    new = report.added if report is not None else 0
    state.record_ok(
        feed.url,
        outcome.etag,
        outcome.last_modified,
        seen=outcome.seen,
        new=new,
        keep_validators=not outcome.page_errors,
    )
    for error in outcome.page_errors:
        state.record_error(feed.url, f"page {error.url}: {error.reason}", polled=False)
    totals["fetched"] += 1
    totals["seen"] += outcome.seen
    totals["ingested"] += len(outcome.articles)
    if report is not None:
        totals["new"] += report.added
        totals["updated"] += report.updated
        totals["passages"] += report.passages_indexed
        totals["embedded"] += report.embedded
