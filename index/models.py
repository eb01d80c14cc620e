"""Frozen dataclasses returned by the index: chunks, ranked passages, cited answers and index stats."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A passage of an article as indexed: its text and the text that was embedded."""

    article_id: str
    ord: int
    text: str
    embed_text: str
    hash: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata and fused score."""

    rank: int
    chunk_id: int
    article_id: str
    title: str
    text: str
    score: float
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    # The cross-encoder's logit for (question, passage) when the reranker read it; None otherwise.
    relevance: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `ask --json` passages."""
        return {
            "rank": self.rank,
            "article_id": self.article_id,
            "url": self.url,
            "title": self.title,
            "text": self.text,
            "score": round(float(self.score), 6),
        }


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer."""

    n: int
    article_id: str
    title: str
    url: str | None
    source: str | None
    published_at: datetime | None
    quote: str

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `ask --json` citations."""
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


@dataclass(frozen=True)
class Answer:
    """A short answer built only from retrieved passages, every sentence marked [n]."""

    question: str
    answered: bool
    text: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    # The question's language code (None when not told), and the cited articles' languages in citation order.
    language: str | None = None
    source_languages: tuple[str, ...] = ()

    @property
    def foreign_sources(self) -> tuple[str, ...]:
        """The cited articles' languages when none is the question's: the reader should be told (README)."""
        if not self.answered or not self.language or self.language in self.source_languages:
            return ()
        return self.source_languages

    def to_json(self) -> dict[str, Any]:
        """The one JSON object `ask --json` prints."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "language": self.language,
            "source_languages": list(self.source_languages),
        }


@dataclass(frozen=True)
class IndexStats:
    """What is stored and indexed, for `stats` and /stats."""

    articles: int
    passages: int
    vectors: int
    sources: tuple[tuple[str | None, int, datetime | None, datetime | None], ...]
    # Articles per language code, most first.
    languages: tuple[tuple[str, int], ...]
    model: str
    mode: str
    embeddings_computed_total: int
    embeddings_cached: int
    last_ingest: str | None
    last_reindex: str | None
    questions_answered: int
