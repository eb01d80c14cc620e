"""Ranked passages for a search plan: dense and keyword rankings fused, then re-ranked by priors.

`Retriever` is the seam: anything that turns a `SearchPlan` (and the query's vector) into ranked passages.
`HybridRetriever`, the default, fuses a vector store's ranking and the passage store's BM25 ranking by
weighted reciprocal rank, then adds a recency prior (full weight for news of the last `recent_days`,
decaying after that) and an article prior (a passage gains from other matching passages of its article).
An engine that does dense, keyword and filters in one place can implement `Retriever` by itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from corpus.settings import IndexSettings
from index.keywords import keyword_terms
from index.models import Passage
from index.passages import PassageIndex, PassageRow
from index.query import Mode, SearchPlan
from index.stores.base import KeywordIndex, VectorStore


class Retriever(Protocol):
    """Turns a search plan and its query vector into the top passages, best first."""

    def retrieve(self, plan: SearchPlan, vector: np.ndarray) -> list[Passage]:
        """The plan's top k passages."""
        ...


@dataclass(frozen=True)
class FusedCandidate:
    """A chunk id with its fused score and the evidence behind it."""

    chunk_id: int
    score: float
    dense: float | None
    bm25_rank: int | None


def _rrf(rank: int, k: int) -> float:
    return 1.0 / (k + rank)


def fuse(
    dense: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float]],
    settings: IndexSettings,
    mode: Mode,
) -> dict[int, FusedCandidate]:
    """Weighted reciprocal rank fusion of the dense and keyword rankings (those the mode uses)."""
    scores: dict[int, float] = {}
    dense_score = dict(dense)
    bm25_rank: dict[int, int] = {}
    if mode in ("dense", "hybrid"):
        for rank, (cid, _) in enumerate(dense, start=1):
            scores[cid] = scores.get(cid, 0.0) + settings.dense_weight * _rrf(rank, settings.rrf_k)
    if mode in ("bm25", "hybrid"):
        for rank, (cid, _) in enumerate(keyword, start=1):
            bm25_rank[cid] = rank
            scores[cid] = scores.get(cid, 0.0) + settings.bm25_weight * _rrf(rank, settings.rrf_k)
    return {
        cid: FusedCandidate(cid, s, dense_score.get(cid), bm25_rank.get(cid)) for cid, s in scores.items()
    }


def _half_lives(
    published: datetime | None, now: datetime, half_life_days: float, recent_days: float
) -> float:
    """Half-lives of age past recent_days; one when the date is unknown."""
    if published is None or half_life_days <= 0:
        return 1.0
    return max((now - published).total_seconds() / 86400.0 - recent_days, 0.0) / half_life_days


def recency_factor(
    published: datetime | None, now: datetime, half_life_days: float, recent_days: float = 0.0
) -> float:
    """1.0 for news of the last recent_days, then halving every half_life_days; 0.5 when the date is unknown."""
    return math.pow(0.5, _half_lives(published, now, half_life_days, recent_days))


def staleness(
    published: datetime | None, now: datetime, half_life_days: float, recent_days: float = 0.0
) -> float:
    """How stale news is on a log scale: log2(1 + half-lives past recent_days); 1 when the date is unknown."""
    return math.log2(1.0 + _half_lives(published, now, half_life_days, recent_days))


def article_scores(scores: Mapping[int, float], rows: Mapping[int, PassageRow], top: int) -> dict[str, float]:
    """Per article, the sum of its best `top` passage scores."""
    per: dict[str, list[float]] = {}
    for cid, s in scores.items():
        row = rows.get(cid)
        if row is not None:
            per.setdefault(row.article_id, []).append(s)
    return {a: sum(sorted(v, reverse=True)[:top]) for a, v in per.items()}


def apply_priors(
    fused: Mapping[int, FusedCandidate],
    rows: Mapping[int, PassageRow],
    settings: IndexSettings,
    now: datetime,
) -> dict[int, float]:
    """Fused scores plus the recency prior, then the article prior."""
    if not fused:
        return {}
    top_score = max(c.score for c in fused.values())
    scored: dict[int, float] = {}
    for cid, cand in fused.items():
        row = rows.get(cid)
        if row is None:
            continue
        # The prior is scaled to the fused scores so that it re-orders near-ties, never swamps evidence.
        factor = recency_factor(row.effective_at, now, settings.recency_half_life_days, settings.recent_days)
        scored[cid] = cand.score + settings.recency_weight * top_score * factor
    if settings.article_weight > 0:
        # Several matching passages of one story are more evidence than one; each passage shares its article's.
        per_article = article_scores(scored, rows, settings.article_passages)
        scored = {
            cid: s + settings.article_weight * (per_article[rows[cid].article_id] - s)
            for cid, s in scored.items()
        }
    return scored


def to_passage(rank: int, row: PassageRow, score: float) -> Passage:
    """A stored passage as a ranked result."""
    return Passage(
        rank=rank,
        chunk_id=row.id,
        article_id=row.article_id,
        title=row.title,
        text=row.text,
        score=score,
        url=row.url,
        source=row.source,
        published_at=row.published_at,
    )


class HybridRetriever:
    """Dense (a vector store) and keyword (a keyword index) rankings, fused and re-ranked by priors."""

    def __init__(
        self,
        passages: PassageIndex,
        vectors: VectorStore,
        settings: IndexSettings,
        keywords: KeywordIndex | None = None,
    ) -> None:
        self.passages = passages
        self.vectors = vectors
        self.settings = settings
        # The passage store's own FTS5 index unless another keyword engine is given.
        self.keywords: KeywordIndex = keywords or passages

    def retrieve(self, plan: SearchPlan, vector: np.ndarray) -> list[Passage]:
        """The plan's top k passages, best first."""
        settings = self.settings
        depth = max(settings.candidates, plan.k)
        dense: list[tuple[int, float]] = []
        keyword: list[tuple[int, float]] = []
        if plan.mode in ("dense", "hybrid"):
            dense = self.vectors.search(vector, depth, plan.filters)
        if plan.mode in ("bm25", "hybrid"):
            keyword = self.keywords.keyword_search(
                keyword_terms(plan.text, plan.language), depth, plan.filters, settings.title_weight
            )
        fused = fuse(dense, keyword, settings, plan.mode)
        if not fused:
            return []
        rows = self.passages.get(list(fused))
        scored = apply_priors(fused, rows, settings, plan.now)
        ranked = sorted(scored.items(), key=lambda t: (-t[1], t[0]))
        return [to_passage(rank, rows[cid], score) for rank, (cid, score) in enumerate(ranked[: plan.k], 1)]
