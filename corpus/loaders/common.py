"""Pieces every loader shares: decoding bytes, parsing dates and building cleaned articles."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from corpus.cleaning import clean_article_text
from corpus.models import Article, stable_id
from corpus.settings import CorpusSettings


class RecordError(ValueError):
    """One record cannot become an article; the message says why in plain words."""


class EmptyBodyError(RecordError):
    """A record's body was all boilerplate (an ad or video-player page): nothing but its headline is left."""


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
_TEXT_SAMPLE_CHARS = 1_000_000
BINARY_SAMPLE_BYTES = 65536


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
    encoding = bom_encoding(data)
    if encoding:
        try:
            text = data.decode(encoding).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            raise RecordError(f"cannot decode: invalid {encoding.upper()} text ({exc.reason})") from exc
    elif looks_binary(data[:BINARY_SAMPLE_BYTES]):
        raise RecordError("binary or non-text file")
    else:
        text = decode_plain(data)
    if not text or text.isspace():  # isspace(), not strip(): no copy of a big file; Unicode spaces count
        raise RecordError("empty file")
    return text


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of a file announces, if any."""
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), None)


def looks_binary(sample: bytes) -> bool:
    """True when the first bytes of a file hold NULs or more control bytes than text ever has."""
    return b"\x00" in sample or len(sample.translate(None, _BINARY_BYTES)) < 0.95 * len(sample)


def decode_plain(data: bytes) -> str:
    """Decode bytes without a BOM: UTF-8, else cp1252/latin-1 when that reads as text; RecordError if neither."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # A sample decides: the whole of a big file would cost a list entry per character.
        if _looks_like_text(text[:_TEXT_SAMPLE_CHARS]):
            return text
    raise RecordError("cannot decode: unknown text encoding (not UTF-8, UTF-16 or Latin-1)")


_SLASH_DATE_RE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DATE_HINT = "expected ISO 8601, YYYY-MM-DD or YYYY/MM/DD"
_MAX_DATE_CHARS = 100
# News dates outside these years are typos or placeholders (9999-12-31, 0001-01-01); near datetime's own
# limits, date arithmetic further on (time windows, duplicate search, recency) would overflow.
EARLIEST_YEAR = 1800
LATEST_YEAR = 2199


def _as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC (OverflowError near year 1 or 9999)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _out_of_range(shown: str) -> RecordError:
    """The error for a date whose year is implausible (or beyond what datetime can hold)."""
    return RecordError(f"date {shown} is out of range: expected a year from {EARLIEST_YEAR} to {LATEST_YEAR}")


def _in_range(value: datetime, shown: str) -> datetime:
    """The date itself when its year is plausible for news, else a RecordError naming the range."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _out_of_range(shown)
    return value


def _parse_text_date(raw: str) -> datetime:
    """ISO 8601 or YYYY/MM/DD, else RFC 2822; RecordError when none fits."""
    try:
        slash = _SLASH_DATE_RE.fullmatch(raw)
        if slash:
            year, month, day, hour, minute, second = (int(p) for p in slash.groups(default="0"))
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        return _as_utc(datetime.fromisoformat(raw))
    except OverflowError:
        raise _out_of_range(repr(raw)) from None
    except ValueError:
        pass
    try:
        return _as_utc(parsedate_to_datetime(raw))
    except OverflowError:
        raise _out_of_range(repr(raw)) from None
    except (TypeError, ValueError, IndexError):
        raise RecordError(f"bad date {raw!r}: {_DATE_HINT}") from None


def parse_datetime(value: object) -> datetime | None:
    """Parse a publication date from text (ISO 8601, YYYY/MM/DD, RFC 2822) or a datetime; None when blank."""
    if value is None:
        return None
    if isinstance(value, date):
        shown = value.isoformat()
        try:
            if isinstance(value, datetime):
                return _in_range(_as_utc(value), shown)
            return _in_range(datetime(value.year, value.month, value.day, tzinfo=UTC), shown)
        except OverflowError:
            raise _out_of_range(shown) from None
    if not isinstance(value, str):
        raise RecordError(f"bad date {describe_value(value)}: {_DATE_HINT}")
    raw = value.strip()
    if not raw:
        return None
    if len(raw) > _MAX_DATE_CHARS:
        raise RecordError(f"bad date {describe_value(raw)}: {_DATE_HINT}")
    return _in_range(_parse_text_date(raw), repr(raw))


def describe_value(value: object) -> str:
    """A short, safe rendering of an untrusted JSON value for a message (never a huge or deep repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a very large number"  # repr() of a huge int is slow, and refused past 4,300 digits
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


# --- sizes and fields ------------------------------------------------------------------------------------

# A headline is one line; a longer "title" is a body in the wrong field, and it would be embedded again
# with every passage of the article.
MAX_TITLE_CHARS = 1_000
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def size_text(size: int) -> str:
    """A byte count in plain words: "812 bytes", "45.1 kB", "52.4 MB"."""
    if size < 1_000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1_000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"


def utf8_size(text: str) -> int:
    """The UTF-8 size of text; ASCII text (the usual case) is measured without encoding it."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def check_size(size: int, settings: CorpusSettings, what: str = "record") -> None:
    """RecordError when one record is over corpus.max_record_bytes, naming both sizes."""
    limit = settings.max_record_bytes
    if size > limit:
        raise RecordError(
            f"{what} is {size_text(size)}, over the limit of {size_text(limit)} (corpus.max_record_bytes); skipped"
        )


def language_code(value: object) -> str | None:
    """A language tag such as "en" or "pt-BR", lower-cased; None when absent; RecordError when not a tag."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _LANGUAGE_RE.fullmatch(value.strip()):
        raise RecordError(
            f"'language' {describe_value(value)} is not a language code such as 'en' or 'pt-BR'"
        )
    return value.strip().lower()


def _language_or_none(value: str | None) -> str | None:
    """language_code, with None for a value that is not one."""
    try:
        return language_code(value)
    except RecordError:
        return None


def valid_unicode(text: str) -> str:
    """Lone surrogates (legal in JSON escapes, not in UTF-8) become U+FFFD, so hashing and storing work."""
    return _SURROGATE_RE.sub("\ufffd", text) if _SURROGATE_RE.search(text) else text


def _one_line(text: str) -> str:
    """Titles are a single line."""
    return " ".join(clean_article_text(text).split())


# A trailing " - CNN", " | The Week UK", " | CNN Business ..." that sites append to their headlines.
_SITE_SUFFIX_RE = re.compile(r"\s+[|–—-]\s+([^|–—-]{2,40}?)\s*(?:\.\.\.|…)?$")
_NOT_NAME_RE = re.compile(r"[\W_]+")


def _name_key(text: str) -> str:
    """A site name compared without case, spaces or punctuation ("CNN Politics" ~ "CNNPolitics")."""
    return _NOT_NAME_RE.sub("", text.casefold())


def strip_site_suffix(title: str, source: str | None, url: str | None) -> str:
    """The headline without a trailing site name, when that name is the article's source or its URL's site.

    Sources and citations already name the agency; the suffix only repeats it (and would count as a
    word of every passage's headline in search).
    """
    match = _SITE_SUFFIX_RE.search(title)
    if not match or match.start() == 0:
        return title
    suffix = _name_key(match.group(1))
    host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
    names = [_name_key(source or ""), _name_key(host.split(".")[0])]
    # A prefix either way: "CNN Business" of source "CNN", "The Week UK" of "The Week", "The ..." cut short.
    if len(suffix) >= 3 and any(n and (n.startswith(suffix) or suffix.startswith(n)) for n in names):
        return title[: match.start()].rstrip()
    return title


def _drop_repeated_title(body: str, *titles: str) -> str:
    """Extractors often repeat the headline (any of its forms) as the first body line; keep it only once."""
    first, _, rest = body.partition("\n")
    if rest and " ".join(first.split()).casefold() in {t.casefold() for t in titles}:
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
    """Clean title and body and build an Article with a stable id; RecordError when nothing is left.

    Text over corpus.max_record_bytes is refused before any costly cleaning, and so is a title longer
    than MAX_TITLE_CHARS; a language that is not a language code counts as undeclared (None, detected at
    ingest; callers that can report it check it first with language_code).
    """
    check_size(utf8_size(title) + utf8_size(body), prov.settings, "article text")
    clean_title = valid_unicode(_one_line(title))
    if not clean_title:
        raise RecordError("title is empty")
    if len(clean_title) > MAX_TITLE_CHARS:
        raise RecordError(
            f"title is {len(clean_title):,} characters long (a headline has at most {MAX_TITLE_CHARS:,})"
        )
    url = valid_unicode((url or "").strip()) or None
    source = valid_unicode((source or "").strip()) or prov.settings.default_source
    headline = strip_site_suffix(clean_title, source, url)
    clean_body = _drop_repeated_title(valid_unicode(clean_article_text(body)), headline, clean_title)
    if clean_body == clean_title:
        # A headline-only article: its one line is the headline, site name dropped as in the title.
        clean_body = headline
    if not clean_body:
        raise EmptyBodyError("body is empty (nothing left after removing boilerplate)")
    explicit = valid_unicode((explicit_id or "").strip())
    # Ids stay those of the headline as given, so articles stored before the suffix was dropped keep theirs.
    article_id = explicit or (stable_id(url) if url else stable_id(source, clean_title))
    return Article(
        id=article_id,
        title=headline,
        body=clean_body,
        url=url,
        source=source,
        published_at=published_at,
        language=_language_or_none(language),
        fetched_at=prov.fetched_at,
    )
