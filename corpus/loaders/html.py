"""HTML pages: main text and metadata extracted offline with trafilatura, then cleaned."""

from __future__ import annotations

import html as html_lib
import logging
import re
from datetime import datetime

import trafilatura

from corpus.cleaning import headline_from_sentence, normalize_text, split_sentences
from corpus.loaders.common import Provenance, RecordError, build_article, parse_datetime
from corpus.models import Article
from corpus.settings import CorpusSettings

log = logging.getLogger(__name__)

_TITLE_TAG_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SITE_SUFFIX_RE = re.compile(r"\s+[|–—-]\s+([^|–—]{1,40})$")


def _title_tag(html: str) -> str | None:
    """The page's <title>, unescaped, when trafilatura found no title."""
    match = _TITLE_TAG_RE.search(html)
    return html_lib.unescape(match.group(1)).strip() or None if match else None


def _strip_site_name(title: str, site: str | None) -> str:
    """Drop a trailing " | Site Name" that pages append to their <title>."""
    match = _SITE_SUFFIX_RE.search(title)
    if not match:
        return title
    suffix = match.group(1).strip().casefold()
    site_words = (site or "").casefold().replace("www.", "")
    if (site_words and (suffix in site_words or site_words in suffix)) or (
        "|" in match.group(0) and len(suffix.split()) <= 4
    ):
        return title[: match.start()].strip()
    return title


def load_html(
    html: str,
    url: str | None,
    source: str | None,
    settings: CorpusSettings,
    published_at: datetime | None = None,
    *,
    fetched_at: datetime | None = None,
) -> Article | None:
    """Extract an article's main text from HTML (no network); None when the page has no usable text."""
    if not html.strip():
        return None
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, include_comments=False, favor_precision=True, with_metadata=True
        )
    except Exception as exc:  # the parser must never crash ingestion, whatever the markup
        log.debug("trafilatura failed on %s: %s", url or "<html>", exc)
        return None
    if doc is None or isinstance(doc, dict):
        return None
    text = doc.text or ""
    site = doc.sitename or doc.hostname
    title = doc.title or _title_tag(html) or ""
    title = _strip_site_name(title, site)
    if not title.strip():
        sentences = split_sentences(normalize_text(text))
        title = headline_from_sentence(sentences[0]) if sentences else ""
    if published_at is None and doc.date:
        try:
            published_at = parse_datetime(doc.date)
        except RecordError:
            published_at = None  # a page's guessed date is optional metadata
    try:
        return build_article(
            Provenance(settings, fetched_at),
            title=title,
            body=text,
            url=url or doc.url,
            source=source or doc.sitename,
            published_at=published_at,
            language=doc.language,
        )
    except RecordError:
        return None
