"""The answer-writer seam: `AnswerWriter` turns a question and its ranked passages into a cited `Answer`.

Every writer shares what makes an answer trustworthy here: one "not covered" text, citation numbering
by article in reading order, and a check that every [n] marker points at a listed source.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from index.models import Answer, Citation, Passage

NOT_COVERED = "The indexed news does not cover this."

_MARKER = re.compile(r"\[(\d+)\]")
_SPACED_MARKER = re.compile(r"\s*\[\d+\]")
_TRAILING = re.compile(r"([.!?…]+[\"'”’)]*)\s*$")


class AnswerWriter(Protocol):
    """Writes an answer only from the passages given, or says the news does not cover the question."""

    def write(self, question: str, passages: Sequence[Passage], topic: str | None = None) -> Answer:
        """The answer; `topic` is the text the passages were retrieved for (a follow-up's, with its context)."""
        ...


def not_covered(question: str, passages: Sequence[Passage] = ()) -> Answer:
    """The one answer for a question the indexed news does not answer."""
    return Answer(question=question, answered=False, text=NOT_COVERED, passages=tuple(passages))


def with_marker(sentence: str, n: int) -> str:
    """Put the [n] marker before the sentence's final punctuation."""
    m = _TRAILING.search(sentence)
    if m:
        return f"{sentence[: m.start()].rstrip()} [{n}]{m.group(1)}"
    return f"{sentence} [{n}]."


def strip_markers(text: str) -> str:
    """Text without [n] markers (an article's own bracketed numbers, or an answer's), spaces tidied."""
    return " ".join(_SPACED_MARKER.sub("", text).split())


class SourceNumbering:
    """Numbers cited articles 1, 2, ... in order of first citation and keeps their Citations."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.citations: list[Citation] = []

    def number(self, passage: Passage, quote: str) -> int:
        """The [n] of a passage's article, listing it (with the quote that supports the claim) when new."""
        art = passage.article_id
        if art not in self.numbers:
            self.numbers[art] = len(self.numbers) + 1
            self.citations.append(
                Citation(
                    n=self.numbers[art],
                    article_id=art,
                    title=passage.title,
                    url=passage.url,
                    source=passage.source,
                    published_at=passage.published_at,
                    quote=quote,
                )
            )
        return self.numbers[art]


def cite(question: str, sentences: Sequence[tuple[str, Passage]], passages: Sequence[Passage]) -> Answer:
    """An answer of sentences, each quoted from its passage and marked [n], n numbering articles in order."""
    if not sentences:
        return not_covered(question, passages)
    sources = SourceNumbering()
    parts: list[str] = []
    for quoted, passage in sentences:
        # A bracketed number in the article's own text would read as one of our markers.
        text = strip_markers(quoted)
        parts.append(with_marker(text, sources.number(passage, text)))
    return Answer(
        question=question,
        answered=True,
        text=" ".join(parts),
        citations=tuple(sources.citations),
        passages=tuple(passages),
    )


def unlisted_markers(answer: Answer) -> list[int]:
    """The [n] markers of an answer's text that point at no listed citation."""
    listed = {c.n for c in answer.citations}
    return sorted({int(n) for n in _MARKER.findall(answer.text)} - listed)
