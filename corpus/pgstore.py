"""PostgreSQL article store: the same contract as store.py's SQLite one, shared by every replica."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from corpus.models import Article
from corpus.pgdb import PgDatabase, Row, aware, from_db
from corpus.repos import StoredShingles
from corpus.store import UNDETERMINED, UpsertReport, article_from_row

_COLUMNS = "id, title, body, url, source, published_at, language, fetched_at, hash"


def _article(row: Row) -> Article:
    return article_from_row(row, from_db)


class PgArticleStore(PgDatabase):
    """The articles of the corpus in PostgreSQL; many processes on many machines may write at once."""

    def upsert(self, articles: Iterable[Article]) -> UpsertReport:
        """Insert new articles, replace changed ones, skip unchanged ones and exact duplicates."""
        report = UpsertReport()
        with self.transaction() as conn:
            for art in articles:
                language = art.language or UNDETERMINED
                # FOR UPDATE: a second writer of the same id waits here instead of deciding on stale data.
                old = conn.execute(
                    "SELECT hash, language FROM articles WHERE id = %s FOR UPDATE", (art.id,)
                ).fetchone()
                if old is not None and old["hash"] == art.hash:
                    if art.language and old["language"] != language:
                        conn.execute("UPDATE articles SET language = %s WHERE id = %s", (language, art.id))
                    report.unchanged.append(art.id)
                    continue
                twin = conn.execute(
                    "SELECT id FROM articles WHERE hash = %s AND id <> %s LIMIT 1", (art.hash, art.id)
                ).fetchone()
                if twin is not None:
                    report.duplicates.append(art.id)
                    continue
                conn.execute(
                    f"INSERT INTO articles ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body,"
                    " url = excluded.url, source = excluded.source, published_at = excluded.published_at,"
                    " language = excluded.language, fetched_at = excluded.fetched_at, hash = excluded.hash",
                    (
                        art.id,
                        art.title,
                        art.body,
                        art.url,
                        art.source,
                        aware(art.published_at),
                        language,
                        aware(art.fetched_at or datetime.now(UTC)),
                        art.hash,
                    ),
                )
                (report.updated if old is not None else report.added).append(art.id)
        return report

    def get(self, article_id: str) -> Article | None:
        """One article by id."""
        rows = self.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = %s", (article_id,))
        return _article(rows[0]) if rows else None

    def get_many(self, article_ids: Iterable[str]) -> dict[str, Article]:
        """Several articles by id."""
        ids = list(dict.fromkeys(article_ids))
        rows = self.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = ANY(%s)", (ids,)) if ids else []
        return {r["id"]: _article(r) for r in rows}

    def by_source_urls(self, source: str, urls: Sequence[str]) -> dict[str, Article]:
        """A source's stored articles under these URLs, by URL."""
        if not urls:
            return {}
        rows = self.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE source = %s AND url = ANY(%s)", (source, list(urls))
        )
        return {r["url"]: _article(r) for r in rows}

    def versions(self) -> dict[str, str]:
        """Map of article id to content hash, for syncing the index."""
        return {r["id"]: r["hash"] for r in self.execute("SELECT id, hash FROM articles")}

    def latest(self, n: int, since: datetime | None = None, until: datetime | None = None) -> list[Article]:
        """The newest articles by publication date (undated ones by fetch date)."""
        rows = self.execute(
            f"SELECT {_COLUMNS} FROM articles"
            " WHERE (%(since)s::timestamptz IS NULL OR COALESCE(published_at, fetched_at) >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR COALESCE(published_at, fetched_at) <= %(until)s)"
            ' ORDER BY COALESCE(published_at, fetched_at) DESC, id COLLATE "C" LIMIT %(n)s',
            {"since": aware(since), "until": aware(until), "n": n},
        )
        return [_article(r) for r in rows]

    def count(self) -> int:
        """How many articles are stored."""
        return int(self.execute("SELECT COUNT(*) AS n FROM articles")[0]["n"])

    def sources(self) -> list[tuple[str | None, int, datetime | None, datetime | None]]:
        """Per agency: article count and the range of publication dates."""
        rows = self.execute(
            "SELECT source, COUNT(*) AS n, MIN(published_at) AS lo, MAX(published_at) AS hi FROM articles"
            " GROUP BY source ORDER BY COUNT(*) DESC"
        )
        return [(r["source"], int(r["n"]), from_db(r["lo"]), from_db(r["hi"])) for r in rows]

    def languages(self) -> list[tuple[str, int]]:
        """Articles per language, most first."""
        rows = self.execute(
            "SELECT language, COUNT(*) AS n FROM articles GROUP BY language"
            ' ORDER BY COUNT(*) DESC, language COLLATE "C"'
        )
        return [(str(r["language"]), int(r["n"])) for r in rows]

    def get_state(self, key: str) -> str | None:
        """A small persisted value (counters, last reindex, ...)."""
        rows = self.execute("SELECT value FROM state WHERE key = %s", (key,))
        return str(rows[0]["value"]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        """Persist a small value."""
        self.run(
            "INSERT INTO state (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def add_to_counter(self, key: str, amount: int) -> None:
        """Add to a persisted integer counter; one statement, so concurrent replicas never lose a count."""
        self.run(
            "INSERT INTO state (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = (CAST(state.value AS BIGINT) + CAST(excluded.value AS BIGINT))::text",
            (key, str(amount)),
        )

    # -- the near-duplicate index of corpus/dedup.py ----------------------------------------------------

    def near_dup_reset(self, state_key: str, state_value: str) -> None:
        """Empty the near-duplicate index and record what it is now built for."""
        with self.transaction() as conn:
            conn.execute("TRUNCATE near_dup_tokens, near_dup_docs")
            conn.execute(
                "INSERT INTO state (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (state_key, state_value),
            )

    def near_dup_changes(self) -> tuple[list[str], list[tuple[str, str, str, str]]]:
        """(ids whose entry is stale, (id, title, body, hash) of articles whose entry is missing or stale)."""
        stale = self.execute(
            "SELECT d.article_id FROM near_dup_docs d LEFT JOIN articles a ON a.id = d.article_id"
            " WHERE a.hash IS NULL OR a.hash <> d.hash"
        )
        missing = self.execute(
            "SELECT a.id, a.title, a.body, a.hash FROM articles a"
            " LEFT JOIN near_dup_docs d ON d.article_id = a.id WHERE d.article_id IS NULL OR d.hash <> a.hash"
        )
        return [r["article_id"] for r in stale], [(r["id"], r["title"], r["body"], r["hash"]) for r in missing]

    def near_dup_write(
        self, remove: Sequence[str], docs: Sequence[tuple[str, str, int, bytes]], tokens: Sequence[tuple[int, str]]
    ) -> None:
        """Replace the entries of `remove` and of the docs' ids: (id, hash, size, shingles), (token, id)."""
        ids = [*remove, *(d[0] for d in docs)]
        with self.transaction() as conn:
            if ids:
                conn.execute("DELETE FROM near_dup_tokens WHERE article_id = ANY(%s)", (ids,))
                conn.execute("DELETE FROM near_dup_docs WHERE article_id = ANY(%s)", (ids,))
            with conn.cursor() as cur:
                if tokens:
                    cur.executemany("INSERT INTO near_dup_tokens (token, article_id) VALUES (%s, %s)", tokens)
                if docs:
                    cur.executemany(
                        "INSERT INTO near_dup_docs (article_id, hash, size, shingles) VALUES (%s, %s, %s, %s)"
                        " ON CONFLICT (article_id) DO UPDATE SET hash = excluded.hash, size = excluded.size,"
                        " shingles = excluded.shingles",
                        docs,
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
            " WHERE d.article_id IN (SELECT t.article_id FROM near_dup_tokens t WHERE t.token = ANY(%s))"
            " AND d.article_id <> %s AND d.size BETWEEN %s AND %s"
        )
        params: list[object] = [[int(t) for t in tokens], exclude, *sizes]
        if window is not None:
            sql += " AND COALESCE(a.published_at, a.fetched_at) BETWEEN %s AND %s"
            params += [aware(window[0]), aware(window[1])]
        return [
            StoredShingles(
                r["article_id"], bytes(r["shingles"]), r["url"], r["title"], r["source"], from_db(r["at"])
            )
            for r in self.execute(sql, params)
        ]
