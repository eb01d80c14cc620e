"""The daily digest: the window's articles merged into stories, ranked by importance, one sentence each."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from corpus.cleaning import split_sentences
from corpus.models import Article
from corpus.repos import ArticleRepository
from corpus.settings import DigestSettings
from index.embeddings import Embedder

# A day of even a busy agency is far below this; the cap only bounds memory and the O(n^2) clustering.
MAX_CANDIDATES = 3000
# Sentences shorter than this are mostly datelines, bylines or fragments, never a good summary.
MIN_SUMMARY_WORDS = 6
# The clustering text: the headline plus the start of the body, where agencies state the same facts.
LEAD_WORDS = 60
# Importance weights. Coverage counts agencies (>= 1 per story) and these add at most 0.8 together, so one
# more agency covering a story outweighs its being fresher, more central and longer all at once.
CENTRALITY_WEIGHT = 0.35
RECENCY_WEIGHT = 0.25
LENGTH_WEIGHT = 0.2
RECENCY_HALF_LIFE_HOURS = 12.0
FULL_LENGTH_WORDS = 600
# Another version from an agency already counted is weak evidence of importance (it is usually an update).
REPEAT_SOURCE_COVERAGE = 0.25


@dataclass(frozen=True)
class Story:
    """One digest item: a story told by one or more near-duplicate articles."""

    title: str
    summary: str
    url: str | None
    source: str | None
    published_at: datetime | None
    article_ids: tuple[str, ...]
    # The language of the article shown (corpus/language.py); None for stories made elsewhere.
    language: str | None = None


@dataclass(frozen=True)
class Digest:
    """The top stories of one window, most important first."""

    date: date
    since: datetime
    until: datetime
    stories: tuple[Story, ...]
    # Past the top stories, the best ones of each language, so a reader of it gets them first (for_reader).
    more: tuple[Story, ...] = ()


@dataclass(frozen=True)
class SentenceWeights:
    """How a summary sentence is scored; defaults tuned on the first half of BBC News Summary."""

    # Found by `python -m bench.digest_quality --tune` on articles 1-1113 only (see that module for the objective).
    centroid: float = 1.0
    title: float = 0.25
    position: float = 0.05
    position_half_life: float = 2.0
    length: float = 0.2
    full_length_words: float = 25.0


DEFAULT_SENTENCE_WEIGHTS = SentenceWeights()


def body_sentences(body: str) -> list[str]:
    """The body's sentences in order; paragraph breaks always end one."""
    return [s for s in split_sentences(body) if s.strip()]


def candidate_sentences(article: Article) -> list[str]:
    """Body sentences that could stand alone as a summary (all of them if none looks long enough)."""
    sentences = body_sentences(article.body)
    title = article.title.strip().lower()
    # Some feeds repeat the headline as the body's first line; it adds nothing under the headline.
    sentences = [s for s in sentences if s.lower().rstrip(".") != title.rstrip(".")] or sentences
    good = [s for s in sentences if len(s.split()) >= MIN_SUMMARY_WORDS]
    return good or sentences


def sentence_scores(
    vectors: np.ndarray, title_vector: np.ndarray | None, word_counts: Sequence[int], weights: SentenceWeights
) -> np.ndarray:
    """Score each sentence: centrality to the article and headline, a lead prior and a length prior."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    centroid = vectors.mean(axis=0)
    centroid = centroid / (np.linalg.norm(centroid) or 1.0)
    scores = weights.centroid * (vectors @ centroid)
    if title_vector is not None:
        scores = scores + weights.title * (vectors @ title_vector)
    # News is written top-down, so earlier sentences get a small decaying bonus; on BBC a strong lead prior
    # lost to centrality, but a little of it still breaks near-ties towards the lead.
    positions = np.arange(n, dtype=np.float32)
    scores = scores + weights.position * np.power(0.5, positions / max(weights.position_half_life, 1e-6))
    # Short sentences rarely carry the story; the bonus stops at full_length_words so long ones gain no more.
    lengths = np.minimum(np.asarray(word_counts, dtype=np.float32) / weights.full_length_words, 1.0)
    return np.asarray(scores + weights.length * lengths, dtype=np.float32)


def pick_sentence(
    sentences: Sequence[str],
    vectors: np.ndarray,
    title_vector: np.ndarray | None,
    weights: SentenceWeights = DEFAULT_SENTENCE_WEIGHTS,
) -> int:
    """Index of the best summary sentence given precomputed unit vectors (the earliest on ties)."""
    scores = sentence_scores(vectors, title_vector, [len(s.split()) for s in sentences], weights)
    return int(np.argmax(scores)) if len(scores) else -1


def summary_sentence(
    article: Article, embedder: Embedder | None = None, weights: SentenceWeights = DEFAULT_SENTENCE_WEIGHTS
) -> str:
    """The one sentence of the body that best summarises the article (the lead without an embedder)."""
    sentences = candidate_sentences(article)
    if not sentences:
        return ""
    if embedder is None or len(sentences) == 1:
        return sentences[0]
    title = article.title.strip()
    vectors = embedder.encode([*sentences, title] if title else sentences)
    title_vector = vectors[-1] if title else None
    return sentences[pick_sentence(sentences, vectors[: len(sentences)], title_vector, weights)]


def _utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC so that they compare with aware ones."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(article: Article) -> datetime | None:
    """When the article appeared: its publication date, else when it was fetched."""
    return _utc(article.published_at) or _utc(article.fetched_at)


def _cluster_text(article: Article) -> str:
    """Headline plus lead, the part that near-duplicate versions share."""
    lead = " ".join(article.body.split()[:LEAD_WORDS])
    return f"{article.title.strip()}. {lead}".strip(". ")


def _cluster(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Greedy average-link clustering of unit vectors in the given order; each cluster's first member leads it."""
    clusters: list[list[int]] = []
    # Row k holds the sum of cluster k's vectors: the mean cosine to its members is a dot product over a count.
    sums = np.zeros_like(vectors)
    sizes = np.zeros(len(vectors), dtype=np.float32)
    for i, vector in enumerate(vectors):
        k = len(clusters)
        if k:
            mean_sim = (sums[:k] @ vector) / sizes[:k]
            best = int(np.argmax(mean_sim))
            if mean_sim[best] >= threshold:
                k = best
        if k == len(clusters):
            clusters.append([])
        clusters[k].append(i)
        sums[k] += vector
        sizes[k] += 1
    return clusters


def _coverage(members: Sequence[Article]) -> float:
    """Distinct agencies covering a story, plus a little for repeat versions from the same agency."""
    sources = {a.source if a.source else f"\x00{a.id}" for a in members}
    return len(sources) + REPEAT_SOURCE_COVERAGE * (len(members) - len(sources))


def _unit_interval(values: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; all 0.5 when the values do not differ."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.full(len(values), 0.5, dtype=np.float32)
    return np.asarray((values - low) / (high - low), dtype=np.float32)


def rank_stories(
    articles: Sequence[Article],
    embedder: Embedder,
    max_stories: int,
    threshold: float = 0.8,
    per_language: bool = False,
) -> list[Story]:
    """Merge near-duplicate articles into stories and return the most important ones, best first.

    With per_language, also each language's best max_stories past the top ones, still in order of importance.
    """
    unique = list({a.id: a for a in articles}.values())
    if not unique or max_stories <= 0:
        return []
    oldest = datetime.min.replace(tzinfo=UTC)
    # Newest first (then longest): the first article of each cluster is the version worth showing.
    unique.sort(key=lambda a: (_when(a) or oldest, len(a.body.split()), a.id), reverse=True)
    vectors = embedder.encode([_cluster_text(a) for a in unique])
    clusters = _cluster(vectors, threshold)

    centroids = np.stack([vectors[c].mean(axis=0) for c in clusters])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    # Centrality: mean similarity to the window's articles outside the story (what the day is about).
    sims = centroids @ vectors.T
    outside = np.ones_like(sims, dtype=bool)
    for k, members in enumerate(clusters):
        outside[k, members] = False
    counts = outside.sum(axis=1)
    raw_centrality = np.where(counts > 0, (sims * outside).sum(axis=1) / np.maximum(counts, 1), 0.0)
    centrality = _unit_interval(raw_centrality)

    times = [_when(unique[c[0]]) for c in clusters]
    newest = max((t for t in times if t is not None), default=None)
    scored: list[tuple[float, int]] = []
    for k, members in enumerate(clusters):
        rep = unique[members[0]]
        t = times[k]
        recency = 0.0
        if t is not None and newest is not None:
            age_hours = (newest - t).total_seconds() / 3600
            recency = 0.5 ** (age_hours / RECENCY_HALF_LIFE_HOURS)
        length = min(1.0, math.log1p(len(rep.body.split())) / math.log1p(FULL_LENGTH_WORDS))
        importance = (
            _coverage([unique[i] for i in members])
            + CENTRALITY_WEIGHT * float(centrality[k])
            + RECENCY_WEIGHT * recency
            + LENGTH_WEIGHT * length
        )
        scored.append((importance, k))
    scored.sort(key=lambda item: (-item[0], item[1]))

    stories: list[Story] = []
    taken: dict[str | None, int] = {}
    for rank, (_, k) in enumerate(scored):
        rep = unique[clusters[k][0]]
        if rank >= max_stories and (not per_language or taken.get(rep.language, 0) >= max_stories):
            continue
        taken[rep.language] = taken.get(rep.language, 0) + 1
        stories.append(
            Story(
                title=rep.title.strip(),
                summary=summary_sentence(rep, embedder),
                url=rep.url,
                source=rep.source,
                published_at=_when(rep),
                article_ids=tuple(unique[i].id for i in clusters[k]),
                language=rep.language,
            )
        )
    return stories


def for_reader(digest: Digest, language: str | None) -> Digest:
    """The digest as a reader of `language` gets it: stories in that language first, then the others.

    Each group keeps the order of importance; the reader gets as many stories as the digest has on top.
    """
    if language is None:
        return digest
    pool = digest.stories + digest.more
    own = [s for s in pool if s.language == language]
    others = [s for s in pool if s.language != language]
    return replace(digest, stories=tuple((own + others)[: len(digest.stories)]), more=())


def _local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of a moment where the subscribers live."""
    try:
        return moment.astimezone(ZoneInfo(timezone)).date()
    except (ZoneInfoNotFoundError, ValueError):
        # A bad timezone must not cost subscribers their digest; the UTC date is a fine header.
        return moment.date()


def build_digest(
    store: ArticleRepository, embedder: Embedder, settings: DigestSettings, as_of: datetime | None = None
) -> Digest:
    """The digest of the `settings.hours` hours before `as_of` (default now, UTC)."""
    until = _utc(as_of) or datetime.now(UTC)
    since = until - timedelta(hours=settings.hours)
    articles = store.latest(MAX_CANDIDATES, since=since, until=until)
    ranked = rank_stories(articles, embedder, settings.max_stories, per_language=True) if articles else []
    top = settings.max_stories
    return Digest(
        date=_local_date(until, settings.timezone),
        since=since,
        until=until,
        stories=tuple(ranked[:top]),
        more=tuple(ranked[top:]),
    )
