"""Dense, BM25 and hybrid retrieval over one generation, with date and source filters and a recency prior."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from corpus.settings import IndexSettings
from index.generation import Generation
from index.models import Passage
from index.passages import query_terms


@dataclass(frozen=True)
class Filters:
    """Which passages may be returned."""

    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Candidate:
    """A chunk id with the evidence gathered for it."""

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
    mode: str,
) -> dict[int, Candidate]:
    """Weighted reciprocal rank fusion of the dense and keyword rankings (one of them alone in its mode)."""
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
    return {cid: Candidate(cid, s, dense_score.get(cid), bm25_rank.get(cid)) for cid, s in scores.items()}


def recency_factor(published: datetime | None, now: datetime, half_life_days: float) -> float:
    """1.0 for news of now, halving every half_life_days; 0.5 when the date is unknown."""
    if published is None or half_life_days <= 0:
        return 0.5
    age = max((now - published).total_seconds() / 86400.0, 0.0)
    return math.pow(0.5, age / half_life_days)


def retrieve(
    gen: Generation,
    query_vector: np.ndarray,
    query: str,
    k: int,
    settings: IndexSettings,
    filters: Filters,
    now: datetime,
    mode: str | None = None,
) -> list[Passage]:
    """The top k passages for a query, best first."""
    mode = mode or settings.mode
    depth = max(settings.candidates, k)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode in ("dense", "hybrid"):
        allowed = gen.passages.filtered_ids(filters.since, filters.until, filters.sources)
        dense = gen.vectors.search(query_vector, depth, allowed)
    if mode in ("bm25", "hybrid"):
        keyword = gen.passages.bm25(
            query_terms(query), depth, settings.title_weight, filters.since, filters.until, filters.sources
        )
    fused = fuse(dense, keyword, settings, mode)
    if not fused:
        return []
    rows = gen.passages.get(list(fused))
    top_score = max(c.score for c in fused.values())
    ranked: list[tuple[float, int]] = []
    for cid, cand in fused.items():
        row = rows.get(cid)
        if row is None:
            continue
        # The prior is scaled to the fused scores so that it re-orders near-ties, never swamps evidence.
        prior = (
            settings.recency_weight
            * top_score
            * recency_factor(row.effective_at, now, settings.recency_half_life_days)
        )
        ranked.append((cand.score + prior, cid))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    out = []
    for rank, (score, cid) in enumerate(ranked[:k], start=1):
        row = rows[cid]
        out.append(
            Passage(
                rank=rank,
                chunk_id=cid,
                article_id=row.article_id,
                title=row.title,
                text=row.text,
                score=score,
                url=row.url,
                source=row.source,
                published_at=row.published_at,
            )
        )
    return out
