"""Imported feeds and per-feed poll state in PostgreSQL: the contract of feedstate.py's SQLite store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from corpus.db import to_iso
from corpus.feedstate import PageRetry, feed_key, retry_wait
from corpus.models import Article
from corpus.pgdb import PgDatabase, Row, aware, from_db
from corpus.settings import FeedSettings

_TIMES = ("last_polled", "last_ok", "last_error_at")


def _retry(r: Row) -> PageRetry:
    return PageRetry(
        url=r["url"],
        title=r["title"],
        summary=r["summary"],
        source=r["source"],
        published_at=from_db(r["published_at"]),
        language=r["language"] or None,
        attempts=int(r["attempts"]),
        wait=int(r["wait"]),
        gave_up=bool(r["gave_up"]),
        last_error=r["last_error"],
        first_failed=from_db(r["first_failed"]),
        last_failed=from_db(r["last_failed"]),
    )


class PgFeedStateStore(PgDatabase):
    """Imported feeds and per-feed poll state, shared by every process that polls."""

    def imported(self) -> list[FeedSettings]:
        """Feeds added by OPML import, oldest first."""
        rows = self.execute(
            'SELECT url, source, language, fetch_full_text FROM feeds ORDER BY added_at, url COLLATE "C"'
        )
        return [
            FeedSettings(
                url=r["url"], source=r["source"], language=r["language"], fetch_full_text=r["fetch_full_text"]
            )
            for r in rows
        ]

    def add(self, feed: FeedSettings, title: str | None = None) -> bool:
        """Add an imported feed; False when its URL is already there."""
        return (
            self.run(
                "INSERT INTO feeds (url, source, language, fetch_full_text, title, added_at)"
                " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (url) DO NOTHING",
                (feed_key(feed.url), feed.source, feed.language, feed.fetch_full_text, title),
            )
            > 0
        )

    def state(self, url: str) -> dict[str, Any] | None:
        """The stored state row of a feed, its times as ISO text like the SQLite store's."""
        rows = self.execute("SELECT * FROM feed_state WHERE url = %s", (feed_key(url),))
        if not rows:
            return None
        return {k: (to_iso(v) if k in _TIMES else v) for k, v in rows[0].items()}

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) stored after the feed's articles were last ingested."""
        row = self.state(url)
        return (row["etag"], row["last_modified"]) if row is not None else (None, None)

    def _ensure(self, url: str) -> str:
        key = feed_key(url)
        self.run("INSERT INTO feed_state (url) VALUES (%s) ON CONFLICT (url) DO NOTHING", (key,))
        return key

    def record_ok(self, url: str, etag: str | None, last_modified: str | None, seen: int, new: int) -> None:
        """A successful poll whose articles are ingested."""
        key = self._ensure(url)
        self.run(
            "UPDATE feed_state SET etag = %s, last_modified = %s, last_polled = date_trunc('second', now()),"
            " last_ok = date_trunc('second', now()), articles_seen = articles_seen + %s,"
            " articles_new = articles_new + %s WHERE url = %s",
            (etag, last_modified, seen, new, key),
        )

    def record_not_modified(self, url: str) -> None:
        """A 304: the feed is fine and unchanged."""
        key = self._ensure(url)
        self.run(
            "UPDATE feed_state SET last_polled = date_trunc('second', now()),"
            " last_ok = date_trunc('second', now()) WHERE url = %s",
            (key,),
        )

    def record_error(self, url: str, reason: str, polled: bool = True) -> None:
        """A failed poll (or a failed article page) with its reason; retried at the next poll."""
        key = self._ensure(url)
        self.run(
            "UPDATE feed_state SET last_error = %s, last_error_at = date_trunc('second', now()),"
            " error_count = error_count + 1,"
            " last_polled = CASE WHEN %s THEN date_trunc('second', now()) ELSE last_polled END WHERE url = %s",
            (reason[:1000], polled, key),
        )

    def retries(self, url: str) -> dict[str, PageRetry]:
        """The failed article pages of a feed by page URL, given-up ones included."""
        rows = self.execute(
            'SELECT * FROM page_retries WHERE feed = %s ORDER BY first_failed, url COLLATE "C"', (feed_key(url),)
        )
        return {r["url"]: _retry(r) for r in rows}

    def tick_retries(self, url: str) -> None:
        """One more poll of the feed went by: every waiting page is one poll closer to its next attempt."""
        self.run(
            "UPDATE page_retries SET wait = wait - 1 WHERE feed = %s AND wait > 0 AND NOT gave_up",
            (feed_key(url),),
        )

    def record_page_failure(self, url: str, item: Article, reason: str, cap: int) -> PageRetry:
        """A page attempt failed: schedule the next one (or give up) and remember the item to rebuild it."""
        key, page = feed_key(url), item.url or ""
        now = datetime.now(UTC).replace(microsecond=0)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT attempts FROM page_retries WHERE feed = %s AND url = %s FOR UPDATE", (key, page)
            ).fetchone()
            attempts = 1 + (int(row["attempts"]) if row is not None else 0)
            wait = retry_wait(attempts, cap)
            conn.execute(
                "INSERT INTO page_retries (feed, url, title, summary, source, published_at, language, attempts,"
                " wait, gave_up, last_error, first_failed, last_failed)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (feed, url) DO UPDATE SET title = excluded.title, summary = excluded.summary,"
                " source = excluded.source, published_at = excluded.published_at,"
                " language = excluded.language, attempts = excluded.attempts, wait = excluded.wait,"
                " gave_up = excluded.gave_up, last_error = excluded.last_error,"
                " last_failed = excluded.last_failed",
                (
                    key, page, item.title, item.body, item.source, aware(item.published_at),
                    item.language or "", attempts, wait or 0, wait is None, reason[:1000], now, now,
                ),
            )  # fmt: skip
        return self.retries(url)[page]

    def clear_retry(self, url: str, page: str) -> None:
        """The page gave its article text (or is no longer wanted): stop retrying it."""
        self.run("DELETE FROM page_retries WHERE feed = %s AND url = %s", (feed_key(url), page))

    def forget_given_up(self, url: str, listed: Iterable[str]) -> None:
        """Given-up pages whose items left the feed are never fetched again; their records can go."""
        self.run(
            "DELETE FROM page_retries WHERE feed = %s AND gave_up AND NOT (url = ANY(%s))",
            (feed_key(url), list(set(listed))),
        )
