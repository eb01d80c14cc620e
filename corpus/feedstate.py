"""Which feeds are polled (settings + OPML imports) and their per-feed state in SQLite under data_dir.

Per feed: its validators and counters, and the article pages that failed, each retried with a backoff
counted in polls of its feed (skip 1, 2, 4 ... polls, at most a day's worth, then give up).
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, ValidationError, field_validator

from corpus.db import connect, from_iso, to_iso
from corpus.errors import InputError
from corpus.models import Article
from corpus.settings import FeedSettings, Settings
from corpus.storage import Storage

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    language TEXT,
    fetch_full_text INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_polled TEXT,
    last_ok TEXT,
    last_error TEXT,
    last_error_at TEXT,
    error_count INTEGER NOT NULL DEFAULT 0,
    articles_seen INTEGER NOT NULL DEFAULT 0,
    articles_new INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS page_retries (
    feed TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT,
    published_at TEXT,
    language TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    wait INTEGER NOT NULL,
    gave_up INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL,
    first_failed TEXT NOT NULL,
    last_failed TEXT NOT NULL,
    PRIMARY KEY (feed, url)
);
"""


def articles_db(settings: Settings) -> Path:
    """The SQLite file holding articles, imported feeds and feed state."""
    return settings.data_dir / "articles.db"


def feed_key(url: str) -> str:
    """A feed URL normalised for de-duplication: trimmed, lower-case scheme and host, no fragment."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def polls_per_day(poll_minutes: float) -> int:
    """How many polls a day holds: the longest a failed page waits for its next attempt."""
    return max(1, math.ceil(24 * 60 / poll_minutes))


def retry_wait(attempts: int, cap: int) -> int | None:
    """Polls to skip after the attempts-th failure (1, 2, 4 ... up to cap); None once a wait of cap failed."""
    if attempts >= 2 and 2 ** (attempts - 2) >= cap:
        return None
    return min(2 ** (attempts - 1), cap)


@dataclass(frozen=True)
class PageRetry:
    """An article page of a feed that yielded no article text, with the item to build it from again."""

    url: str
    title: str
    summary: str
    source: str | None
    published_at: datetime | None
    language: str | None  # None: not declared, detected when the page is ingested
    attempts: int
    wait: int
    gave_up: bool
    last_error: str
    first_failed: datetime | None
    last_failed: datetime | None

    @property
    def due(self) -> bool:
        """True when the page is to be fetched at this poll."""
        return not self.gave_up and self.wait <= 0


@dataclass(frozen=True)
class FeedStatus:
    """One feed as configured, with the outcome of its polls."""

    url: str
    source: str
    imported: bool
    last_polled: datetime | None
    last_ok: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    error_count: int
    articles_seen: int
    articles_new: int
    etag: str | None = None
    last_modified: str | None = None
    retries: tuple[PageRetry, ...] = ()

    @property
    def healthy(self) -> bool:
        """True when the last poll succeeded (or the feed was never polled)."""
        if self.last_error_at is None:
            return True
        return self.last_ok is not None and self.last_ok >= self.last_error_at


class FeedStateStore:
    """Imported feeds and per-feed poll state (validators, counters, last error) in articles.db."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def _write(self, sql: str, params: Iterable[object]) -> None:
        # isolation_level=None: each statement commits on its own, which is all the atomicity needed here.
        self._conn.execute(sql, tuple(params))

    def imported(self) -> list[FeedSettings]:
        """Feeds added by OPML import, oldest first."""
        rows = self._conn.execute(
            "SELECT url, source, language, fetch_full_text FROM feeds ORDER BY added_at, url"
        ).fetchall()
        return [
            FeedSettings(url=r["url"], source=r["source"], language=r["language"], fetch_full_text=bool(r[3]))
            for r in rows
        ]

    def add(self, feed: FeedSettings, title: str | None = None) -> bool:
        """Add an imported feed; False when its URL is already there."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO feeds (url, source, language, fetch_full_text, title, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (feed_key(feed.url), feed.source, feed.language, int(feed.fetch_full_text), title, _now()),
        )
        return cur.rowcount > 0

    def state(self, url: str) -> dict[str, Any] | None:
        """The stored state row of a feed."""
        row = self._conn.execute("SELECT * FROM feed_state WHERE url = ?", (feed_key(url),)).fetchone()
        return dict(row) if row is not None else None

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) stored after the feed's articles were last ingested."""
        row = self.state(url)
        return (row["etag"], row["last_modified"]) if row is not None else (None, None)

    def _ensure(self, url: str) -> str:
        key = feed_key(url)
        self._write("INSERT OR IGNORE INTO feed_state (url) VALUES (?)", (key,))
        return key

    def record_ok(self, url: str, etag: str | None, last_modified: str | None, seen: int, new: int) -> None:
        """A successful poll whose articles are ingested; pages that failed are kept as retries instead."""
        key, now = self._ensure(url), _now()
        self._write(
            "UPDATE feed_state SET etag = ?, last_modified = ?, last_polled = ?, last_ok = ?,"
            " articles_seen = articles_seen + ?, articles_new = articles_new + ? WHERE url = ?",
            (etag, last_modified, now, now, seen, new, key),
        )

    def record_not_modified(self, url: str) -> None:
        """A 304: the feed is fine and unchanged."""
        key, now = self._ensure(url), _now()
        self._write("UPDATE feed_state SET last_polled = ?, last_ok = ? WHERE url = ?", (now, now, key))

    def record_error(self, url: str, reason: str, polled: bool = True) -> None:
        """A failed poll (or a failed article page) with its reason; retried at the next poll."""
        key, now = self._ensure(url), _now()
        self._write(
            "UPDATE feed_state SET last_error = ?, last_error_at = ?, error_count = error_count + 1,"
            " last_polled = CASE WHEN ? THEN ? ELSE last_polled END WHERE url = ?",
            (reason[:1000], now, int(polled), now, key),
        )

    def retries(self, url: str) -> dict[str, PageRetry]:
        """The failed article pages of a feed by page URL, given-up ones included."""
        rows = self._conn.execute(
            "SELECT * FROM page_retries WHERE feed = ? ORDER BY first_failed, url", (feed_key(url),)
        ).fetchall()
        return {
            r["url"]: PageRetry(
                url=r["url"],
                title=r["title"],
                summary=r["summary"],
                source=r["source"],
                published_at=from_iso(r["published_at"]),
                language=r["language"] or None,
                attempts=int(r["attempts"]),
                wait=int(r["wait"]),
                gave_up=bool(r["gave_up"]),
                last_error=r["last_error"],
                first_failed=from_iso(r["first_failed"]),
                last_failed=from_iso(r["last_failed"]),
            )
            for r in rows
        }

    def tick_retries(self, url: str) -> None:
        """One more poll of the feed went by: every waiting page is one poll closer to its next attempt."""
        self._write(
            "UPDATE page_retries SET wait = wait - 1 WHERE feed = ? AND wait > 0 AND gave_up = 0",
            (feed_key(url),),
        )

    def record_page_failure(self, url: str, item: Article, reason: str, cap: int) -> PageRetry:
        """A page attempt failed: schedule the next one (or give up) and remember the item to rebuild it."""
        key, now, page = feed_key(url), _now(), item.url or ""
        row = self._conn.execute(
            "SELECT attempts FROM page_retries WHERE feed = ? AND url = ?", (key, page)
        ).fetchone()
        attempts = 1 + (int(row["attempts"]) if row is not None else 0)
        wait = retry_wait(attempts, cap)
        self._write(
            "INSERT INTO page_retries (feed, url, title, summary, source, published_at, language, attempts,"
            " wait, gave_up, last_error, first_failed, last_failed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (feed, url) DO UPDATE SET title = excluded.title, summary = excluded.summary,"
            " source = excluded.source, published_at = excluded.published_at, language = excluded.language,"
            " attempts = excluded.attempts, wait = excluded.wait, gave_up = excluded.gave_up,"
            " last_error = excluded.last_error, last_failed = excluded.last_failed",
            (
                key, page, item.title, item.body, item.source, to_iso(item.published_at), item.language or "",
                attempts, wait or 0, int(wait is None), reason[:1000], now, now,
            ),
        )  # fmt: skip
        return self.retries(url)[page]

    def clear_retry(self, url: str, page: str) -> None:
        """The page gave its article text (or is no longer wanted): stop retrying it."""
        self._write("DELETE FROM page_retries WHERE feed = ? AND url = ?", (feed_key(url), page))

    def forget_given_up(self, url: str, listed: Iterable[str]) -> None:
        """Given-up pages whose items left the feed are never fetched again; their records can go."""
        key = feed_key(url)
        keep = set(listed)
        for row in self._conn.execute(
            "SELECT url FROM page_retries WHERE feed = ? AND gave_up = 1", (key,)
        ).fetchall():
            if row["url"] not in keep:
                self.clear_retry(url, row["url"])


def _now() -> str:
    return to_iso(datetime.now(UTC)) or ""


def configured_feeds(settings: Settings) -> list[FeedSettings]:
    """The feeds of settings.toml followed by imported ones, one per URL (settings win)."""
    feeds: dict[str, FeedSettings] = {}
    for feed in settings.corpus.feeds:
        feeds.setdefault(feed_key(feed.url), feed)
    storage = Storage.from_settings(settings)
    if storage.has_feed_state():
        state = storage.feed_state()
        try:
            for feed in state.imported():
                feeds.setdefault(feed_key(feed.url), feed)
        finally:
            state.close()
    return list(feeds.values())


def feed_stats(settings: Settings) -> list[FeedStatus]:
    """Every configured feed with its poll counters and last error."""
    settings_urls = {feed_key(f.url) for f in settings.corpus.feeds}
    state = Storage.from_settings(settings).feed_state()
    try:
        out = []
        for feed in configured_feeds(settings):
            row = state.state(feed.url)
            get = (row or {}).get
            out.append(
                FeedStatus(
                    url=feed.url,
                    source=feed.source,
                    imported=feed_key(feed.url) not in settings_urls,
                    last_polled=from_iso(get("last_polled")),
                    last_ok=from_iso(get("last_ok")),
                    last_error=get("last_error"),
                    last_error_at=from_iso(get("last_error_at")),
                    error_count=int(get("error_count") or 0),
                    articles_seen=int(get("articles_seen") or 0),
                    articles_new=int(get("articles_new") or 0),
                    etag=get("etag"),
                    last_modified=get("last_modified"),
                    retries=tuple(state.retries(feed.url).values()),
                )
            )
        return out
    finally:
        state.close()


class OpmlOutline(BaseModel):
    """A feed outline of an OPML file (untrusted input)."""

    url: str = Field(min_length=8, max_length=2000)
    source: str = Field(min_length=1, max_length=200)
    language: str | None = Field(None, max_length=20)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("feed URL must be http(s)")
        return value.strip()


def read_opml(path: Path) -> list[OpmlOutline]:
    """The feed outlines (those with an xmlUrl) of an OPML file, at any nesting depth."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError as exc:
        raise InputError(f"OPML file not found: {path}") from exc
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"{path}: not a readable OPML file: {exc}") from exc
    if root.tag.lower() != "opml":
        raise InputError(f"{path}: not an OPML file (root element <{root.tag}>)")
    out = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url:
            continue
        name = (outline.get("text") or outline.get("title") or urlsplit(url).netloc).strip()
        try:
            out.append(OpmlOutline(url=url, source=name, language=outline.get("language")))
        except ValidationError as exc:
            log.warning("%s: skipping outline %r: %s", path, url, exc.errors()[0]["msg"])
    return out


def import_opml(
    settings: Settings, path: Path, *, source: str | None = None, fetch_full_text: bool = False
) -> int:
    """Add the feeds of an OPML file to the imported feeds; returns how many were new."""
    outlines = read_opml(path)
    known = {feed_key(f.url) for f in settings.corpus.feeds}
    state = Storage.from_settings(settings).feed_state()
    added = 0
    try:
        for o in outlines:
            if feed_key(o.url) in known:
                continue
            feed = FeedSettings(
                url=o.url, source=source or o.source, language=o.language, fetch_full_text=fetch_full_text
            )
            added += state.add(feed, title=o.source)
    finally:
        state.close()
    log.info("imported %d new feeds of %d in %s", added, len(outlines), path)
    return added
