"""Load articles from files: agency text, JSON Lines, JSON, Markdown and HTML; bad records become problems."""

from __future__ import annotations

import errno
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from corpus.loaders.agency import load_agency_text
from corpus.loaders.common import Provenance, RecordError, check_size, decode_bytes, size_text, utf8_size
from corpus.loaders.html import load_html
from corpus.loaders.markdown import load_front_matter_text
from corpus.loaders.records import load_json, load_jsonl_file
from corpus.models import LoadProblem, LoadResult
from corpus.settings import CorpusSettings

__all__ = ["SUPPORTED_SUFFIXES", "iter_input_files", "load_file", "load_html"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".jsonl", ".json", ".md", ".markdown", ".html", ".htm"}
)
log = logging.getLogger(__name__)


def _is_hidden(name: str) -> bool:
    """Dot files and folders (.git, .venv, .DS_Store) are never input."""
    return name.startswith(".")


def _link_problem(path: Path) -> str:
    """Why a symbolic link that leads to no file or folder was skipped."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop; skipped"
        if exc.errno == errno.ENOENT:
            return f"broken symbolic link (to {os.readlink(path)!r}); skipped"
        return f"cannot follow symbolic link: {exc.strerror or exc}; skipped"
    return "symbolic link to something that is not a file or folder; skipped"


def _walk(folder: Path) -> tuple[list[Path], list[LoadProblem]]:
    """Supported files under a folder, recursively and in name order, and what was skipped and why.

    Hidden entries are skipped silently; unreadable folders, symbolic links to folders (not followed, so
    no loops), broken links and link loops are each a problem; files of other types are counted.
    """
    found: list[Path] = []
    problems: list[LoadProblem] = []
    unsupported: Counter[str] = Counter()
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            reason = f"cannot read folder: {exc.strerror or exc}; skipped"
            problems.append(LoadProblem(str(current), None, reason))
            continue
        subfolders: list[Path] = []
        for entry in listing:
            if _is_hidden(entry.name):
                continue
            path = Path(entry.path)
            try:
                is_link, is_dir, is_file = entry.is_symlink(), entry.is_dir(), entry.is_file()
            except OSError:
                is_link, is_dir, is_file = True, False, False  # a link loop raises ELOOP here
            if is_link and is_dir:
                reason = "symbolic link to a folder, not followed; skipped"
                problems.append(LoadProblem(str(path), None, reason))
            elif is_dir:
                subfolders.append(path)
            elif is_link and not is_file:
                problems.append(LoadProblem(str(path), None, _link_problem(path)))
            elif not is_file:
                problems.append(LoadProblem(str(path), None, "not a regular file; skipped"))
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
            else:
                unsupported[path.suffix.lower() or "(no suffix)"] += 1
        stack.extend(reversed(subfolders))
    if unsupported:
        kinds = ", ".join(f"{n} {suffix}" for suffix, n in sorted(unsupported.items()))
        total = sum(unsupported.values())
        reason = f"skipped {total} file{'s' if total > 1 else ''} of unsupported type ({kinds})"
        problems.append(LoadProblem(str(folder), None, reason))
    return found, problems


def _real_path(path: Path) -> Path:
    """The path with links resolved, to read each file once; the path itself when it cannot be resolved."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python < 3.13)
        return path.absolute()


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
            candidates, skipped = _walk(path)
            problems.extend(skipped)
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
        elif path.is_symlink():
            problems.append(LoadProblem(str(path), None, _link_problem(path)))
            continue
        else:
            problems.append(LoadProblem(str(path), None, "no such file or folder"))
            continue
        for candidate in candidates:
            key = _real_path(candidate)
            if key not in seen:
                seen.add(key)
                files.append(candidate)
    return files, problems


def _load_html_file(text: str, path: str, prov: Provenance) -> LoadResult:
    """One article per HTML file; the page is one record, so max_record_bytes bounds the parser's work."""
    try:
        check_size(utf8_size(text), prov.settings, "HTML page")
    except RecordError as exc:
        return LoadResult(problems=(LoadProblem(path, None, str(exc)),))
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
    ".json": load_json,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html_file,
    ".htm": _load_html_file,
}
# Read line by line instead of whole, so that memory holds one record at a time.
_STREAMED: dict[str, Callable[[Path, str, Provenance], LoadResult]] = {".jsonl": load_jsonl_file}


def _read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes; RecordError, without reading it all, when it is over the limit."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise _too_big(max(path.stat().st_size, len(data)), limit)
    return data


def _too_big(size: int, limit: int) -> RecordError:
    """The error for a file over corpus.max_file_bytes."""
    return RecordError(
        f"file is {size_text(size)}, over the limit of {size_text(limit)} (corpus.max_file_bytes);"
        " not read: split it or raise the limit"
    )


def load_file(path: Path, settings: CorpusSettings, fetched_at: datetime | None = None) -> LoadResult:
    """Load one file with the loader for its suffix; bad content gives problems, never an exception."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return LoadResult(problems=(LoadProblem(name, None, _unsupported(path)),))
    prov = Provenance(settings, fetched_at)
    try:
        if suffix in _STREAMED:
            # The file limit holds for streamed files too: their articles are all kept until stored.
            size = path.stat().st_size
            if size > settings.max_file_bytes:
                raise _too_big(size, settings.max_file_bytes)
            return _STREAMED[suffix](path, name, prov)
        data = _read_limited(path, settings.max_file_bytes)
        text = decode_bytes(data).replace("\r\n", "\n").replace("\r", "\n")
        del data  # freed before loading: on a big file, the bytes would double the peak
        return _LOADERS[suffix](text, name, prov)
    except OSError as exc:
        return LoadResult(problems=(LoadProblem(name, None, f"cannot read file: {exc.strerror or exc}"),))
    except RecordError as exc:
        return LoadResult(problems=(LoadProblem(name, None, str(exc)),))
    except Exception as exc:  # a loader bug must cost this one file, never the rest of the run
        log.debug("unexpected error loading %s", name, exc_info=True)
        reason = f"could not be loaded (unexpected {type(exc).__name__}: {exc})"
        return LoadResult(problems=(LoadProblem(name, None, reason),))
