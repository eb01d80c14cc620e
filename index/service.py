"""The core facade the CLI and the bot share: ingest, reindex, ask, search, stats."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from corpus.errors import IndexBusyError, IndexMismatchError
from corpus.feeds import PollReport, configured_feeds, poll_feeds
from corpus.ingest import IngestReport, load_paths, store_articles
from corpus.language import LanguageDetector
from corpus.models import Article, LoadProblem, Progress
from corpus.settings import Settings
from corpus.storage import Storage
from corpus.store import UNDETERMINED
from index.digest import Digest, build_digest
from index.embeddings import CachedEmbedder, Embedder, EmbeddingCache, QueryEncoder
from index.extractive import ExtractiveWriter
from index.generation import Generation, Manifest, open_index_directory
from index.indexer import reconcile_vectors, sync_generation
from index.llm_writer import AnswerProgress, answer_writer, write_answer
from index.models import Answer, IndexStats, Passage
from index.query import Query, SearchPlan, plan_search
from index.rerank import LazyCrossEncoder, RerankingRetriever, off_topic
from index.retrieval import HybridRetriever, Retriever
from index.writers import AnswerWriter, not_covered


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class NewsService:
    """Articles, their index and the answering logic, opened once per process."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        data = settings.data_dir
        self.storage = Storage.from_settings(settings)
        self.store = self.storage.articles()
        self.embedder = embedder
        # The cache key names the backend too, so vectors of different backends never mix.
        self.cached = CachedEmbedder(embedder, EmbeddingCache(data / "embeddings.db", embedder.cache_key))
        self.queries = QueryEncoder(embedder)
        self.writer: AnswerWriter = ExtractiveWriter(self.cached, self.queries, settings.index)
        self.index_dir = open_index_directory(self.storage, self.settings)
        # Tells the language of articles without a declared one, and of questions.
        self.languages = LanguageDetector()
        self._gen: Generation | None = None
        # Generations swapped out, closed one swap later: a search that began on one may still be reading it.
        self._retired: list[Generation] = []
        self._pointer_mtime = -1
        self._swap_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._reranker = (
            LazyCrossEncoder(settings.index.rerank_max_tokens) if settings.index.reranker else None
        )
        # [answer] writer = "llm": a model writes, checked by the cross-encoder too, extractive as fallback.
        self.writer = answer_writer(settings.answer, self.writer, self._reranker)

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None) -> NewsService:
        """Load the model, the store and the serving index."""
        idx = settings.index
        model = embedder or Embedder(
            idx.model,
            device=idx.device,
            batch_size=idx.batch_size,
            backend=idx.backend,
            models_dir=idx.models_dir or settings.data_dir / "models",
            max_tokens=idx.max_tokens,
        )
        return cls(settings, model)

    def close(self) -> None:
        """Release databases."""
        self.store.close()
        self.cached.cache.close()
        for gen in [*self._retired, *([self._gen] if self._gen is not None else [])]:
            gen.close()
        self._retired = []
        self.index_dir.close()

    # -- generations -------------------------------------------------------------------------------

    def expected_manifest(self) -> Manifest:
        """What an index built with the current settings records."""
        idx = self.settings.index
        return Manifest(
            model=idx.model,
            # The backend actually loaded: an embedder handed in may differ from the settings.
            backend=self.embedder.backend,
            max_tokens=self.embedder.max_tokens or 0,
            dimension=self.embedder.dimension,
            chunk_words=idx.chunk_words,
            chunk_overlap_sentences=idx.chunk_overlap_sentences,
            store=idx.store,
            keywords=idx.keywords,
        )

    def _check(self, gen: Generation) -> Generation:
        diffs = gen.manifest.differences(self.expected_manifest())
        if diffs:
            raise IndexMismatchError(
                "the index was built with other settings (" + "; ".join(diffs) + "): run `newsbot reindex`"
            )
        return gen

    def _serving(self) -> Generation | None:
        """The serving generation, reloaded when another process published or saved a newer one."""
        with self._swap_lock:
            mtime = self.index_dir.pointer_mtime()
            if mtime != self._pointer_mtime:
                name = self.index_dir.current_name()
                for old in self._retired:
                    old.close()
                self._retired = [self._gen] if self._gen is not None else []
                self._gen = self.index_dir.open(self.index_dir.root / name) if name else None
                self._pointer_mtime = mtime
            elif self._gen is not None:
                self._gen.vectors.refresh()
            return self._gen

    def _writable(self) -> Generation:
        """The serving generation, created empty when there is none yet; caller holds the writer lock."""
        gen = self._serving()
        if gen is None:
            folder = self.index_dir.new_folder()
            self.index_dir.create(folder, self.expected_manifest()).close()
            self.index_dir.publish(folder)
            gen = self._serving()
            assert gen is not None
        self._check(gen)
        reconcile_vectors(gen, self.cached)
        return gen

    # -- writing -----------------------------------------------------------------------------------

    def ingest_paths(self, paths: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        """Load files and folders, store their articles and index what is new."""
        loaded = load_paths(paths, self.settings.corpus, progress)
        return self.ingest_articles(
            loaded.articles, problems=loaded.problems, files=loaded.files, progress=progress
        )

    def ingest_articles(
        self,
        articles: Iterable[Article],
        problems: Sequence[LoadProblem] = (),
        files: int = 0,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Store articles (idempotently) and bring the index up to date."""
        started = time.perf_counter()
        stored = self._store_only(list(articles))
        with self.index_dir.writer_lock():
            gen = self._writable()
            synced = sync_generation(gen, self.store, self.cached, self.settings.index, progress)
        self.store.add_to_counter("embeddings_computed", synced.embedded)
        self.store.set_state("last_ingest", _now())
        return replace(
            stored,
            files=files,
            removed=synced.articles_removed,
            passages_indexed=synced.passages_added,
            embedded=synced.embedded,
            seconds=time.perf_counter() - started,
            problems=tuple(str(p) for p in problems),
        )

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        """Re-read the configured sources, rebuild the index aside and swap it in atomically."""
        if not self._rebuild_lock.acquire(blocking=False):
            raise IndexBusyError("a reindex is already running")
        try:
            started = time.perf_counter()
            problems: list[str] = []
            paths = [p for p in self.settings.corpus.paths if p.exists()]
            # Store only: the serving index may have been built with other settings.
            if paths:
                loaded = load_paths(paths, self.settings.corpus, progress)
                self._store_only(loaded.articles)
                problems += [str(p) for p in loaded.problems]
            if configured_feeds(self.settings):
                polled = poll_feeds(self.settings, self._store_only, progress)
                problems += [str(f) for f in polled.failed]
            with self.index_dir.writer_lock():
                folder = self.index_dir.new_folder()
                gen = self.index_dir.create(folder, self.expected_manifest())
                try:
                    synced = sync_generation(gen, self.store, self.cached, self.settings.index, progress)
                finally:
                    gen.close()
                self.index_dir.publish(folder)
                self.index_dir.remove_old(keep=folder.name)
            self._serving()
            self.store.add_to_counter("embeddings_computed", synced.embedded)
            self.store.set_state("last_reindex", _now())
            return IngestReport(
                articles_seen=self.store.count(),
                added=synced.articles_added,
                passages_indexed=synced.passages_added,
                embedded=synced.embedded,
                seconds=time.perf_counter() - started,
                problems=tuple(problems),
            )
        finally:
            self._rebuild_lock.release()

    def _store_only(self, articles: Sequence[Article]) -> IngestReport:
        """Store articles without touching the index."""
        return store_articles(self.store, articles, self.settings.corpus, self.languages)

    def poll_feeds(self, progress: Progress | None = None) -> PollReport:
        """Poll every configured feed once and index what is new."""
        return poll_feeds(self.settings, self.ingest_articles, progress)

    # -- reading -----------------------------------------------------------------------------------

    def ask(self, query: Query, on_progress: AnswerProgress | None = None) -> Answer:
        """Answer a question from the indexed news only, with citations; 'not covered' when it does not say.

        With a streaming writer (the llm one), on_progress sees the checked answer grow sentence by sentence.
        """
        query = self._with_language(query)
        found = self._retrieve(query)
        if found is None:
            return replace(not_covered(query.question), language=query.language)
        plan, passages = found
        if off_topic(passages, self.settings.index.rerank_min_logit):
            return replace(not_covered(query.question, passages), language=query.language)
        answer = write_answer(self.writer, query.question, passages, plan.text, on_progress)
        return self._with_languages(answer, query.language)

    def _with_language(self, query: Query) -> Query:
        """The query with its language: as given, else detected from the question."""
        if query.language is not None:
            return query
        return replace(query, language=self.languages.detect(query.question))

    def _with_languages(self, answer: Answer, language: str | None) -> Answer:
        """The answer marked with the question's language and its cited articles' stored languages."""
        stored = self.store.get_many([c.article_id for c in answer.citations])
        cited = (stored[c.article_id].language for c in answer.citations if c.article_id in stored)
        # "und": stored without a language; nothing to tell the reader about.
        return replace(
            answer,
            language=language,
            source_languages=tuple(dict.fromkeys(x for x in cited if x and x != UNDETERMINED)),
        )

    def search(self, query: Query) -> list[Passage]:
        """The ranked passages ask() would answer from, without writing an answer."""
        found = self._retrieve(query)
        return found[1] if found else []

    def _retrieve(self, query: Query) -> tuple[SearchPlan, list[Passage]] | None:
        """Plan the search and retrieve from the serving generation; None when nothing is indexed."""
        query = self._with_language(query)
        plan = plan_search(query, self.settings.index)
        gen = self._serving()
        if gen is None:
            return None
        self._check(gen)
        idx = self.settings.index
        retriever: Retriever = HybridRetriever(gen.passages, gen.vectors, idx)
        # The cross-encoder (ms-marco) was trained on English only: other languages keep the fused order.
        if self._reranker is not None and plan.language in (None, "en"):
            retriever = RerankingRetriever(retriever, self._reranker, idx)
        return plan, retriever.retrieve(plan, self.queries.encode(plan.text))

    def record_question(self) -> None:
        """Count one answered question."""
        self.store.add_to_counter("questions_answered", 1)

    def latest(self, n: int) -> list[Article]:
        """The n newest articles."""
        return self.store.latest(n)

    def digest(self, as_of: datetime | None = None) -> Digest:
        """The top stories of the day before as_of (default now)."""
        return build_digest(self.store, self.embedder, self.settings.digest, as_of)

    def stats(self) -> IndexStats:
        """What is stored and indexed."""
        gen = self._serving()
        return IndexStats(
            articles=self.store.count(),
            passages=gen.passages.count() if gen else 0,
            vectors=gen.vectors.count() if gen else 0,
            sources=tuple(self.store.sources()),
            languages=tuple(self.store.languages()),
            model=self.settings.index.model,
            mode=self.settings.index.mode,
            embeddings_computed_total=int(self.store.get_state("embeddings_computed") or 0),
            embeddings_cached=self.cached.cache.count(),
            last_ingest=self.store.get_state("last_ingest"),
            last_reindex=self.store.get_state("last_reindex"),
            questions_answered=int(self.store.get_state("questions_answered") or 0),
        )

    def manifest(self) -> dict[str, object] | None:
        """The serving generation's manifest."""
        gen = self._serving()
        return asdict(gen.manifest) if gen else None
