"""RSS 0.9x/1.0/2.0 and Atom documents parsed with feedparser into Articles; article pages into full text."""

from __future__ import annotations

import html
import io
import logging
import re
import time
import xml.sax
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from corpus.cleaning import clean_article_text
from corpus.dedup import canonical_url
from corpus.errors import FetchError
from corpus.fetch import FetchResult, looks_binary
from corpus.loaders import load_html
from corpus.models import Article, stable_id
from corpus.pagetext import fallback_text
from corpus.settings import FeedSettings, Settings

log = logging.getLogger(__name__)

_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|p|/div|div|/li|li|/h[1-6]|h[1-6]|/blockquote|tr|td|th)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SKIP_BLOCK = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
# A feed "content" counts as full text only when it is clearly longer than the summary.
FULL_TEXT_MIN_WORDS = 120
# A page's text is the article when it has this many words and is longer than the feed's summary, or else
# when it has this share of the summary's words (a brief whose feed carries it whole).
MIN_PAGE_WORDS = 20
SUMMARY_COVERED = 0.75
_WORDS = re.compile(r"\w+")
# Dates outside these bounds are placeholders or typos ("31 Dec 9999") that would sort first or last forever.
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class FeedItem:
    """One feed entry as an Article, and whether the feed carried only a summary of it."""

    article: Article
    summary_only: bool
    updated_at: datetime | None = None


@dataclass(frozen=True)
class EntryProblem:
    """A feed entry that was skipped (skipped=True) or stored with something left out, and why."""

    link: str | None
    title: str
    reason: str
    skipped: bool = False


@dataclass(frozen=True)
class ParsedFeed:
    """The entries of one fetched feed, plus the feed's own title, any parser warning and entry problems."""

    title: str
    items: tuple[FeedItem, ...]
    warning: str | None = None
    problems: tuple[EntryProblem, ...] = ()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one paragraph per line."""
    text = _SKIP_BLOCK.sub(" ", fragment)
    text = _BLOCK_TAG.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _language(code: str | None) -> str | None:
    """'en-US' -> 'en'."""
    if not code:
        return None
    return code.strip().lower().replace("_", "-").split("-")[0] or None


def _datetime(parsed: Any) -> datetime | None:
    """feedparser's UTC struct_time to an aware datetime."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry_date(entry: Any, key: str, fetched_at: datetime) -> tuple[datetime | None, str | None]:
    """An entry's date (key 'published' or 'updated'), or None and why when it cannot be a real one."""
    value = _datetime(entry.get(f"{key}_parsed"))
    if value is None or EARLIEST_DATE <= value <= fetched_at + FUTURE_SLACK:
        return value, None
    return None, f"implausible {key} date {entry.get(key)!r}"


def _entry_text(entry: Any) -> tuple[str, str]:
    """(best text, summary text) of an entry: <content> or content:encoded when present, else the summary."""
    summary = html_to_text(entry.get("summary", "") or "")
    contents = [c.get("value", "") for c in entry.get("content", []) or [] if c.get("value")]
    content = max((html_to_text(c) for c in contents), key=len, default="")
    return (content if len(content) > len(summary) else summary), summary


def parse_feed(
    content: bytes,
    feed: FeedSettings,
    *,
    url: str | None = None,
    content_type: str = "",
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse feed bytes into FeedItems; FetchError when the bytes are not a feed at all."""
    if not content.strip():
        raise FetchError("empty response instead of a feed")
    if looks_binary(content) and not content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FetchError(f"binary content ({content_type or 'unknown type'}) instead of a feed")
    headers = {"content-location": url or feed.url}
    if content_type:
        headers["content-type"] = content_type
    # A BytesIO, never bytes: feedparser would try to open bytes as a local file name.
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    version = parsed.get("version", "")
    problem = parsed.get("bozo_exception")
    if not version and not parsed.entries:
        if _HTML_START.match(content[:2048]) or content_type in ("text/html", "application/xhtml+xml"):
            raise FetchError("got an HTML page instead of an RSS/Atom feed")
        raise FetchError(f"not a valid RSS/Atom feed: {problem or 'no feed element found'}")
    warning = f"feed is malformed, recovered what could be read: {problem}" if parsed.get("bozo") else None
    # Declared by the settings or by the feed, else None: detected from each entry's text at ingest.
    language = feed.language or _language(parsed.feed.get("language"))
    fetched_at = now or datetime.now(UTC)
    # Broken XML (a truncated download, a stray "&"): its last entries may be cut off mid-way.
    broken = isinstance(problem, xml.sax.SAXException)
    linked = any(e.get("link") for e in parsed.entries)
    items, problems = [], []
    for entry in parsed.entries:
        item, trouble = _entry_item(entry, feed, language, fetched_at, broken=broken, linked=linked)
        if item is not None:
            items.append(item)
        if trouble is not None:
            problems.append(trouble)
    return ParsedFeed(
        title=html_to_text(parsed.feed.get("title", "") or ""),
        items=tuple(items),
        warning=warning,
        problems=tuple(problems),
    )


def entry_id(source: str, url: str) -> str:
    """The id of a feed entry's article: its link as published by its source."""
    # Two sources listing one link keep an article each: neither rewrites the other's title, text and
    # attribution (with the link alone as the id they overwrote each other on every poll).
    return stable_id(source, url)


def _entry_item(
    entry: Any, feed: FeedSettings, language: str | None, fetched_at: datetime, *, broken: bool, linked: bool
) -> tuple[FeedItem | None, EntryProblem | None]:
    """The entry as a FeedItem, or None for an empty or cut-off one; and a problem worth reporting."""
    title = html_to_text(entry.get("title", "") or "").replace("\n", " ")
    body, summary = _entry_text(entry)
    body = clean_article_text(body)
    if not title and not body:
        return None, None
    link = entry.get("link") or ""
    if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
        link = entry["id"]
    url = canonical_url(link) if link else None
    if broken and (not body or (linked and not url)):
        # A headline alone (or an entry without the link the others have) is where a broken feed was cut.
        reason = "entry cut off in a malformed feed; it is read again from a complete copy"
        return None, EntryProblem(url, title or body[:80], reason, skipped=True)
    published, bad_published = _entry_date(entry, "published", fetched_at)
    updated, bad_updated = _entry_date(entry, "updated", fetched_at)
    published = published or updated
    bad_date = bad_published or bad_updated
    article = Article(
        id=entry_id(feed.source, url)
        if url
        else stable_id(feed.source, title, published.isoformat() if published else ""),
        title=title or body.split("\n")[0][:120],
        body=body or title,
        url=url,
        source=feed.source,
        published_at=published,
        language=language,
        fetched_at=fetched_at,
    )
    summary_only = (
        len(body.split()) < FULL_TEXT_MIN_WORDS and len(body) <= len(clean_article_text(summary)) + 1
    )
    # A bad date costs the entry its date, never the entry (nor the feed) itself.
    undated = "; stored without a date" if published is None else ""
    trouble = EntryProblem(url, article.title, f"{bad_date} ignored{undated}") if bad_date else None
    return FeedItem(article, summary_only, updated or published), trouble


def full_text_article(page: FetchResult, item: FeedItem, settings: Settings) -> Article:
    """The feed item with its body replaced by the main text of its fetched article page."""
    if page.content_type not in _PAGE_TYPES or looks_binary(page.content):
        raise FetchError(f"article page is not HTML ({page.content_type or 'binary'}): {page.final_url}")
    art = item.article
    started = time.monotonic()
    page_html = page.text()
    body = _page_body(page_html, art, settings)
    if not is_article_text(body, art.body, art.title):
        # The main extractor found nothing or too little (short briefs): read the page plainly instead.
        body = fallback_text(page_html, art.title)
    log.debug("extracted %d chars from %s in %.2fs", len(body), page.final_url, time.monotonic() - started)
    if not is_article_text(body, art.body, art.title):
        raise FetchError(f"no article text found on the page: {page.final_url}")
    return replace(art, body=body, hash="")


def is_article_text(body: str, summary: str, title: str = "") -> bool:
    """True when a page's text is the article: longer than the feed's summary, or saying what it says."""
    text = " ".join(body.split()).casefold()
    if not text or text == " ".join(title.split()).casefold():
        return False  # a page whose only text is its headline (a photo page) has no article text
    if len(body.split()) >= MIN_PAGE_WORDS and len(body) > len(summary):
        return True
    # A shorter text must carry the summary's words, so that a cookie wall or a caption is never a brief.
    wanted = set(_WORDS.findall(summary.casefold()))
    found = wanted & set(_WORDS.findall(body.casefold()))
    return bool(wanted) and len(found) >= SUMMARY_COVERED * len(wanted)


def _page_body(page_html: str, art: Article, settings: Settings) -> str:
    """The page's main text, extracted and cleaned by the shared HTML loader."""
    loaded = load_html(page_html, art.url, art.source, settings.corpus, published_at=art.published_at)
    return loaded.body if loaded is not None else ""
