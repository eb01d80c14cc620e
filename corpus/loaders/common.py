"""Pieces every loader shares: decoding bytes, parsing dates and building cleaned articles."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from corpus.cleaning import clean_article_text
from corpus.models import Article, stable_id
from corpus.settings import CorpusSettings


class RecordError(ValueError):
    """One record cannot become an article; the message says why in plain words."""


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control bytes that never occur in real text files (tab, newlines, form feed and ESC excluded).
_BINARY_BYTES = bytes([*range(0, 8), 11, *range(14, 27), *range(28, 32)])
_C1_CONTROLS_RE = re.compile(r"[\x80-\x9f]")


def _looks_like_text(text: str) -> bool:
    """True when a single-byte decoding gives plausible Western text rather than mojibake."""
    visible = [c for c in text if not c.isspace()]
    if not visible:
        return False
    if len(_C1_CONTROLS_RE.findall(text)) > len(visible) // 200:
        return False
    # Latin-1/cp1252 prose is mostly ASCII; CJK or Cyrillic bytes read as cp1252 are mostly not.
    non_ascii = sum(1 for c in visible if ord(c) > 127)
    return non_ascii <= 0.3 * len(visible)


def decode_bytes(data: bytes) -> str:
    """Decode a text file: UTF-8, UTF-16/32 with a BOM, else cp1252/latin-1 if the result looks like text."""
    if not data.strip():
        raise RecordError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise RecordError(f"cannot decode: invalid {encoding.upper()} text ({exc.reason})") from exc
            if not text.strip(" \t\r\n\ufeff"):
                raise RecordError("empty file")
            return text.lstrip("\ufeff")
    sample = data[:65536]
    if b"\x00" in sample or len(sample.translate(None, _BINARY_BYTES)) < 0.95 * len(sample):
        raise RecordError("binary or non-text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise RecordError("cannot decode: unknown text encoding (not UTF-8, UTF-16 or Latin-1)")


_SLASH_DATE_RE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DATE_HINT = "expected ISO 8601, YYYY-MM-DD or YYYY/MM/DD"


def _as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_datetime(value: object) -> datetime | None:
    """Parse a publication date from text (ISO 8601, YYYY/MM/DD, RFC 2822) or a datetime; None when blank."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise RecordError(f"bad date {value!r}: {_DATE_HINT}")
    raw = value.strip()
    if not raw:
        return None
    try:
        slash = _SLASH_DATE_RE.fullmatch(raw)
        if slash:
            year, month, day, hour, minute, second = (int(p) for p in slash.groups(default="0"))
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        return _as_utc(datetime.fromisoformat(raw))
    except ValueError:
        pass
    try:
        return _as_utc(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError):
        raise RecordError(f"bad date {raw!r}: {_DATE_HINT}") from None


def _one_line(text: str) -> str:
    """Titles are a single line."""
    return " ".join(clean_article_text(text).split())


def _drop_repeated_title(title: str, body: str) -> str:
    """Extractors often repeat the headline as the first body line; keep it only once."""
    first, _, rest = body.partition("\n")
    if rest and " ".join(first.split()).casefold() == title.casefold():
        return rest
    return body


@dataclass(frozen=True)
class Provenance:
    """Where a file's articles come from: settings defaults plus the time they were read."""

    settings: CorpusSettings
    fetched_at: datetime | None = None


def build_article(
    prov: Provenance,
    *,
    title: str,
    body: str,
    url: str | None = None,
    source: str | None = None,
    published_at: datetime | None = None,
    language: str | None = None,
    explicit_id: str | None = None,
) -> Article:
    """Clean title and body and build an Article with a stable id; RecordError when nothing is left."""
    clean_title = _one_line(title)
    if not clean_title:
        raise RecordError("title is empty")
    clean_body = _drop_repeated_title(clean_title, clean_article_text(body))
    if not clean_body:
        raise RecordError("body is empty (nothing left after removing boilerplate)")
    url = (url or "").strip() or None
    source = (source or "").strip() or prov.settings.default_source
    article_id = (explicit_id or "").strip() or (stable_id(url) if url else stable_id(source, clean_title))
    return Article(
        id=article_id,
        title=clean_title,
        body=clean_body,
        url=url,
        source=source,
        published_at=published_at,
        language=(language or "").strip().lower() or prov.settings.default_language,
        fetched_at=prov.fetched_at,
    )
