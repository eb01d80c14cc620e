"""Front matter: the "---" block of YAML `key: value` lines atop Markdown and text files, read without PyYAML."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_KEY_VALUE_RE = re.compile(r"([A-Za-z_][\w-]*)\s*:\s*(.*)")
_BLOCK_RE = re.compile(r"[|>][+-]?[1-9]?[+-]?")
KEYS = {
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


@dataclass
class FrontMatter:
    """Values read from front matter, the 1-based line of each key, and the lines that were ignored and why."""

    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


def _closed_double(value: str) -> bool:
    """True when a double-quoted value ends with an unescaped quote."""
    if len(value) < 2 or not value.endswith('"'):
        return False
    backslashes = len(value[:-1]) - len(value[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _quoted(value: str) -> str | None:
    """The text of a quoted value, or None when its closing quote is missing."""
    if value[0] == '"':
        if not _closed_double(value):
            return None
        try:
            text = json.loads(value)  # YAML's double-quoted escapes are JSON's, plus a few rare ones
        except ValueError:
            return value[1:-1]
        return text if isinstance(text, str) else value[1:-1]
    if len(value) < 2 or not value.endswith("'"):
        return None
    return value[1:-1].replace("''", "'")


def _malformed(value: str) -> str | None:
    """Why a non-empty value (continuation lines joined) is broken YAML, or None: unclosed quotes, brackets."""
    if value[:1] in "\"'" and _quoted(value) is None:
        return f"unclosed {value[0]} quote"
    if value[:1] in "[{":
        closer = "]" if value[0] == "[" else "}"
        if not value.endswith(closer):
            return f"unclosed '{value[0]}'"
    if value[:1] in "@`":
        return f"a YAML value cannot start with '{value[0]}'"
    return None


def _value(first: str, more: list[str]) -> tuple[str | None, str | None]:
    """(text, None) for a scalar value, or (None, why it is ignored); more are its continuation lines."""
    if _BLOCK_RE.fullmatch(first):
        # A block scalar: "|" keeps line breaks, ">" folds them into spaces.
        return ("\n" if first[0] == "|" else " ").join(line.strip() for line in more).strip(), None
    nested = more[0].strip() if more and not first else ""
    if nested.startswith("-") or _KEY_VALUE_RE.fullmatch(nested):
        return None, "a list, not text" if nested.startswith("-") else "a mapping, not text"
    value = " ".join([first, *(line.strip() for line in more if line.strip())]).strip()
    if not value:
        return "", None
    broken = _malformed(value)
    if broken:
        return None, f"malformed value ({broken})"
    if value[:1] in "\"'":
        return _quoted(value), None
    if value[:1] in "[{":
        return None, "a list, not text" if value[0] == "[" else "a mapping, not text"
    return value, None


def _continuation(lines: list[str], start: int, end: int) -> list[str]:
    """The indented (or blank) lines from start that continue a value, without trailing blank lines."""
    stop = start
    while stop < end and (lines[stop][:1].isspace() or not lines[stop].strip()):
        stop += 1
    more = lines[start:stop]
    while more and not more[-1].strip():
        more.pop()
    return more


def parse_front_matter(lines: list[str], end: int) -> FrontMatter:
    """Read lines[1:end] (between the "---" fences); the first of repeated keys wins, as before."""
    meta = FrontMatter()
    seen: dict[str, int] = {}
    for index in range(1, end):
        raw = lines[index]
        stripped = raw.strip()
        # Indented lines and list items belong to values or to YAML structures we do not need (tags).
        if not stripped or stripped.startswith("#") or raw[:1].isspace() or stripped.startswith("-"):
            continue
        number = index + 1
        match = _KEY_VALUE_RE.fullmatch(stripped)
        if not match:
            meta.problems.append(
                (number, f"front matter line is not 'key: value': {stripped[:60]!r}; ignored")
            )
            continue
        name = match.group(1)
        if name in seen:
            meta.problems.append(
                (number, f"front matter key {name!r} repeated (first on line {seen[name]}); ignored")
            )
            continue
        seen[name] = number
        text, why = _value(match.group(2), _continuation(lines, index + 1, end))
        key = KEYS.get(name.lower())
        if why and (key or why.startswith("malformed")):
            meta.problems.append((number, f"front matter {name!r}: {why}; ignored"))
        elif key and text is not None and key not in meta.values:
            meta.values[key] = text
            meta.lines[key] = number
    return meta


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
    return parse_front_matter(lines, end), lines[end + 1 :], end + 2
