"""Markdown files and text files with "---" front matter (simple key: value lines, no YAML dependency)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus.cleaning import headline_from_sentence, normalize_text, split_sentences
from corpus.loaders.agency import is_headline
from corpus.loaders.common import Provenance, RecordError, build_article, parse_datetime
from corpus.models import LoadProblem, LoadResult

_KEY_VALUE_RE = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*)")
_KEYS = {
    "title": "title",
    "headline": "title",
    "url": "url",
    "link": "url",
    "source": "source",
    "agency": "source",
    "published_at": "published_at",
    "published": "published_at",
    "date": "published_at",
    "language": "language",
    "lang": "language",
    "id": "id",
}
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


@dataclass
class FrontMatter:
    """Values read from front matter, with the 1-based line of each key."""

    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def _unquote(value: str) -> str:
    """Strip one pair of matching quotes around a front matter value."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def split_front_matter(text: str) -> tuple[FrontMatter | None, list[str], int]:
    """Return (front matter or None, remaining lines, 1-based number of the first remaining line)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, lines, 1
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return None, lines, 1
    meta = FrontMatter()
    for number in range(1, end):
        match = _KEY_VALUE_RE.fullmatch(lines[number].strip())
        # Indented lines and list items belong to YAML structures we do not need (tags, authors).
        if match and not lines[number][:1].isspace():
            key = _KEYS.get(match.group(1).lower())
            if key and key not in meta.values:
                meta.values[key] = _unquote(match.group(2))
                meta.lines[key] = number + 1
    return meta, lines[end + 1 :], end + 2


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
    problems: list[LoadProblem] = []
    meta, lines, first_line = split_front_matter(text)
    if meta is None and lines and lines[0].strip() == "---":
        problems.append(LoadProblem(path, 1, "front matter is not closed by a '---' line; read as text"))
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
    try:
        article = build_article(
            prov,
            title=title,
            body=body,
            url=values.get("url"),
            source=values.get("source"),
            published_at=published_at,
            language=values.get("language"),
            explicit_id=values.get("id"),
        )
    except RecordError as exc:
        return LoadResult(problems=(*problems, LoadProblem(path, first_line, str(exc))))
    return LoadResult((article,), tuple(problems))
