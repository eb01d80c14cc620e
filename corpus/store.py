"""SQLite (WAL) article store: idempotent upserts, exact-duplicate detection, and small key/value state."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.db import Database, from_iso, to_iso
from corpus.models import Article
from corpus.repos import StoredShingles

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
CREATE TABLE IF NOT EXISTS near_dup_docs (
    article_id TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, shingles BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS near_dup_tokens (token INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS near_dup_tokens_token ON near_dup_tokens(token);
CREATE INDEX IF NOT EXISTS near_dup_tokens_article ON near_dup_tokens(article_id);
"""

# BCP 47 "undetermined": an article stored without going through language resolution.
UNDETERMINED = "und"


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


def article_from_row(row: Any, read_time: Callable[[Any], datetime | None]) -> Article:
    """An article from a database row of either store; read_time turns its stored times into datetimes."""
    return Article(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        url=row["url"],
        source=row["source"],
        published_at=read_time(row["published_at"]),
        language=row["language"],
        fetched_at=read_time(row["fetched_at"]),
        hash=row["hash"],
    )


def _row_to_article(row: sqlite3.Row) -> Article:
    return article_from_row(row, from_iso)


class ArticleStore(Database):
    """The articles of the corpus, in one SQLite file under data_dir."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    def upsert(self, articles: Iterable[Article]) -> UpsertReport:
        """Insert new articles, replace changed ones, skip unchanged ones and exact duplicates.

        An unchanged article whose language now reads differently (declared since, or detected where an
        older newsbot stored the default) gets the new language; an unresolved one is stored as "und".
        """
        report = UpsertReport()
        with self.transaction() as conn:
            for art in articles:
                language = art.language or UNDETERMINED
                old = conn.execute("SELECT hash, language FROM articles WHERE id = ?", (art.id,)).fetchone()
                if old is not None and old["hash"] == art.hash:
                    if art.language and old["language"] != language:
                        conn.execute("UPDATE articles SET language = ? WHERE id = ?", (language, art.id))
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
                        language,
                        to_iso(art.fetched_at or datetime.now(UTC)),
                        art.hash,
                    ),
                )
                (report.updated if old is not None else report.added).append(art.id)
        return report

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

    def by_source_urls(self, source: str, urls: Sequence[str]) -> dict[str, Article]:
        """A source's stored articles under these URLs, by URL."""
        out: dict[str, Article] = {}
        for start in range(0, len(urls), 500):
            part = list(urls[start : start + 500])
            marks = ",".join("?" * len(part))
            rows = self.execute(
                f"SELECT * FROM articles WHERE source = ? AND url IN ({marks})", [source, *part]
            )
            out.update({row["url"]: _row_to_article(row) for row in rows})
        return out

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

    def languages(self) -> list[tuple[str, int]]:
        """Articles per language, most first."""
        rows = self.execute(
            "SELECT language, COUNT(*) FROM articles GROUP BY language ORDER BY COUNT(*) DESC, language"
        )
        return [(str(r[0]), int(r[1])) for r in rows]

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

    # -- the near-duplicate index of corpus/dedup.py ----------------------------------------------------

    def near_dup_reset(self, state_key: str, state_value: str) -> None:
        """Empty the near-duplicate index and record what it is now built for."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM near_dup_tokens")
            conn.execute("DELETE FROM near_dup_docs")
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (state_key, state_value))

    def near_dup_changes(self) -> tuple[list[str], list[tuple[str, str, str, str]]]:
        """(ids whose entry is stale, (id, title, body, hash) of articles whose entry is missing or stale)."""
        stale = self.execute(
            "SELECT d.article_id FROM near_dup_docs d LEFT JOIN articles a ON a.id = d.article_id"
            " WHERE a.hash IS NULL OR a.hash != d.hash"
        )
        missing = self.execute(
            "SELECT a.id, a.title, a.body, a.hash FROM articles a"
            " LEFT JOIN near_dup_docs d ON d.article_id = a.id WHERE d.article_id IS NULL OR d.hash != a.hash"
        )
        return [r[0] for r in stale], [(r[0], r[1], r[2], r[3]) for r in missing]

    def near_dup_write(
        self, remove: Sequence[str], docs: Sequence[tuple[str, str, int, bytes]], tokens: Sequence[tuple[int, str]]
    ) -> None:
        """Replace the entries of `remove` and of the docs' ids: (id, hash, size, shingles), (token, id)."""
        with self.transaction() as conn:
            for article_id in [*remove, *(d[0] for d in docs)]:
                conn.execute("DELETE FROM near_dup_tokens WHERE article_id = ?", (article_id,))
                conn.execute("DELETE FROM near_dup_docs WHERE article_id = ?", (article_id,))
            conn.executemany("INSERT INTO near_dup_tokens (token, article_id) VALUES (?, ?)", tokens)
            conn.executemany(
                "INSERT INTO near_dup_docs (article_id, hash, size, shingles) VALUES (?, ?, ?, ?)", docs
            )

    def near_dup_candidates(
        self,
        tokens: Sequence[int],
        exclude: str,
        sizes: tuple[int, int],
        window: tuple[datetime, datetime] | None,
    ) -> list[StoredShingles]:
        """Stored entries sharing a token, of a size within `sizes`, dated within `window` when given."""
        sql = (
            "SELECT d.article_id, d.shingles, a.url, a.title, a.source,"
            " COALESCE(a.published_at, a.fetched_at) AS at"
            " FROM near_dup_docs d JOIN articles a ON a.id = d.article_id"
            " WHERE d.article_id IN"
            f" (SELECT t.article_id FROM near_dup_tokens t WHERE t.token IN ({','.join('?' * len(tokens))}))"
            " AND d.article_id != ? AND d.size BETWEEN ? AND ?"
        )
        params: list[object] = [*tokens, exclude, *sizes]
        if window is not None:
            sql += " AND COALESCE(a.published_at, a.fetched_at) BETWEEN ? AND ?"
            params += [to_iso(window[0]), to_iso(window[1])]
        return [
            StoredShingles(r["article_id"], r["shingles"], r["url"], r["title"], r["source"], from_iso(r["at"]))
            for r in self.execute(sql, params)
        ]
