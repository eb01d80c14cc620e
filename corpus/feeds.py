"""Live agency feeds: poll every feed once (conditional GETs in parallel across hosts, one ingest per feed).

An article page that yields no text never costs its feed the conditional GET: the feed keeps its validators
and the page is retried on its own backoff (see corpus/feedstate.py), rebuilt from the item kept there.
The public API of the feeds feature lives here: poll_feeds, import_opml, configured_feeds, feed_stats.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx

from corpus.db import from_iso, to_iso
from corpus.errors import FetchError
from corpus.feedparse import EntryProblem, FeedItem, entry_id, full_text_article, parse_feed
from corpus.feedstate import (
    FeedStatus,
    PageRetry,
    configured_feeds,
    feed_stats,
    import_opml,
    polls_per_day,
)
from corpus.fetch import PAGE_ACCEPT, Fetcher
from corpus.ingest import IngestReport
from corpus.models import Article, Progress
from corpus.repos import ArticleRepository, FeedStateRepository
from corpus.settings import FeedSettings, Settings
from corpus.storage import Storage

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
    # Article pages not fetched at this poll because their next attempt is not due yet.
    pages_deferred: int = 0
    # Entries skipped (cut off in a malformed feed) or stored without a part (an impossible date).
    entry_problems: tuple[FeedFailure, ...] = ()


@dataclass(frozen=True)
class _Stored:
    id: str
    hash: str
    fetched_at: str | None


@dataclass(frozen=True)
class _Page:
    """One article page attempt: the summary item it was for, what to ingest, and the error if it failed."""

    item: Article
    article: Article | None
    error: FeedFailure | None = None


@dataclass(frozen=True)
class _Outcome:
    """What polling one feed produced, before its articles are ingested."""

    feed: FeedSettings
    not_modified: bool = False
    articles: tuple[Article, ...] = ()
    seen: int = 0
    etag: str | None = None
    last_modified: str | None = None
    listed: frozenset[str] = frozenset()
    pages: tuple[_Page, ...] = ()
    retries: tuple[PageRetry, ...] = ()
    deferred: int = 0
    entry_problems: tuple[FeedFailure, ...] = ()

    @property
    def page_errors(self) -> tuple[FeedFailure, ...]:
        """The pages attempted at this poll that gave no article text."""
        return tuple(p.error for p in self.pages if p.error is not None)


class _Poller:
    """The shared pieces of one poll: HTTP client, page pool, article lookups."""

    def __init__(
        self, settings: Settings, fetcher: Fetcher, store: ArticleRepository, pages: ThreadPoolExecutor
    ) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.store = store
        self.pages = pages

    def stored_by_url(self, source: str, urls: Sequence[str]) -> dict[str, _Stored]:
        """What a source has stored under each URL (after near-duplicate re-keying the id may differ)."""
        found = self.store.by_source_urls(source, urls)
        return {url: _Stored(a.id, a.hash, to_iso(a.fetched_at)) for url, a in found.items()}

    def poll(
        self, feed: FeedSettings, etag: str | None, last_modified: str | None, retries: dict[str, PageRetry]
    ) -> _Outcome:
        """Fetch one feed (conditionally) and return its new or changed articles, full text fetched.

        Pages that failed before are fetched only when their retry is due, even when the feed is unchanged.
        """
        result = self.fetcher.get(feed.url, etag=etag, last_modified=last_modified)
        items: tuple[FeedItem, ...] = ()
        problems: tuple[EntryProblem, ...] = ()
        etag, last_modified = result.etag, result.last_modified
        if not result.not_modified:
            parsed = parse_feed(
                result.content,
                feed,
                url=result.final_url,
                content_type=result.content_type,
            )
            if parsed.warning:
                log.warning("feed %s (%s): %s", feed.source, feed.url, parsed.warning)
            items, problems = parsed.items, parsed.problems
            for p in problems:
                log.warning("feed %s (%s): entry %r: %s", feed.source, feed.url, p.title, p.reason)
        cut_off = any(p.skipped for p in problems)
        if cut_off:
            # Entries were cut off: without validators the next poll gets the whole feed again.
            etag = last_modified = None
        listed = frozenset(i.article.url for i in items if i.article.url)
        due = [r for r in retries.values() if r.due and r.url not in listed]
        stored = self.stored_by_url(feed.source, [*listed, *(r.url for r in due)])
        keep, wanted = _plan(feed, items, stored, retries)
        # Pages still failing whose items are not in this response (a 304, or the item left the feed).
        wanted += [(_retry_item(r, feed, stored.get(r.url)), stored.get(r.url), False) for r in due]
        fetching = {item.article.url for item, _, _ in wanted}
        futures = [self.pages.submit(self.page, feed, *want) for want in wanted]
        pages = tuple(future.result() for future in futures)
        keep += [p.article for p in pages if p.article is not None]
        return _Outcome(
            feed,
            result.not_modified,
            tuple(keep),
            len(items),
            etag,
            last_modified,
            # A cut-off feed does not list every item: no retry record is dropped for missing from it.
            listed | frozenset(retries) if cut_off else listed,
            pages,
            tuple(retries.values()),
            sum(1 for r in retries.values() if not r.gave_up and r.url not in fetching),
            tuple(FeedFailure(feed.source, p.link or feed.url, p.reason) for p in problems),
        )

    def page(self, feed: FeedSettings, item: FeedItem, old: _Stored | None, new_summary: bool) -> _Page:
        """The full-text article; on failure the summary (unless it is stored already) and the error."""
        url = item.article.url or ""
        try:
            page = self.fetcher.get(url, accept=PAGE_ACCEPT)
            return _Page(item.article, full_text_article(page, item, self.settings))
        except FetchError as exc:
            reason = str(exc)
        except Exception as exc:  # one bad page must not stop the feed
            log.exception("extracting %s failed", url)
            reason = f"{type(exc).__name__}: {exc}"
        log.warning("feed %s: article page %s: %s", feed.source, url, reason)
        # The summary keeps the story answerable until the page gives its text.
        fallback = item.article if old is None or new_summary else None
        return _Page(item.article, fallback, FeedFailure(feed.source, url, reason))


_Wanted = tuple[FeedItem, _Stored | None, bool]


def _plan(
    feed: FeedSettings,
    items: Sequence[FeedItem],
    stored: dict[str, _Stored],
    retries: dict[str, PageRetry],
) -> tuple[list[Article], list[_Wanted]]:
    """The articles to ingest as they are, and the pages to fetch (item, stored version, new summary)."""
    keep: list[Article] = []
    wanted: list[_Wanted] = []
    for item in items:
        old = stored.get(item.article.url or "")
        art = item.article if old is None else replace(item.article, id=old.id)
        if not (item.summary_only and feed.fetch_full_text and art.url):
            if old is None or old.hash != art.hash:
                keep.append(art)
            continue
        retry = retries.get(art.url)
        # While its page is retried, what is stored of an item is its summary.
        waiting = retry is not None and not retry.gave_up
        changed = old is not None and old.hash != art.hash
        if not (waiting or not changed or (old is not None and _updated_since(item, old))):
            continue
        if _page_due(item, retry):
            wanted.append((replace(item, article=art), old, waiting and changed))
        elif waiting and changed:
            keep.append(art)
    return keep, wanted


def _page_due(item: FeedItem, retry: PageRetry | None) -> bool:
    """True when an item's page is fetched now: it never failed, its retry is due, or the entry changed since."""
    if retry is None or retry.due:
        return True
    updated, failed = item.updated_at, retry.last_failed
    return updated is not None and failed is not None and updated > failed


def _retry_item(retry: PageRetry, feed: FeedSettings, old: _Stored | None) -> FeedItem:
    """The feed item of a page being retried, rebuilt from what the feed state kept of it."""
    source = retry.source or feed.source
    article = Article(
        id=old.id if old is not None else entry_id(source, retry.url),
        title=retry.title,
        body=retry.summary,
        url=retry.url,
        source=source,
        published_at=retry.published_at,
        language=retry.language,
        fetched_at=datetime.now(UTC),
    )
    return FeedItem(article, summary_only=True)


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
    storage = Storage.from_settings(settings)
    state = storage.feed_state()
    store = storage.articles()
    failed: list[FeedFailure] = []
    page_errors: list[FeedFailure] = []
    entry_problems: list[FeedFailure] = []
    totals = dict.fromkeys(
        ("fetched", "not_modified", "seen", "ingested", "new", "updated", "passages", "embedded", "deferred"),
        0,
    )
    cap = polls_per_day(settings.corpus.poll_minutes)
    fetcher = Fetcher(settings.corpus, transport=transport)
    feed_pool = ThreadPoolExecutor(max(1, min(MAX_FEED_WORKERS, len(feeds))), thread_name_prefix="feed")
    page_pool = ThreadPoolExecutor(MAX_PAGE_WORKERS, thread_name_prefix="page")
    try:
        poller = _Poller(settings, fetcher, store, page_pool)
        futures: dict[Future[_Outcome], FeedSettings] = {
            feed_pool.submit(poller.poll, feed, *state.validators(feed.url), state.retries(feed.url)): feed
            for feed in feeds
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
                _record(state, outcome, report, totals, cap)
                page_errors.extend(outcome.page_errors)
                entry_problems.extend(outcome.entry_problems)
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
        pages_deferred=totals["deferred"],
        entry_problems=tuple(entry_problems),
    )
    log.info(
        "polled %d feeds: %d changed, %d unchanged, %d failed; %d new and %d updated articles; %d requests",
        result.feeds, result.fetched, result.not_modified, len(failed), result.articles_new,
        result.articles_updated, result.requests,
    )  # fmt: skip
    return result


def _record(
    state: FeedStateRepository, outcome: _Outcome, report: IngestReport | None, totals: dict[str, int], cap: int
) -> None:
    """Persist a feed's success after its articles were ingested (committed), and add up the totals."""
    feed = outcome.feed
    state.tick_retries(feed.url)
    given_up = {r.url for r in outcome.retries if r.gave_up}
    for page in outcome.pages:
        url = page.item.url or ""
        if page.error is None:
            state.clear_retry(feed.url, url)
            continue
        state.record_error(feed.url, f"page {url}: {page.error.reason}", polled=False)
        retry = state.record_page_failure(feed.url, page.item, page.error.reason, cap)
        if retry.gave_up and url not in given_up:
            log.warning(
                "feed %s: giving up on article page %s after %d attempts: %s",
                feed.source, url, retry.attempts, page.error.reason,
            )  # fmt: skip
    # Recorded after the page errors: the feed itself is healthy; its pages wait in the retry list.
    if outcome.not_modified:
        state.record_not_modified(feed.url)
        totals["not_modified"] += 1
    else:
        new = report.added if report is not None else 0
        state.record_ok(feed.url, outcome.etag, outcome.last_modified, seen=outcome.seen, new=new)
        state.forget_given_up(feed.url, outcome.listed)
        totals["fetched"] += 1
        totals["seen"] += outcome.seen
    totals["ingested"] += len(outcome.articles)
    totals["deferred"] += outcome.deferred
    if report is not None:
        totals["new"] += report.added
        totals["updated"] += report.updated
        totals["passages"] += report.passages_indexed
        totals["embedded"] += report.embedded
