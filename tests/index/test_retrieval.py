"""Ranking logic on its own: rank fusion, the recency and article priors, and retrieval with filters.

The hybrid retriever runs over a real passage store (SQLite FTS5) and the in-memory vector store, with
hand-made vectors, so that each rule of the ranking is pinned by a test that fails when the rule goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from corpus.models import Article
from corpus.settings import IndexSettings
from index.chunking import chunk_article
from index.indexer import article_attrs
from index.passages import PassageRow, PassageStore
from index.query import Filters, SearchPlan
from index.retrieval import HybridRetriever, apply_priors, fuse, recency_factor, staleness
from index.stores.memory import MemoryStore

NOW = datetime(2024, 5, 20, 12, tzinfo=UTC)
DIM = 4
SETTINGS = IndexSettings()


def _row(cid: int, article: str, days_old: float | None) -> PassageRow:
    when = None if days_old is None else NOW - timedelta(days=days_old)
    return PassageRow(cid, article, 0, "t", "x", "h", None, None, when, when)


def test_fuse_weighs_each_ranking_by_its_weight() -> None:
    fused = fuse([(1, 0.9), (3, 0.5)], [(2, 7.0), (3, 6.0)], SETTINGS, "hybrid")
    k = SETTINGS.rrf_k
    assert fused[1].score == pytest.approx(SETTINGS.dense_weight / (k + 1))
    assert fused[2].score == pytest.approx(SETTINGS.bm25_weight / (k + 1))
    assert fused[3].score == pytest.approx(SETTINGS.dense_weight / (k + 2) + SETTINGS.bm25_weight / (k + 2))
    # Found by both rankings beats first place in either one alone.
    assert fused[3].score > fused[2].score > fused[1].score
    assert (fused[3].dense, fused[3].bm25_rank) == (0.5, 2)


def test_fuse_uses_only_the_modes_rankings() -> None:
    dense, keyword = [(1, 0.9)], [(2, 7.0)]
    assert set(fuse(dense, keyword, SETTINGS, "dense")) == {1}
    assert set(fuse(dense, keyword, SETTINGS, "bm25")) == {2}
    assert set(fuse(dense, keyword, SETTINGS, "hybrid")) == {1, 2}


def test_recency_factor_is_flat_then_halves() -> None:
    assert recency_factor(NOW - timedelta(days=3), NOW, 7, recent_days=7) == 1.0
    assert recency_factor(NOW - timedelta(days=14), NOW, 7, recent_days=7) == pytest.approx(0.5)
    assert recency_factor(NOW - timedelta(days=21), NOW, 7, recent_days=7) == pytest.approx(0.25)
    assert recency_factor(None, NOW, 7) == 0.5


def test_staleness_counts_doublings_of_age_past_the_recent_days() -> None:
    assert staleness(NOW - timedelta(days=3), NOW, 7, recent_days=7) == 0.0
    assert staleness(NOW - timedelta(days=14), NOW, 7, recent_days=7) == pytest.approx(1.0)
    assert staleness(NOW - timedelta(days=28), NOW, 7, recent_days=7) == pytest.approx(2.0)
    assert staleness(NOW - timedelta(days=7 + 7 * 63), NOW, 7, recent_days=7) == pytest.approx(6.0)
    # An unknown date is as stale as news one half-life old, as the recency prior reads it (0.5).
    assert staleness(None, NOW, 7) == 1.0


def test_recency_prior_puts_recent_news_first_on_near_ties() -> None:
    fused = fuse([], [(1, 5.0), (2, 4.9)], SETTINGS, "bm25")
    rows = {1: _row(1, "old", 60), 2: _row(2, "new", 1)}
    scored = apply_priors(fused, rows, SETTINGS, NOW)
    assert scored[2] > scored[1]
    # Without the prior the keyword order stands.
    plain = apply_priors(fused, rows, SETTINGS.model_copy(update={"recency_weight": 0.0}), NOW)
    assert plain[1] > plain[2]


def test_article_prior_lifts_a_passage_whose_article_matches_more() -> None:
    settings = SETTINGS.model_copy(update={"article_weight": 0.5, "recency_weight": 0.0})
    fused = fuse([], [(1, 9.0), (2, 8.0), (3, 7.0), (4, 6.0)], settings, "bm25")
    rows = {1: _row(1, "lone", 1), 2: _row(2, "story", 1), 3: _row(3, "story", 1), 4: _row(4, "story", 1)}
    scored = apply_priors(fused, rows, settings, NOW)
    assert scored[2] > scored[1]
    off = apply_priors(fused, rows, settings.model_copy(update={"article_weight": 0.0}), NOW)
    assert off[1] > off[2]


ARTICLES = [
    # (id, title, body, source, days old, vector)
    ("rail", "Railway deal signed", "Iran and Azerbaijan signed the Rasht-Astara railway deal.", "ILKHA", 2,
     [1, 0, 0, 0]),
    ("port", "Port strike ends", "Dock workers ended the strike at the port after a wage deal.", "Reuters", 3,
     [0, 1, 0, 0]),
    ("old-rail", "Railway plans", "An older report on railway plans: a railway between the two countries.", "ILKHA", 40,
     [0.9, 0.1, 0, 0]),
    ("wind", "Wind farm approved", "The council approved a wind farm off the coast.", "Reuters", 1,
     [0, 0, 1, 0]),
]  # fmt: skip


@pytest.fixture
def retriever(tmp_path: Path) -> Iterator[HybridRetriever]:
    passages = PassageStore(tmp_path / "passages.db")
    vectors = MemoryStore.open(tmp_path, DIM)
    for aid, title, body, source, days, vec in ARTICLES:
        article = Article(
            id=aid, title=title, body=body, source=source, published_at=NOW - timedelta(days=days)
        )
        chunks = chunk_article(article, 120, 1)
        _, ids = passages.replace_articles([], [(article, chunks)])
        unit = np.asarray([vec] * len(ids), dtype=np.float32)
        vectors.add(
            ids, unit / np.linalg.norm(unit, axis=1, keepdims=True), [article_attrs(article)] * len(ids)
        )
    yield HybridRetriever(passages, vectors, SETTINGS)
    passages.close()


NO_FILTERS = Filters()


def _plan(text: str, mode: str = "hybrid", filters: Filters = NO_FILTERS, k: int = 4) -> SearchPlan:
    return SearchPlan(text=text, filters=filters, now=NOW, k=k, mode=mode)  # type: ignore[arg-type]


def _articles(retriever: HybridRetriever, plan: SearchPlan, vector: list[float]) -> list[str]:
    return [p.article_id for p in retriever.retrieve(plan, np.asarray(vector, dtype=np.float32))]


def test_dense_mode_ranks_by_meaning(retriever: HybridRetriever) -> None:
    assert _articles(retriever, _plan("unrelated words", "dense"), [0, 0, 1, 0])[0] == "wind"


def test_bm25_mode_ranks_by_keywords(retriever: HybridRetriever) -> None:
    assert _articles(retriever, _plan("dock workers strike", "bm25"), [0, 0, 1, 0]) == ["port"]


def test_hybrid_mode_hears_both_sides(retriever: HybridRetriever) -> None:
    found = _articles(retriever, _plan("dock workers strike"), [0, 0, 1, 0])
    assert {"port", "wind"} <= set(found)


def test_recent_story_outranks_an_old_one_on_the_same_topic(retriever: HybridRetriever) -> None:
    # The old report is a shade closer in meaning; only the recency prior puts the new one first.
    assert _articles(retriever, _plan("railway"), [0.9, 0.1, 0, 0])[0] == "rail"
    retriever.settings = SETTINGS.model_copy(update={"recency_weight": 0.0})
    assert _articles(retriever, _plan("railway"), [0.9, 0.1, 0, 0])[0] == "old-rail"


def test_source_filter_applies_to_both_sides(retriever: HybridRetriever) -> None:
    found = _articles(
        retriever, _plan("railway deal strike", filters=Filters(sources=("reuters",))), [1, 0, 0, 0]
    )
    assert set(found) == {"port", "wind"}


def test_date_filter_applies_to_both_sides(retriever: HybridRetriever) -> None:
    window = Filters(since=NOW - timedelta(days=60), until=NOW - timedelta(days=30))
    assert _articles(retriever, _plan("railway wind strike", filters=window), [0, 0, 1, 0]) == ["old-rail"]


def test_k_limits_and_ranks_count_from_one(retriever: HybridRetriever) -> None:
    passages = retriever.retrieve(_plan("railway deal", k=2), np.asarray([1, 0, 0, 0], dtype=np.float32))
    assert [p.rank for p in passages] == [1, 2]
    assert passages[0].score >= passages[1].score
