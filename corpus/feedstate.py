"""Which feeds are polled (settings + OPML imports) and their per-feed state in SQLite under data_dir."""

from __future__ import annotations

import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, ValidationError, field_validator

from corpus.errors import InputError
from corpus.settings import FeedSettings, Settings
from corpus.store import connect, from_iso, to_iso

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
"""


def articles_db(settings: Settings) -> Path:
    """The SQLite file holding articles, imported feeds and feed state."""
    return settings.data_dir / "articles.db"


def feed_key(url: str) -> str:
    """A feed URL normalised for de-duplication: trimmed, lower-case scheme and host, no fragment."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


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

    def state(self, url: str) -> sqlite3.Row | None:
        """The stored state row of a feed."""
        row: sqlite3.Row | None = self._conn.execute(
            "SELECT * FROM feed_state WHERE url = ?", (feed_key(url),)
        ).fetchone()
        return row

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) stored after the feed's articles were last ingested."""
        row = self.state(url)
        return (row["etag"], row["last_modified"]) if row is not None else (None, None)

    def _ensure(self, url: str) -> str:
        key = feed_key(url)
        self._write("INSERT OR IGNORE INTO feed_state (url) VALUES (?)", (key,))
        return key

    def record_ok(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        seen: int,
        new: int,
        keep_validators: bool,
    ) -> None:
        """A successful poll; validators are replaced only when every article of the feed was ingested."""
        key, now = self._ensure(url), _now()
        if keep_validators:
            self._write(
                "UPDATE feed_state SET etag = ?, last_modified = ? WHERE url = ?", (etag, last_modified, key)
            )
        else:
            # Forget the validators so the next poll fetches the whole feed again and retries what failed.
            self._write("UPDATE feed_state SET etag = NULL, last_modified = NULL WHERE url = ?", (key,))
        self._write(
            "UPDATE feed_state SET last_polled = ?, last_ok = ?, articles_seen = articles_seen + ?,"
            " articles_new = articles_new + ? WHERE url = ?",
            (now, now, seen, new, key),
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


def _now() -> str:
    return to_iso(datetime.now(UTC)) or ""


def configured_feeds(settings: Settings) -> list[FeedSettings]:
    """The feeds of settings.toml followed by imported ones, one per URL (settings win)."""
    feeds: dict[str, FeedSettings] = {}
    for feed in settings.corpus.feeds:
        feeds.setdefault(feed_key(feed.url), feed)
    path = articles_db(settings)
    if path.exists():
        state = FeedStateStore(path)
        try:
            for feed in state.imported():
                feeds.setdefault(feed_key(feed.url), feed)
        finally:
            state.close()
    return list(feeds.values())


def feed_stats(settings: Settings) -> list[FeedStatus]:
    """Every configured feed with its poll counters and last error."""
    settings_urls = {feed_key(f.url) for f in settings.corpus.feeds}
    state = FeedStateStore(articles_db(settings))
    try:
        out = []
        for feed in configured_feeds(settings):
            row = state.state(feed.url)
            get = (dict(row) if row is not None else {}).get
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
    state = FeedStateStore(articles_db(settings))
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
