"""Ingest into the article store: load files and folders, drop near-duplicates, upsert; and its report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from corpus.dedup import resolve_near_duplicates
from corpus.errors import InputError
from corpus.language import LanguageDetector
from corpus.loaders import iter_input_files, load_file
from corpus.models import Article, LoadProblem, Progress
from corpus.repos import ArticleRepository
from corpus.settings import CorpusSettings


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did (the store's part; the index adds what it embedded and indexed)."""

    files: int = 0
    articles_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    removed: int = 0
    passages_indexed: int = 0
    embedded: int = 0
    seconds: float = 0.0
    problems: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LoadedPaths:
    """The articles read from files and folders, the bad records among them, and how many files."""

    articles: tuple[Article, ...]
    problems: tuple[LoadProblem, ...]
    files: int


def load_paths(
    paths: Sequence[Path], settings: CorpusSettings, progress: Progress | None = None
) -> LoadedPaths:
    """Read files and folders into articles, collecting the bad records; fails only when nothing is readable."""
    files, problems = iter_input_files(paths)
    if not files and problems:
        raise InputError("; ".join(str(p) for p in problems))
    articles: list[Article] = []
    fetched = datetime.now(UTC)
    for done, path in enumerate(files, start=1):
        result = load_file(path, settings, fetched_at=fetched)
        articles.extend(result.articles)
        problems.extend(result.problems)
        if progress:
            progress("reading", done, len(files))
    return LoadedPaths(tuple(articles), tuple(problems), len(files))


def store_articles(
    store: ArticleRepository,
    articles: Sequence[Article],
    settings: CorpusSettings,
    detector: LanguageDetector | None = None,
) -> IngestReport:
    """Store articles idempotently; near-duplicates are re-keyed so that the newest version wins.

    Every article leaves with a language: the one its source declared, else the detected one, else
    corpus.default_language.
    """
    detector = detector or LanguageDetector()
    seen = list(detector.resolve_all(articles, settings.default_language))
    kept = resolve_near_duplicates(seen, store, settings.near_duplicate_threshold)
    upsert = store.upsert(kept)
    return IngestReport(
        articles_seen=len(seen),
        added=len(upsert.added),
        updated=len(upsert.updated),
        unchanged=len(upsert.unchanged),
        # Near-duplicates dropped before the upsert count as duplicates too.
        duplicates=len(upsert.duplicates) + len(seen) - len(kept),
    )
