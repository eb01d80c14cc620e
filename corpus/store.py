"""SQLite (WAL) article store: idempotent upserts, exact-duplicate detection, and small key/value state."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from corpus.errors import StoreError
from corpus.models import Article

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    source TEXT,
    published_at TEXT,
    language TEXT NOT NULL DEFAULT 'en',
    fetched_at TEXT,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_hash ON articles(hash);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def to_iso(value: datetime | None) -> str | None:
    """Store datetimes as UTC ISO 8601 so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str | None) -> datetime | None:
    """Parse a stored ISO 8601 datetime back."""
    return datetime.fromisoformat(value) if value else None


def connect(path: Path) -> sqlite3.Connection:
    """Open a SQLite database in WAL mode, shared safely across threads (callers hold the lock)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


@dataclass
class UpsertReport:
    """What an upsert did to each article."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        """Ids whose text is new or different."""
        return self.added + self.updated


def _row_to_article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        url=row["url"],
        source=row["source"],
        published_at=from_iso(row["published_at"]),
        language=row["language"],
        fetched_at=from_iso(row["fetched_at"]),
        hash=row["hash"],
    )


class Database:
    """One SQLite connection shared by threads behind a lock, with atomic write transactions."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = connect(path)
        with self._lock:
            self._conn.executescript(schema)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands or none of it does."""
        # BEGIN IMMEDIATE takes SQLite's write lock up front, so a write is atomic across processes too.
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        """Run one read query and return all rows."""
        with self._lock:
            return list(self._conn.execute(sql, tuple(params)))


class ArticleStore(Database):
    """The articles of the corpus, in one SQLite file under data_dir."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def upsert(self, articles: Iterable[Article]) -> UpsertReport:
        """Insert new articles, replace changed ones, skip unchanged ones and exact duplicates."""
        report = UpsertReport()
        with self.transaction() as conn:
            for art in articles:
                old = conn.execute("SELECT hash FROM articles WHERE id = ?", (art.id,)).fetchone()
                if old is not None and old["hash"] == art.hash:
                    report.unchanged.append(art.id)
                    continue
                twin = conn.execute(
                    "SELECT id FROM articles WHERE hash = ? AND id != ? LIMIT 1", (art.hash, art.id)
                ).fetchone()
                if twin is not None:
                    report.duplicates.append(art.id)
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO articles"
                    " (id, title, body, url, source, published_at, language, fetched_at, hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        art.id,
                        art.title,
                        art.body,
                        art.url,
                        art.source,
                        to_iso(art.published_at),
                        art.language,
                        to_iso(art.fetched_at or datetime.now(UTC)),
                        art.hash,
                    ),
                )
                (report.updated if old is not None else report.added).append(art.id)
        return report

    def delete(self, article_ids: Iterable[str]) -> int:
        """Remove articles by id; returns how many were removed."""
        with self.transaction() as conn:
            return sum(conn.execute("DELETE FROM articles WHERE id = ?", (i,)).rowcount for i in article_ids)

    def get(self, article_id: str) -> Article | None:
        """One article by id."""
        rows = self.execute("SELECT * FROM articles WHERE id = ?", (article_id,))
        return _row_to_article(rows[0]) if rows else None

    def get_many(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Several articles by id."""
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, Article] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self.execute(f"SELECT * FROM articles WHERE id IN ({marks})", part):
                out[row["id"]] = _row_to_article(row)
        return out

    def find_by_url(self, url: str) -> Article | None:
        """The article stored under a URL, if any."""
        rows = self.execute("SELECT * FROM articles WHERE url = ? LIMIT 1", (url,))
        return _row_to_article(rows[0]) if rows else None

    def iter_articles(self, batch: int = 500) -> Iterator[Article]:
        """Every stored article, oldest first, without holding them all in memory."""
        last = ""
        while True:
            rows = self.execute("SELECT * FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            if not rows:
                return
            for row in rows:
                yield _row_to_article(row)
            last = rows[-1]["id"]

    def versions(self) -> dict[str, str]:
        """Map of article id to content hash, for syncing the index."""
        return {row["id"]: row["hash"] for row in self.execute("SELECT id, hash FROM articles")}

    def latest(self, n: int, since: datetime | None = None, until: datetime | None = None) -> list[Article]:
        """The newest articles by publication date (undated ones by fetch date)."""
        rows = self.execute(
            "SELECT * FROM articles WHERE (? IS NULL OR COALESCE(published_at, fetched_at) >= ?)"
            " AND (? IS NULL OR COALESCE(published_at, fetched_at) <= ?)"
            " ORDER BY COALESCE(published_at, fetched_at) DESC, id LIMIT ?",
            (to_iso(since), to_iso(since), to_iso(until), to_iso(until), n),
        )
        return [_row_to_article(r) for r in rows]

    def count(self) -> int:
        """How many articles are stored."""
        return int(self.execute("SELECT COUNT(*) FROM articles")[0][0])

    def sources(self) -> list[tuple[str | None, int, datetime | None, datetime | None]]:
        """Per agency: article count and the range of publication dates."""
        rows = self.execute(
            "SELECT source, COUNT(*), MIN(published_at), MAX(published_at) FROM articles"
            " GROUP BY source ORDER BY COUNT(*) DESC"
        )
        return [(r[0], int(r[1]), from_iso(r[2]), from_iso(r[3])) for r in rows]

    def get_state(self, key: str) -> str | None:
        """A small persisted value (counters, last reindex, ...)."""
        rows = self.execute("SELECT value FROM state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        """Persist a small value."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def add_to_counter(self, key: str, amount: int) -> None:
        """Add to a persisted integer counter."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                (key, str(amount)),
            )
