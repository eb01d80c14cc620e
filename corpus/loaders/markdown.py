"""Markdown files and text files with "---" front matter: one article each."""

from __future__ import annotations

import re

from corpus.cleaning import headline_from_sentence, normalize_text, split_sentences
from corpus.loaders.agency import is_headline
from corpus.loaders.common import (
    Provenance,
    RecordError,
    build_article,
    check_size,
    language_code,
    parse_datetime,
    utf8_size,
)
from corpus.loaders.frontmatter import split_front_matter
from corpus.models import LoadProblem, LoadResult

__all__ = ["load_front_matter_text", "markdown_to_text", "split_front_matter"]

_FENCE_RE = re.compile(r"^\s*(?:```|~~~)")
_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_RE = re.compile(r"^\s{0,3}(?:=+|-+)\s*$")
_BLOCK_START_RE = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+|>|#{1,6}\s|\|)")
_LIST_MARK_RE = re.compile(r"^\s*(?:>\s*)*(?:[-*+]\s+(?:\[[ xX]\]\s+)?)?")
_LINK_DEF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK_RE = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK_RE = re.compile(r"<(https?://[^>\s]+)>")
_EMPHASIS_RE = re.compile(r"(\*\*|\*|~~)(?=\S)(.+?)(?<=\S)\1")
# Underscores only emphasise at word edges, so snake_case names survive.
_UNDERSCORE_RE = re.compile(r"(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_CODE_RE = re.compile(r"`+([^`]*)`+")
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][^>]{0,200}>")


def _strip_inline(line: str) -> str:
    """Remove inline markdown: images, links (keep their text), emphasis, code marks and HTML tags."""
    line = _IMAGE_RE.sub("", line)
    line = _LINK_RE.sub(r"\1", line)
    line = _AUTOLINK_RE.sub(r"\1", line)
    line = _CODE_RE.sub(r"\1", line)
    line = _HTML_TAG_RE.sub("", line)
    for _ in range(2):  # nested emphasis such as ***bold italic***
        line = _UNDERSCORE_RE.sub(r"\2", _EMPHASIS_RE.sub(r"\2", line))
    return line


def markdown_to_text(lines: list[str], markdown: bool) -> tuple[str | None, str]:
    """Turn markdown lines into (first "# " heading or None, plain text with one paragraph per line)."""
    heading: str | None = None
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in lines:
        if markdown and _FENCE_RE.match(raw):
            in_fence = not in_fence
            flush()
            continue
        if not raw.strip():
            flush()
            continue
        if not markdown or in_fence:
            # Plain text keeps its lines; fenced code is kept verbatim line by line.
            flush()
            paragraphs.append(raw.strip())
            continue
        if _LINK_DEF_RE.match(raw):
            continue
        found = _HEADING_RE.match(raw)
        if found:
            flush()
            text = _strip_inline(found.group(2))
            if heading is None and not paragraphs:
                heading = text
            else:
                paragraphs.append(text)
            continue
        if _SETEXT_RE.match(raw) and current:
            # "Title\n=====" underlines turn the preceding line into a heading.
            text = current.pop()
            flush()
            if heading is None and not paragraphs and raw.strip().startswith("="):
                heading = text
            else:
                paragraphs.append(text)
            continue
        if _BLOCK_START_RE.match(raw):
            flush()
        current.append(_strip_inline(_LIST_MARK_RE.sub("", raw, count=1).strip()))
    flush()
    return heading, "\n".join(p for p in paragraphs if p.strip())


def load_front_matter_text(text: str, path: str, prov: Provenance, markdown: bool) -> LoadResult:
    """Load one article from markdown (or text with front matter); a bad date is reported but not fatal."""
    try:
        # The whole file is one article: refuse it before the line-by-line markdown work.
        check_size(utf8_size(text), prov.settings, "file (one article)")
    except RecordError as exc:
        return LoadResult(problems=(LoadProblem(path, None, str(exc)),))
    problems: list[LoadProblem] = []
    meta, lines, first_line = split_front_matter(text)
    if meta is None and lines and lines[0].strip() == "---":
        problems.append(LoadProblem(path, 1, "front matter is not closed by a '---' line; read as text"))
    problems += [LoadProblem(path, line, reason) for line, reason in (meta.problems if meta else ())]
    values = meta.values if meta else {}
    heading, body = markdown_to_text(lines, markdown)
    title = values.get("title") or heading
    if title and markdown:
        title = _strip_inline(title)
    if not title:
        first, _, rest = body.partition("\n")
        if is_headline(first) and rest:
            title, body = first, rest
        else:
            sentences = split_sentences(normalize_text(body))
            title = headline_from_sentence(sentences[0]) if sentences else ""
    published_at = None
    if values.get("published_at"):
        try:
            published_at = parse_datetime(values["published_at"])
        except RecordError as exc:
            line = meta.lines["published_at"] if meta else None
            problems.append(LoadProblem(path, line, f"{exc}; loaded without a date"))
    language = None
    if values.get("language"):
        try:
            language = language_code(values["language"])
        except RecordError as exc:
            line = meta.lines["language"] if meta else None
            problems.append(LoadProblem(path, line, f"{exc}; its language is detected from the text"))
    try:
        article = build_article(
            prov,
            title=title,
            body=body,
            url=values.get("url"),
            source=values.get("source"),
            published_at=published_at,
            language=language,
            explicit_id=values.get("id"),
        )
    except RecordError as exc:
        return LoadResult(problems=(*problems, LoadProblem(path, first_line, str(exc))))
    return LoadResult((article,), tuple(problems))
