"""One question as the adapters pose it (`Query`), and what retrieval makes of it (`SearchPlan`).

The CLI and the bot build a `Query`; `plan_search` resolves its time words ("this week") and explicit
dates into a date window, and its `context` (the earlier topic of a follow-up) into the search text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from corpus.errors import InputError
from corpus.settings import IndexSettings
from index.models import Answer
from index.timewords import parse_time_window
from index.writers import strip_markers

Mode = Literal["dense", "bm25", "hybrid"]


@dataclass(frozen=True)
class Filters:
    """Which passages may be returned: published within [since, until], from one of `sources` (any if empty)."""

    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        """Whether every passage passes."""
        return self.since is None and self.until is None and not self.sources


@dataclass(frozen=True)
class Query:
    """A question and how to answer it; None fields take the settings' defaults."""

    question: str
    k: int | None = None
    # Answer as if it were this moment: later news is invisible, time words resolve against it.
    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()
    mode: Mode | None = None
    # The earlier topic a follow-up ("and the railway?") leans on.
    context: str | None = None
    # The question's language code when known; NewsService detects it otherwise.
    language: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "question", " ".join(self.question.split()))
        object.__setattr__(self, "sources", tuple(self.sources))


@dataclass(frozen=True)
class SearchPlan:
    """What retrieval runs: the text to search for, the filters, the moment it counts from, k and mode."""

    text: str
    filters: Filters
    now: datetime
    k: int
    mode: Mode
    # The question's language: its keyword terms get that language's stems (index/keywords.py).
    language: str | None = None


def answer_gist(answer: Answer, max_chars: int = 300) -> str:
    """An answer's first sentence without its [n] markers: what a follow-up question leans on."""
    if not answer.answered:
        return ""
    first = answer.citations[0].quote if answer.citations else answer.text
    return strip_markers(first)[:max_chars]


def followup_context(question: str, answer: Answer | None) -> str:
    """The context a follow-up ("and the railway?") is read with: the earlier question and its answer's gist."""
    gist = answer_gist(answer) if answer is not None else ""
    return f"{question} {gist}".strip()


def plan_search(query: Query, settings: IndexSettings) -> SearchPlan:
    """Resolve a query's time words, dates, follow-up context and defaults into a SearchPlan."""
    if not query.question:
        raise InputError("the question is empty")
    now = query.as_of or datetime.now(UTC)
    window = parse_time_window(query.question, now)
    ends = [t for t in (window.until, query.until, now if query.as_of else None) if t is not None]
    # "This week" starts on Monday, but the week's news is often published over the weekend before;
    # an explicit `since` is taken as given.
    spoken = window.since - timedelta(days=settings.window_slack_days) if window.since else None
    starts = [t for t in (spoken, query.since) if t is not None]
    filters = Filters(since=max(starts, default=None), until=min(ends, default=None), sources=query.sources)
    text = f"{query.context} {window.query}" if query.context else window.query
    return SearchPlan(
        text=text,
        filters=filters,
        now=now,
        k=query.k or settings.top_k,
        mode=query.mode or settings.mode,
        language=query.language,
    )
