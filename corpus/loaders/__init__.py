"""Load articles from files: agency text, JSON Lines, JSON, Markdown and HTML; bad records become problems."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from corpus.loaders.agency import load_agency_text
from corpus.loaders.common import Provenance, RecordError, decode_bytes
from corpus.loaders.html import load_html
from corpus.loaders.markdown import load_front_matter_text
from corpus.loaders.records import load_json, load_jsonl
from corpus.models import LoadProblem, LoadResult
from corpus.settings import CorpusSettings

__all__ = ["SUPPORTED_SUFFIXES", "iter_input_files", "load_file", "load_html"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".jsonl", ".json", ".md", ".markdown", ".html", ".htm"}
)


def _is_hidden(name: str) -> bool:
    """Dot files and folders (.git, .venv, .DS_Store) are never input."""
    return name.startswith(".")


def _walk(folder: Path) -> list[Path]:
    """Supported files under a folder, recursively and sorted; hidden entries and folder symlinks skipped."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for name in sorted(files):
            if not _is_hidden(name) and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(Path(root) / name)
    return found


def _unsupported(path: Path) -> str:
    """Plain words for a file whose suffix no loader handles."""
    return f"unsupported file type {path.suffix or '(no suffix)'!r}"


def iter_input_files(paths: Sequence[Path]) -> tuple[list[Path], list[LoadProblem]]:
    """Expand folders into supported files; missing paths and unsupported explicit files are problems."""
    files: list[Path] = []
    problems: list[LoadProblem] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = _walk(path)
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
                reason = f"{_unsupported(path)}; supported: {kinds}"
                problems.append(LoadProblem(str(path), None, reason))
                continue
            candidates = [path]
        elif path.exists():
            problems.append(LoadProblem(str(path), None, "not a regular file or folder"))
            continue
        else:
            problems.append(LoadProblem(str(path), None, "no such file or folder"))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                files.append(candidate)
    return files, problems


def _load_html_file(text: str, path: str, prov: Provenance) -> LoadResult:
    """One article per HTML file."""
    article = load_html(text, None, None, prov.settings, fetched_at=prov.fetched_at)
    if article is None:
        return LoadResult(problems=(LoadProblem(path, None, "no article text found in the HTML page"),))
    return LoadResult((article,))


def _load_text_file(text: str, path: str, prov: Provenance) -> LoadResult:
    """Plain text: front matter files are single articles, everything else is agency format."""
    if text.lstrip("\ufeff").split("\n", 1)[0].strip() == "---":
        return load_front_matter_text(text, path, prov, markdown=False)
    return load_agency_text(text, path, prov)


def _load_markdown(text: str, path: str, prov: Provenance) -> LoadResult:
    return load_front_matter_text(text, path, prov, markdown=True)


_LOADERS: dict[str, Callable[[str, str, Provenance], LoadResult]] = {
    ".txt": _load_text_file,
    ".jsonl": load_jsonl,
    ".json": load_json,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html_file,
    ".htm": _load_html_file,
}


def load_file(path: Path, settings: CorpusSettings, fetched_at: datetime | None = None) -> LoadResult:
    """Load one file with the loader for its suffix; bad content gives problems, never an exception."""
    name = str(path)
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        return LoadResult(problems=(LoadProblem(name, None, _unsupported(path)),))
    try:
        data = path.read_bytes()
    except OSError as exc:
        return LoadResult(problems=(LoadProblem(name, None, f"cannot read file: {exc.strerror or exc}"),))
    try:
        text = decode_bytes(data).replace("\r\n", "\n").replace("\r", "\n")
    except RecordError as exc:
        return LoadResult(problems=(LoadProblem(name, None, str(exc)),))
    return loader(text, name, Provenance(settings, fetched_at))
