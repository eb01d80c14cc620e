"""Bring an index generation in line with the article store: chunk, embed (cached), insert, remove."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from corpus.models import Article, Progress
from corpus.repos import ArticleRepository
from corpus.settings import IndexSettings
from index.chunking import chunk_article, embed_text
from index.embeddings import CachedEmbedder
from index.generation import Generation
from index.models import Chunk
from index.stores.base import VectorAttrs

ARTICLE_BATCH = 200


@dataclass(frozen=True)
class SyncResult:
    """What a sync changed in a generation."""

    articles_added: int
    articles_removed: int
    passages_added: int
    passages_removed: int
    embedded: int


def _add_articles(
    gen: Generation,
    articles: Sequence[Article],
    remove: Sequence[str],
    embedder: CachedEmbedder,
    settings: IndexSettings,
) -> tuple[int, int]:
    """Chunk and embed articles, then replace their passages and vectors; returns (added, removed)."""
    chunked: list[tuple[Article, list[Chunk]]] = [
        (a, chunk_article(a, settings.chunk_words, settings.chunk_overlap_sentences)) for a in articles
    ]
    texts = [c.embed_text for _, chunks in chunked for c in chunks]
    # Embed before touching the index so that a failure here changes nothing.
    vectors = embedder.embed(texts) if texts else np.zeros((0, gen.manifest.dimension), dtype=np.float32)
    removed, added = gen.passages.replace_articles(remove, chunked)
    attrs = [article_attrs(a) for a, chunks in chunked for _ in chunks]
    gen.vectors.remove(removed)
    gen.vectors.add(added, vectors, attrs)
    return len(added), len(removed)


def article_attrs(article: Article) -> VectorAttrs:
    """What the filters see of an article's passages: when it counts from (published, else fetched), agency, language."""
    return VectorAttrs(
        effective_at=article.published_at or article.fetched_at,
        source=article.source,
        language=article.language,
    )


def sync_generation(
    gen: Generation,
    store: ArticleRepository,
    embedder: CachedEmbedder,
    settings: IndexSettings,
    progress: Progress | None = None,
) -> SyncResult:
    """Index what the store has and the generation lacks; drop what the store no longer has."""
    want = store.versions()
    have = gen.passages.indexed_versions()
    gone = [a for a in have if a not in want]
    todo = [a for a, h in want.items() if have.get(a) != h]
    before = embedder.computed
    passages_added = passages_removed = 0
    if gone:
        _, passages_removed = _add_articles(gen, [], gone, embedder, settings)
    for start in range(0, len(todo), ARTICLE_BATCH):
        part = todo[start : start + ARTICLE_BATCH]
        articles = store.get_many(part)
        batch = [articles[a] for a in part if a in articles]
        replaced = [a.id for a in batch if a.id in have]
        added, removed = _add_articles(gen, batch, replaced, embedder, settings)
        passages_added += added
        passages_removed += removed
        if progress:
            progress("indexing", min(start + ARTICLE_BATCH, len(todo)), len(todo))
    if todo or gone:
        gen.vectors.flush()
    return SyncResult(
        articles_added=len(todo),
        articles_removed=len(gone),
        passages_added=passages_added,
        passages_removed=passages_removed,
        embedded=embedder.computed - before,
    )


def reconcile_vectors(gen: Generation, embedder: CachedEmbedder) -> int:
    """Repair vectors after a crash between the passage commit and the vector flush; returns fixes made."""
    passages = gen.passages.count()
    if passages == gen.vectors.count() and (
        passages == 0 or gen.passages.max_id() == int(gen.vectors.ids().max())
    ):
        return 0
    rows = gen.passages.all_ids_and_hashes()
    have = set(gen.vectors.ids().tolist())
    want = {i for i, _ in rows}
    extra = [i for i in have if i not in want]
    missing = [(i, h) for i, h in rows if i not in have]
    gen.vectors.remove(extra)
    if missing:
        stored = gen.passages.get([i for i, _ in missing])
        cached = embedder.cache.get_many([h for _, h in missing])
        found = [(i, cached[h]) for i, h in missing if h in cached and i in stored]
        # Their embeddings never reached the cache: re-embed from the stored passage text.
        lost = [i for i, h in missing if h not in cached and i in stored]
        if found:
            gen.vectors.add(
                [i for i, _ in found], np.stack([v for _, v in found]), [stored[i].attrs for i, _ in found]
            )
        if lost:
            texts = [embed_text(stored[i].title, stored[i].text) for i in lost]
            gen.vectors.add(lost, embedder.embed(texts), [stored[i].attrs for i in lost])
    gen.vectors.flush()
    return len(extra) + len(missing)
