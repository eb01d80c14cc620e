"""Frozen dataclasses that cross package boundaries: articles and load reports."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

# Long work reports (stage, done, total); the CLI draws bars, the bot edits a message.
Progress = Callable[[str, int, int], None]


def content_hash(title: str, body: str) -> str:
    """Hash of an article's visible text, used to spot exact duplicates and changes."""
    return hashlib.sha256(f"{title.strip()}\n{body.strip()}".encode()).hexdigest()


def stable_id(*parts: str | None) -> str:
    """A short stable id derived from identifying parts (url, or source and title)."""
    key = "\x1f".join(p or "" for p in parts)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Article:
    """One news article as stored: cleaned text plus provenance."""

    id: str
    title: str
    body: str
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    # None until resolved at ingest: declared by the source, else detected (corpus/language.py).
    language: str | None = None
    fetched_at: datetime | None = None
    hash: str = ""

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.title, self.body))


@dataclass(frozen=True)
class LoadProblem:
    """A record that could not be loaded, with where it was."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class LoadResult:
    """What a loader produced from one file: the good articles and the bad records."""

    articles: tuple[Article, ...] = ()
    problems: tuple[LoadProblem, ...] = field(default_factory=tuple)
