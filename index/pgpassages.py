"""PostgreSQL passages (full-text search: tsvector + GIN, ranked by BM25), serving pointer and writer lock.

Every generation's passages share one table, told apart by the generation's folder name; the pointer to
the serving generation is a row whose version replicas poll, and the writer lock an advisory lock, so
processes on different machines coordinate through the database alone.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from corpus.errors import IndexBusyError
from corpus.models import Article
from corpus.pgdb import PgDatabase, Row, aware, from_db, open_connection
from index.keywords import keyword_text
from index.models import Chunk
from index.passages import BM25_POSTINGS_BUDGET, DF_CACHE_TERMS, PassageRow, terms_within_budget
from index.query import Filters
from index.stores.base import NO_FILTERS

# A fixed advisory-lock key: one database is one newsbot deployment.
WRITER_LOCK = 0x6E657773_77726974
_COLUMNS = "id, article_id, ord, title, text, embed_hash, url, source, published_at, effective_at"
# A passage's words as a tsquery under both configs: English stems for English passages, the word (or a
# Snowball stem of index/keywords.py) as written for the others.
_TERM = "(plainto_tsquery('english', %s) || plainto_tsquery('simple', %s))"


def text_config(language: str | None, stemmed: bool) -> str:
    """The text search config of a passage: English stemming for English, 'simple' for the rest.

    Languages with a Snowball stemmer are indexed as their stems (index/keywords.py, as in the SQLite
    index), which 'simple' keeps as they are, so every language is matched the same way on both stores.
    """
    primary = (language or "").split("-")[0].lower()
    return "english" if primary == "en" and not stemmed else "simple"


def _row(r: Row) -> PassageRow:
    return PassageRow(
        id=int(r["id"]),
        article_id=r["article_id"],
        ord=int(r["ord"]),
        title=r["title"],
        text=r["text"],
        embed_hash=r["embed_hash"],
        url=r["url"],
        source=r["source"],
        published_at=from_db(r["published_at"]),
        effective_at=from_db(r["effective_at"]),
    )


class PgPassageStore(PgDatabase):
    """The passages of one generation and their full-text index, in the shared `passages` table."""

    def __init__(self, conninfo: str, password: str | None, generation: str) -> None:
        super().__init__(conninfo, password)
        self.generation = generation
        # Posting counts of terms, valid while the generation's keyword_stats and the newest id stay put.
        self._counts: dict[str, int] = {}
        self._counts_version: tuple[int, ...] = ()
        self._counts_lock = threading.Lock()

    def indexed_versions(self) -> dict[str, str]:
        """Article id to the content hash its passages were built from."""
        rows = self.execute("SELECT article_id, hash FROM indexed WHERE generation = %s", (self.generation,))
        return {r["article_id"]: r["hash"] for r in rows}

    def replace_articles(
        self, remove: Sequence[str], articles: Sequence[tuple[Article, Sequence[Chunk]]]
    ) -> tuple[list[int], list[int]]:
        """Drop the passages of `remove` and insert new ones; returns (removed ids, added ids)."""
        gen = self.generation
        rows = []
        for article, chunks in articles:
            kw_title = keyword_text(article.title, article.language)
            for chunk in chunks:
                kw_text = keyword_text(chunk.text, article.language)
                rows.append(
                    (
                        gen, article.id, chunk.ord, article.title, chunk.text, chunk.hash, article.url,
                        article.source, aware(article.published_at),
                        aware(article.published_at or article.fetched_at), article.language,
                        text_config(article.language, kw_text is not None), kw_title, kw_text,
                    )
                )  # fmt: skip
        with self.transaction() as conn, conn.cursor() as cur:
            removed: list[int] = []
            length = 0  # change of the generation's total passage length, for BM25's average
            if remove:
                cur.execute(
                    "DELETE FROM passages WHERE generation = %s AND article_id = ANY(%s)"
                    " RETURNING id, length(tsv) AS length",
                    (gen, list(remove)),
                )
                gone = cur.fetchall()
                removed = [int(r["id"]) for r in gone]
                length -= sum(int(r["length"]) for r in gone)
                cur.execute(
                    "DELETE FROM indexed WHERE generation = %s AND article_id = ANY(%s)", (gen, list(remove))
                )
            added: list[int] = []
            if rows:
                cur.executemany(
                    "INSERT INTO passages (generation, article_id, ord, title, text, embed_hash, url, source,"
                    " published_at, effective_at, language, kw_config, kw_title, kw_text)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::regconfig, %s, %s)"
                    " RETURNING id, length(tsv) AS length",
                    rows,
                    returning=True,
                )
                while True:
                    new = cur.fetchall()
                    added += [int(r["id"]) for r in new]
                    length += sum(int(r["length"]) for r in new)
                    if not cur.nextset():
                        break
            if removed or added:
                cur.execute(
                    "INSERT INTO keyword_stats (generation, passages, lexemes) VALUES (%s, %s, %s)"
                    " ON CONFLICT (generation) DO UPDATE SET passages = keyword_stats.passages + excluded.passages,"
                    " lexemes = keyword_stats.lexemes + excluded.lexemes",
                    (gen, len(added) - len(removed), length),
                )
            if articles:
                cur.executemany(
                    "INSERT INTO indexed (generation, article_id, hash) VALUES (%s, %s, %s)"
                    " ON CONFLICT (generation, article_id) DO UPDATE SET hash = excluded.hash",
                    [(gen, a.id, a.hash) for a, _ in articles],
                )
        # No need to forget remembered counts here: this write moved keyword_stats or the newest id, which
        # the next _stats sees, whichever process wrote.
        return removed, added

    def count(self) -> int:
        """Number of passages."""
        return int(self.execute("SELECT COUNT(*) AS n FROM passages WHERE generation = %s", (self.generation,))[0]["n"])

    def max_id(self) -> int:
        """The highest passage id (0 when empty)."""
        rows = self.execute("SELECT COALESCE(MAX(id), 0) AS m FROM passages WHERE generation = %s", (self.generation,))
        return int(rows[0]["m"])

    def all_ids_and_hashes(self) -> list[tuple[int, str]]:
        """Every passage id with its embedding hash, to reconcile the vector index."""
        rows = self.execute("SELECT id, embed_hash FROM passages WHERE generation = %s", (self.generation,))
        return [(int(r["id"]), str(r["embed_hash"])) for r in rows]

    def get(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        """Passages by id."""
        if not len(ids):
            return {}
        rows = self.execute(
            f"SELECT {_COLUMNS} FROM passages WHERE generation = %s AND id = ANY(%s)",
            (self.generation, [int(i) for i in ids]),
        )
        return {int(r["id"]): _row(r) for r in rows}

    def keyword_search(
        self, terms: Sequence[str], k: int, filters: Filters = NO_FILTERS, title_weight: float = 0.5
    ) -> list[tuple[int, float]]:
        """Top k passage ids passing the filters by BM25 over title and text (as FTS5 ranks), best first.

        Matches come from the GIN index; each is scored by Okapi BM25 (k1 1.2, b 0.75, FTS5's IDF) from
        its tsvector's positions, with document frequencies counted per term and the generation's passage
        count and total length from keyword_stats. The same ranking as SQLite's FTS5 makes both stores give
        the same answers: with ts_rank (no IDF) the server stack's Hit@1 on the 103 RealTime QA tuning
        questions was 0.019 off SQLite's, with BM25 0.010 (bench/server_stack.py).
        """
        passages, avgdl = self._stats()
        counts = self._term_counts([t for t in dict.fromkeys(terms) if t.strip()])
        keep = terms_within_budget(counts, BM25_POSTINGS_BUDGET)
        chosen = [t for t in counts if t in keep and counts[t]]
        if not chosen:
            return []
        lexeme_terms = [(x, i + 1) for i, lexemes in enumerate(self._lexemes(chosen)) for x in lexemes]
        idf = [bm25_idf(passages, counts[t]) for t in chosen]
        where, filter_params = _filter_sql(filters)
        # Even the rarest term over the budget on its own: score only its newest matches, as FTS5 does.
        window = " ORDER BY id DESC LIMIT %s" if sum(counts[t] for t in chosen) > BM25_POSTINGS_BUDGET else ""
        # A term's frequency in a passage: its title positions (weight A) times title_weight plus its text
        # positions (B). Each side is cut down to the question's lexemes in C (ts_filter / setweight) before
        # it is unnested: unnesting every match's whole tsvector made a search 2.2 s at p50 on 65k passages.
        sql = (
            "WITH cand AS MATERIALIZED (SELECT id, length(tsv) AS dl,"
            " ts_filter(setweight(ts_filter(tsv, '{a}'), 'D', %s::text[]), '{d}') AS title,"
            " ts_filter(setweight(ts_filter(tsv, '{b}'), 'D', %s::text[]), '{d}') AS body FROM passages"
            f" WHERE generation = %s AND tsv @@ ({' || '.join([_TERM] * len(chosen))}){where}{window}),"
            " lexf AS (SELECT id, dl, lexeme, SUM(f) AS f FROM ("
            " SELECT c.id, c.dl, u.lexeme, %s * cardinality(u.positions) AS f FROM cand c, unnest(c.title) u"
            " UNION ALL SELECT c.id, c.dl, u.lexeme, cardinality(u.positions) FROM cand c, unnest(c.body) u) sides"
            " GROUP BY id, dl, lexeme),"
            " termf AS (SELECT l.id, l.dl, q.term, MAX(l.f) AS f FROM lexf l"
            " JOIN unnest(%s::text[], %s::int[]) AS q(lexeme, term) USING (lexeme) GROUP BY l.id, l.dl, q.term)"
            " SELECT id, SUM((%s::float8[])[term] * f * (1.2 + 1) / (f + 1.2 * (1 - 0.75 + 0.75 * dl / %s))) AS s"
            " FROM termf GROUP BY id ORDER BY s DESC, id LIMIT %s"
        )
        lexemes = [x for x, _ in lexeme_terms]
        params: list[object] = [lexemes, lexemes, self.generation, *[x for t in chosen for x in (t, t)]]
        params += [*filter_params, *([BM25_POSTINGS_BUDGET] if window else [])]
        params += [float(title_weight), lexemes, [i for _, i in lexeme_terms], idf, avgdl, k]
        with self.transaction() as conn:
            # OR-ed tsqueries are estimated at about twice their matches, which tips the planner into reading
            # (and detoasting) every passage; the GIN bitmap reads only the matches (0.48 s -> 0.20 s at 65k).
            conn.execute("SET LOCAL enable_seqscan = off")
            rows = conn.execute(sql, params).fetchall()
        return [(int(r["id"]), float(r["s"])) for r in rows]

    def _term_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """How many passages match each term, counted up to one past BM25_POSTINGS_BUDGET; remembered.

        As with FTS5, ranking costs one tsvector read per matching passage, so the commonest terms, which
        add the least, are left to the dense side when a question has too many matches to rank. A common
        term's count reads its first 30k matching rows (100-760 ms at 1M passages), and the common terms recur
        in question after question: counts are kept until _stats sees the generation change.
        """
        with self._counts_lock:
            known = {t: self._counts[t] for t in terms if t in self._counts}
        for t in terms:
            if t not in known:
                known[t] = int(
                    self.execute(
                        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM passages"
                        f" WHERE generation = %s AND tsv @@ {_TERM} LIMIT %s) hits",
                        (self.generation, t, t, BM25_POSTINGS_BUDGET + 1),
                    )[0]["n"]
                )
        with self._counts_lock:
            if len(self._counts) >= DF_CACHE_TERMS:
                self._counts.clear()
            self._counts.update(known)
        return {t: known[t] for t in terms}

    def _lexemes(self, terms: Sequence[str]) -> list[list[str]]:
        """Each term's lexemes under both text search configs (those its tsquery matches)."""
        rows = self.execute(
            "SELECT ord, tsvector_to_array(to_tsvector('english', t)) || tsvector_to_array(to_tsvector('simple', t))"
            " AS lexemes FROM unnest(%s::text[]) WITH ORDINALITY AS q(t, ord) ORDER BY ord",
            (list(terms),),
        )
        found = [list(dict.fromkeys(r["lexemes"])) for r in rows]
        # "McDonald's" is 'mcdonald' & 's' to the simple parser: the lone letter would count every 's'.
        return [[x for x in lexemes if len(x) > 1] or lexemes for lexemes in found]

    def _stats(self) -> tuple[int, float]:
        """The generation's passage count and average passage length in lexemes (BM25's N and avgdl).

        Also forgets the remembered posting counts when the generation changed: every write moves its
        totals or the newest passage id (ids only grow, and one writer at a time holds the writer lock).
        """
        rows = self.execute(
            "SELECT s.passages, s.lexemes, (SELECT COALESCE(MAX(id), 0) FROM passages) AS newest"
            " FROM keyword_stats s WHERE s.generation = %s",
            (self.generation,),
        )
        passages, total = (int(rows[0]["passages"]), int(rows[0]["lexemes"])) if rows else (0, 0)
        version = (passages, total, int(rows[0]["newest"]) if rows else 0)
        with self._counts_lock:
            if version != self._counts_version:
                self._counts.clear()
                self._counts_version = version
        return passages, max(total / passages, 1.0) if passages > 0 else 1.0


def bm25_idf(passages: int, matches: int) -> float:
    """FTS5's BM25 IDF of a term matching `matches` of `passages` (a small positive floor for common terms)."""
    return max(math.log((passages - matches + 0.5) / (matches + 0.5)), 1e-6)


def _filter_sql(filters: Filters) -> tuple[str, list[object]]:
    """The filters as SQL conditions on the passages table (undated passages never pass a date filter)."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.since is not None:
        clauses.append("effective_at >= %s")
        params.append(aware(filters.since))
    if filters.until is not None:
        clauses.append("effective_at <= %s")
        params.append(aware(filters.until))
    if filters.sources:
        clauses.append("lower(source) = ANY(%s)")
        params.append([s.lower() for s in filters.sources])
    return "".join(" AND " + c for c in clauses), params


class PgGenerationPointer:
    """The serving generation as a row (its version bumped at each publish) and the writer lock."""

    def __init__(self, conninfo: str, password: str | None) -> None:
        self._conninfo = conninfo
        self._password = password
        self._db = PgDatabase(conninfo, password)

    def current(self) -> str | None:
        """Name of the serving generation."""
        rows = self._db.execute("SELECT name FROM index_pointer WHERE id = 1")
        return str(rows[0]["name"]) if rows else None

    def version(self) -> int:
        """Change marker of the pointer: replicas reopen the index when it moves."""
        rows = self._db.execute("SELECT version FROM index_pointer WHERE id = 1")
        return int(rows[0]["version"]) if rows else 0

    def publish(self, name: str) -> None:
        """Make a generation the serving one, for every replica at once."""
        self._db.run(
            "INSERT INTO index_pointer (id, name, version, changed_at) VALUES (1, %s, 1, now())"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = index_pointer.version + 1,"
            " changed_at = excluded.changed_at",
            (name,),
        )

    def remove_others(self, keep: str) -> None:
        """Delete the passages of every generation but `keep` (old ones, and any a crashed rebuild left)."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM passages WHERE generation <> %s", (keep,))
            conn.execute("DELETE FROM indexed WHERE generation <> %s", (keep,))
            conn.execute("DELETE FROM keyword_stats WHERE generation <> %s", (keep,))

    @contextmanager
    def writer_lock(self, wait: bool = True) -> Iterator[None]:
        """One writer at a time across processes and machines: a session advisory lock on its own connection."""
        # Its own connection: the lock lives as long as the session, and dies with it if the process does.
        conn = open_connection(self._conninfo, self._password)
        try:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (WRITER_LOCK,)).fetchone()
                if not row or not row["ok"]:
                    raise IndexBusyError("another process is rebuilding the index right now")
            yield
        finally:
            # Ending the session releases its advisory locks, also when the writer failed.
            conn.close()

    def close(self) -> None:
        """Close the pointer's connection."""
        self._db.close()
