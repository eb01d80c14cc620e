"""The passage table in SQLite with its keyword index in tantivy (`index.keywords = "tantivy"`), for big corpora.

FTS5 scores every passage that matches any term before it can sort, so a question's cost grows with the
archive: at a million passages its BM25 took 135 ms p50 even with the commonest terms dropped. tantivy (a
Rust search library; the `tantivy` wheel has no dependencies) skips blocks of postings that cannot reach the
top k (block-max WAND) and keeps the date and the agency as columns beside each passage, so every term
counts and the filters run inside the index. The passages themselves stay in SQLite: the keyword index holds
only what is searched, under each passage's chunk id, in `keywords.tantivy/` of the generation folder.

The SQLite write commits first. A keyword index that missed a write (a crash in between, a copied folder)
is brought level when the store opens or writes next: passages past its highest id are added, and an index
that disagrees otherwise is rebuilt from the passage table, so nothing is lost that SQLite kept.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import tantivy

from corpus.db import from_iso
from corpus.errors import StoreError
from corpus.models import Article
from index.models import Chunk
from index.passages import PassageStore
from index.query import Filters
from index.stores.base import NO_FILTERS

log = logging.getLogger(__name__)

FOLDER = "keywords.tantivy"
# FTS5's tokenizer here is `porter unicode61 remove_diacritics 2`: split on non-alphanumerics, lowercase,
# fold accents, stem English. The same steps in tantivy, registered under this name on every open.
TOKENIZER = "newsbot"
# Passages with no date never pass a date filter (as in SQLite, where NULL fails every comparison).
UNDATED = -(2**62)
_WRITER_HEAP = 64_000_000
# Catching up (a crash, a bulk load written straight to SQLite) commits every batch, so it resumes too.
_REPAIR_BATCH = 200_000
_REPAIR_HEAP = 400_000_000
# Past this many passages a catch-up is a bulk load: logged, and indexed on every core.
_SMALL_WRITE = 10_000


def _analyzer() -> Any:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    builder.add_text_field("title", tokenizer_name=TOKENIZER)
    builder.add_text_field("text", tokenizer_name=TOKENIZER)
    builder.add_integer_field("effective", indexed=True, fast=True)
    builder.add_text_field("source", tokenizer_name="raw")
    return builder.build()


def _seconds(value: datetime | None) -> int:
    return UNDATED if value is None else int(value.timestamp())


class TantivyPassageStore(PassageStore):
    """SQLite passages (the PassageStore) whose keyword search runs on a tantivy index beside them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.folder = path.parent / FOLDER
        self._analyzer = _analyzer()
        self._index = self._open_index()
        self._meta_seen: tuple[int, int] = (-1, -1)
        self._level()

    def _open_index(self) -> Any:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(_schema(), path=str(self.folder), reuse=True)
        except (OSError, ValueError) as exc:
            # An index from another schema, or a damaged one: it only mirrors SQLite, so build it again.
            log.warning("keyword index %s unreadable (%s): rebuilding it from the passages", self.folder, exc)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            index = tantivy.Index(_schema(), path=str(self.folder))
        index.register_tokenizer(TOKENIZER, self._analyzer)
        return index

    def replace_articles(
        self, remove: Sequence[str], articles: Sequence[tuple[Article, Sequence[Chunk]]]
    ) -> tuple[list[int], list[int]]:
        """Drop and add passages in SQLite, then the same in the keyword index."""
        removed, added = super().replace_articles(remove, articles)
        # New passages always get ids past the highest one, so catching up adds exactly them, read back
        # as SQLite stored them (its keyword columns already hold the stems).
        with self._lock:
            if removed:
                self._write(removed, [])
            self._level(full=True)
        return removed, added

    def _write(
        self,
        remove: Iterable[int],
        docs: Iterable[tuple[int, str, str, int, str | None]],
        clear: bool = False,
        bulk: bool = False,
    ) -> None:
        """One tantivy commit: remove ids (every document when `clear`), then add documents."""
        try:
            # A bulk load indexes on every core; an ingest's few passages on one.
            writer = self._index.writer(
                heap_size=_REPAIR_HEAP if bulk else _WRITER_HEAP, num_threads=0 if bulk else 1
            )
        except ValueError as exc:
            raise StoreError(f"keyword index {self.folder} is locked by another writer: {exc}") from exc
        try:
            if clear:
                writer.delete_all_documents()
            for cid in remove:
                writer.delete_documents_by_term("id", cid)
            for cid, title, text, effective, source in docs:
                writer.add_document(
                    tantivy.Document(
                        id=cid, title=title, text=text, effective=effective, source=(source or "").lower()
                    )
                )
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        self._meta_seen = (-1, -1)
        self._reload()

    def _keyword_state(self) -> tuple[int, int]:
        """(documents, highest id) of the keyword index."""
        self._reload()
        searcher = self._index.searcher()
        count = int(searcher.num_docs)
        if not count:
            return 0, 0
        hits = searcher.search(
            tantivy.Query.all_query(), 1, count=False, order_by_field="id", order=tantivy.Order.Desc
        ).hits
        top = searcher.fast_field_values("id", [hits[0][1]])[0] if hits else 0
        return count, int(top)

    def _level(self, full: bool = False) -> None:
        """Bring the keyword index level with the passage table (see the module docstring).

        Opening only looks for passages past the index's highest id (cheap at any size; counting a 10M-row
        table is not); a write also compares the counts, so documents a crash left behind go at the next one.
        """
        with self._lock:
            count, top = self._keyword_state()
            behind = int(self._conn.execute("SELECT COUNT(*) FROM chunks WHERE id > ?", (top,)).fetchone()[0])
            clear = False
            if full:
                rows = int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
                if count + behind != rows:
                    log.warning("keyword index %s disagrees with the passages: rebuilding it", self.folder)
                    clear, top, behind = True, 0, rows
            if not behind and not clear:
                return
            try:
                self._catch_up(top, behind, clear)
            except StoreError:
                if full:
                    raise
                # Opened while another process writes: that writer adds these passages itself.

    def _catch_up(self, top: int, behind: int, clear: bool) -> None:
        """Add the passages past id `top` (after dropping every document when `clear`), a commit a batch."""
        bulk = behind > _SMALL_WRITE
        if clear:
            self._write([], [], clear=True)
        if bulk:
            log.info("keyword index %s is %d passages behind: adding them", self.folder, behind)
        while batch := self._conn.execute(
            "SELECT id, fts_title, fts_text, effective_at, source FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
            (top, _REPAIR_BATCH),
        ).fetchall():
            self._write([], [(r[0], r[1], r[2], _seconds(from_iso(r[3])), r[4]) for r in batch], bulk=bulk)
            top = batch[-1][0]
            if bulk:
                log.info("keyword index %s: up to passage %d", self.folder, top)

    def keyword_search(
        self, terms: Sequence[str], k: int, filters: Filters = NO_FILTERS, title_weight: float = 0.5
    ) -> list[tuple[int, float]]:
        """Top k chunk ids passing the filters by BM25 over title and text (title weighted), best first."""
        tokens = list(dict.fromkeys(t for term in terms for t in self._analyzer.analyze(term)))
        if not tokens:
            return []
        schema = self._index.schema
        clauses = []
        for token in tokens:
            clauses.append((tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", token)))
            title = tantivy.Query.term_query(schema, "title", token)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(title, title_weight)))
        query = tantivy.Query.boolean_query(clauses)
        narrowing = self._filter_queries(filters)
        if narrowing:
            # Filters add nothing to the score: they only narrow the passages that may match.
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query)]
                + [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in narrowing]
            )
        with self._lock:
            self._reload()
            searcher = self._index.searcher()
            hits = searcher.search(query, k, count=False).hits
            ids = searcher.fast_field_values("id", [address for _, address in hits])
        return [(int(cid), float(score)) for (score, _), cid in zip(hits, ids, strict=True)]

    def _filter_queries(self, filters: Filters) -> list[Any]:
        schema = self._index.schema
        out = []
        if filters.since is not None or filters.until is not None:
            low = _seconds(filters.since) if filters.since is not None else UNDATED + 1
            high = _seconds(filters.until) if filters.until is not None else None
            out.append(tantivy.Query.range_query(schema, "effective", tantivy.FieldType.Integer, low, high))
        if filters.sources:
            out.append(tantivy.Query.term_set_query(schema, "source", [s.lower() for s in filters.sources]))
        return out

    def _reload(self) -> None:
        """See the latest commit, ours or another process's: tantivy rewrites meta.json at each one."""
        try:
            stat = (self.folder / "meta.json").stat()
        except FileNotFoundError:
            return
        # meta.json is replaced by a rename: a new inode even when two commits share a clock tick.
        seen = (stat.st_ino, stat.st_mtime_ns)
        if seen != self._meta_seen:
            self._meta_seen = seen
            self._index.reload()
