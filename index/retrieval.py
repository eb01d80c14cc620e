"""Dense, BM25 and hybrid retrieval over one generation, with date and source filters and re-ranking priors.

Hybrid retrieval fuses the dense and keyword rankings by weighted reciprocal rank, optionally adds a
pseudo-relevance-feedback keyword ranking (the question expanded with the top passages' common words),
then re-ranks with a recency prior (full weight for news of the last `recent_days`, decaying after that)
and an article prior (a passage gains from other matching passages of its article).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from corpus.settings import IndexSettings
from index.generation import Generation
from index.models import Passage
from index.passages import PassageRow, query_terms


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
    expanded: Sequence[tuple[int, float]] = (),
) -> dict[int, Candidate]:
    """Weighted reciprocal rank fusion of the dense, keyword and expanded-keyword rankings (per mode)."""
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
        for rank, (cid, _) in enumerate(expanded, start=1):
            scores[cid] = scores.get(cid, 0.0) + settings.prf_weight * _rrf(rank, settings.rrf_k)
    return {cid: Candidate(cid, s, dense_score.get(cid), bm25_rank.get(cid)) for cid, s in scores.items()}


def recency_factor(
    published: datetime | None, now: datetime, half_life_days: float, recent_days: float = 0.0
) -> float:
    """1.0 for news of the last recent_days, then halving every half_life_days; 0.5 when the date is unknown."""
    if published is None or half_life_days <= 0:
        return 0.5
    age = max((now - published).total_seconds() / 86400.0 - recent_days, 0.0)
    return math.pow(0.5, age / half_life_days)


def expansion_terms(rows: Sequence[PassageRow], query: Sequence[str], n: int) -> list[str]:
    """The n words most of the top passages share, beyond the query's own (pseudo relevance feedback)."""
    if n <= 0 or len(rows) < 2:
        return []
    seen = set(query)
    df: Counter[str] = Counter()
    for row in rows:
        df.update({t for t in query_terms(f"{row.title} {row.text}") if not t.isdigit() and len(t) > 2})
    # A word in a single passage says nothing about the topic the others share.
    common = [(t, c) for t, c in df.most_common() if c >= 2 and t not in seen]
    return [t for t, _ in common[:n]]


def article_scores(scores: Mapping[int, float], rows: Mapping[int, PassageRow], top: int) -> dict[str, float]:
    """Per article, the sum of its best `top` passage scores."""
    per: dict[str, list[float]] = {}
    for cid, s in scores.items():
        row = rows.get(cid)
        if row is not None:
            per.setdefault(row.article_id, []).append(s)
    return {a: sum(sorted(v, reverse=True)[:top]) for a, v in per.items()}


def _prior_scores(
    fused: Mapping[int, Candidate], rows: Mapping[int, PassageRow], settings: IndexSettings, now: datetime
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
    terms = query_terms(query)
    if mode in ("dense", "hybrid"):
        allowed = gen.passages.filtered_ids(filters.since, filters.until, filters.sources)
        dense = gen.vectors.search(query_vector, depth, allowed)
    if mode in ("bm25", "hybrid"):
        keyword = gen.passages.bm25(
            terms, depth, settings.title_weight, filters.since, filters.until, filters.sources
        )
    fused = fuse(dense, keyword, settings, mode)
    if not fused:
        return []
    rows = gen.passages.get(list(fused))
    scored = _prior_scores(fused, rows, settings, now)
    if settings.prf_terms > 0 and mode in ("bm25", "hybrid") and terms:
        best = sorted(scored, key=lambda cid: -scored[cid])[: settings.prf_passages]
        extra = expansion_terms([rows[cid] for cid in best], terms, settings.prf_terms)
        if extra:
            expanded = gen.passages.bm25(
                terms + extra, depth, settings.title_weight, filters.since, filters.until, filters.sources
            )
            fused = fuse(dense, keyword, settings, mode, expanded)
            rows.update(gen.passages.get([cid for cid in fused if cid not in rows]))
            scored = _prior_scores(fused, rows, settings, now)
    ranked = sorted(scored.items(), key=lambda t: (-t[1], t[0]))
    out = []
    for rank, (cid, score) in enumerate(ranked[:k], start=1):
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
