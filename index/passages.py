"""The passage table of one index generation, with its BM25 keyword index (SQLite FTS5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from corpus.db import Database, from_iso, to_iso
from corpus.models import Article
from index.keywords import keyword_text
from index.models import Chunk
from index.query import Filters
from index.stores.base import NO_FILTERS, VectorAttrs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    url TEXT,
    source TEXT,
    published_at TEXT,
    effective_at TEXT,
    -- What the keyword index holds instead of title / text (their Snowball stems, index/keywords.py);
    -- NULL where the text is indexed as written (English, and languages without a stemmer).
    kw_title TEXT,
    kw_text TEXT,
    fts_title TEXT GENERATED ALWAYS AS (COALESCE(kw_title, title)) VIRTUAL,
    fts_text TEXT GENERATED ALWAYS AS (COALESCE(kw_text, text)) VIRTUAL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE INDEX IF NOT EXISTS chunks_effective ON chunks(effective_at);
CREATE TABLE IF NOT EXISTS indexed (article_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    fts_title, fts_text, content='chunks', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, fts_title, fts_text) VALUES (new.id, new.fts_title, new.fts_text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, fts_title, fts_text)
    VALUES ('delete', old.id, old.fts_title, old.fts_text);
END;
"""

# Most postings one BM25 query may score: past it the commonest terms are left to the dense side.
# FTS5 costs ~2 us a posting: with 30k, BM25 p95 was 80 ms at 100k passages (bench/speed.py), and on
# RealTime QA hybrid mode lost one question of Hit@1 against 50k (bench/quality.py).
BM25_POSTINGS_BUDGET = 30_000
# Terms whose (capped) posting counts one store remembers; past it the memory starts over.
DF_CACHE_TERMS = 100_000


@dataclass(frozen=True)
class PassageRow:
    """One stored passage with the metadata retrieval needs."""

    id: int
    article_id: str
    ord: int
    title: str
    text: str
    embed_hash: str
    url: str | None
    source: str | None
    published_at: datetime | None
    effective_at: datetime | None

    @property
    def attrs(self) -> VectorAttrs:
        """What the vector store's filters see of this passage."""
        return VectorAttrs(effective_at=self.effective_at, source=self.source)


class PassageIndex(Protocol):
    """The passages of one generation with their keyword index (SQLite FTS5 here, PostgreSQL in pgpassages.py)."""

    def indexed_versions(self) -> dict[str, str]: ...
    def replace_articles(
        self, remove: Sequence[str], articles: Sequence[tuple[Article, Sequence[Chunk]]]
    ) -> tuple[list[int], list[int]]: ...
    def count(self) -> int: ...
    def max_id(self) -> int: ...
    def all_ids_and_hashes(self) -> list[tuple[int, str]]: ...
    def get(self, ids: Sequence[int]) -> dict[int, PassageRow]: ...
    def keyword_search(
        self, terms: Sequence[str], k: int, filters: Filters = NO_FILTERS, title_weight: float = 0.5
    ) -> list[tuple[int, float]]: ...
    def close(self) -> None: ...


class PassageStore(Database):
    """Passages of one generation and their FTS5 BM25 index."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        # Posting counts by (term, budget), valid while the database is unchanged (see _affordable_terms).
        self._postings: dict[tuple[str, int], int] = {}
        self._postings_version = -1

    def indexed_versions(self) -> dict[str, str]:
        """Article id to the content hash its passages were built from."""
        with self._lock:
            return {r[0]: r[1] for r in self._conn.execute("SELECT article_id, hash FROM indexed")}

    def replace_articles(
        self, remove: Sequence[str], articles: Sequence[tuple[Article, Sequence[Chunk]]]
    ) -> tuple[list[int], list[int]]:
        """Drop the passages of `remove` and insert new ones; returns (removed ids, added ids)."""
        removed: list[int] = []
        added: list[int] = []
        with self.transaction() as conn:
            for article_id in remove:
                removed += [
                    r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
                ]
                conn.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
                conn.execute("DELETE FROM indexed WHERE article_id = ?", (article_id,))
            for article, chunks in articles:
                effective = to_iso(article.published_at or article.fetched_at)
                kw_title = keyword_text(article.title, article.language)
                for chunk in chunks:
                    cur = conn.execute(
                        "INSERT INTO chunks (article_id, ord, title, text, embed_hash, url, source,"
                        " published_at, effective_at, kw_title, kw_text)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            article.id,
                            chunk.ord,
                            article.title,
                            chunk.text,
                            chunk.hash,
                            article.url,
                            article.source,
                            to_iso(article.published_at),
                            effective,
                            kw_title,
                            keyword_text(chunk.text, article.language),
                        ),
                    )
                    added.append(int(cur.lastrowid or 0))
                conn.execute(
                    "INSERT OR REPLACE INTO indexed (article_id, hash) VALUES (?, ?)",
                    (article.id, article.hash),
                )
            # data_version does not move for this connection's own commits, so its counts go here.
            self._postings.clear()
        return removed, added

    def count(self) -> int:
        """Number of passages."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def max_id(self) -> int:
        """The highest chunk id (0 when empty)."""
        with self._lock:
            return int(self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0])

    def all_ids_and_hashes(self) -> list[tuple[int, str]]:
        """Every chunk id with its embedding hash, to reconcile the vector index."""
        with self._lock:
            return [(int(r[0]), str(r[1])) for r in self._conn.execute("SELECT id, embed_hash FROM chunks")]

    def get(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        """Passages by chunk id."""
        out: dict[int, PassageRow] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                part = list(ids[start : start + 500])
                marks = ",".join("?" * len(part))
                for r in self._conn.execute(f"SELECT * FROM chunks WHERE id IN ({marks})", part):
                    out[r["id"]] = PassageRow(
                        id=r["id"],
                        article_id=r["article_id"],
                        ord=r["ord"],
                        title=r["title"],
                        text=r["text"],
                        embed_hash=r["embed_hash"],
                        url=r["url"],
                        source=r["source"],
                        published_at=from_iso(r["published_at"]),
                        effective_at=from_iso(r["effective_at"]),
                    )
        return out

    @staticmethod
    def _filter_sql(filters: Filters) -> tuple[str, list[object]]:
        clauses: list[str] = ["1"]
        params: list[object] = []
        if filters.since is not None:
            clauses.append("effective_at >= ?")
            params.append(to_iso(filters.since))
        if filters.until is not None:
            clauses.append("effective_at <= ?")
            params.append(to_iso(filters.until))
        if filters.sources:
            clauses.append(f"lower(source) IN ({','.join('?' * len(filters.sources))})")
            params += [s.lower() for s in filters.sources]
        return " AND ".join(clauses), params

    def keyword_search(
        self, terms: Sequence[str], k: int, filters: Filters = NO_FILTERS, title_weight: float = 0.5
    ) -> list[tuple[int, float]]:
        """Top k chunk ids passing the filters by BM25 (title and text columns), best first, positive scores."""
        if not terms:
            return []
        with self._lock:
            chosen, over_budget = self._affordable_terms(terms)
            match = " OR ".join(_phrase(t) for t in chosen)
            # FTS5's bm25() is lower-is-better; negate so that higher is better like cosine.
            if filters.empty:
                # Without filters the join to chunks only costs a row lookup per match.
                inner = "SELECT rowid, -bm25(chunks_fts, ?, 1.0) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
                params: list[object] = [title_weight, match]
            else:
                where, filter_params = self._filter_sql(filters)
                inner = (
                    "SELECT chunks_fts.rowid, -bm25(chunks_fts, ?, 1.0) AS s FROM chunks_fts"
                    f" JOIN chunks ON chunks.id = chunks_fts.rowid WHERE chunks_fts MATCH ? AND {where}"
                )
                params = [title_weight, match, *filter_params]
            if over_budget:
                # Even the rarest term has more postings than the budget (10M passages: a 6 s query): score
                # only its newest matches. Rowids grow with ingest, so this is the recent window first.
                sql = f"SELECT * FROM ({inner} ORDER BY chunks_fts.rowid DESC LIMIT ?) ORDER BY s DESC LIMIT ?"
                params += [BM25_POSTINGS_BUDGET, k]
            else:
                sql = f"{inner} ORDER BY bm25(chunks_fts, ?, 1.0) LIMIT ?"
                params += [title_weight, k]
            rows = self._conn.execute(sql, params).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def _affordable_terms(self, terms: Sequence[str]) -> tuple[list[str], bool]:
        """The rarest terms whose posting lists fit BM25_POSTINGS_BUDGET (at least the rarest), and whether
        even that one is over it.

        FTS5 scores every passage matching any OR-ed term before it can sort, so a query's cost is the sum
        of its terms' document frequencies: at a million passages one common word means hundreds of
        thousands of scored rows. The most common terms add the least to BM25 (lowest IDF) and the dense
        side still sees the whole question, so they are the ones dropped. Counts stop at the budget, which
        keeps the counting itself cheap.
        """
        counts = {t: self._postings_count(t, BM25_POSTINGS_BUDGET + 1) for t in terms}
        keep = terms_within_budget(counts, BM25_POSTINGS_BUDGET)
        return [t for t in terms if t in keep], sum(counts[t] for t in keep) > BM25_POSTINGS_BUDGET

    def _postings_count(self, term: str, cap: int) -> int:
        """How many passages match `term`, counted up to `cap`; remembered until the database changes.

        Counting reads up to `cap` postings per term (about half of a keyword search at 1M passages), and
        the common terms that cost the most recur in question after question. PRAGMA data_version changes
        when another connection commits; this connection's own writes clear the memory in replace_articles.
        """
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._postings_version or len(self._postings) >= DF_CACHE_TERMS:
            self._postings.clear()
            self._postings_version = version
        key = (term, cap)
        count = self._postings.get(key)
        if count is None:
            count = int(
                self._conn.execute(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                    (_phrase(term), cap),
                ).fetchone()[0]
            )
            self._postings[key] = count
        return count


def terms_within_budget(counts: Mapping[str, int], budget: int) -> set[str]:
    """The rarest terms whose posting counts add up to at most `budget`, and always the rarest one."""
    keep: set[str] = set()
    total = 0
    for t in sorted(counts, key=lambda t: counts[t]):
        if keep and total + counts[t] > budget:
            break
        keep.add(t)
        total += counts[t]
    return keep


def _phrase(term: str) -> str:
    """A term quoted as an FTS5 phrase, so that no word is read as query syntax."""
    return '"' + term.replace('"', '""') + '"'
