"""Duplicate detection: canonical URLs, and near-duplicates (the same story republished with small edits).

Near-duplicates are word-shingle sets with Jaccard similarity >= threshold. Candidates are found exactly,
without comparing every pair, by prefix filtering: with all shingle hashes in one global order, two sets
with Jaccard >= t must share one of their first |S| - ceil(t*|S|) + 1 tokens. Those prefix tokens (and the
full shingle set, for the exact check) of every stored article live in the article store next to the articles,
kept in sync lazily on each call whoever wrote the articles.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

from corpus.models import Article
from corpus.repos import ArticleRepository

log = logging.getLogger(__name__)

SHINGLE_WORDS = 3
BODY_ONLY_WORDS = 50
TITLE_MIN_OVERLAP = 1 / 3
_WORD = re.compile(r"\w+")
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref",
        "ref_src", "ref_url", "referrer", "cmpid", "cmp", "ocid", "_ga", "_gl", "_hsenc", "_hsmi",
        "mkt_tok", "spm", "s_cid", "src", "share", "smid", "taid", "ito", "wt.mc_id", "icid", "ncid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_STOP_WORDS = frozenset(
    {
        "about", "above", "after", "again", "against", "also", "among", "another", "because", "been",
        "before", "being", "below", "between", "both", "could", "down", "during", "each", "from", "further",
        "have", "having", "here", "into", "just", "like", "more", "most", "much", "must", "only", "other",
        "over", "said", "same", "says", "should", "some", "such", "than", "that", "their", "them", "then",
        "there", "these", "they", "this", "those", "through", "under", "until", "very", "were", "what",
        "when", "where", "which", "while", "will", "with", "would", "your",
    }
)  # fmt: skip
Shingles = npt.NDArray[np.int64]

# Bumped whenever shingling changes, so that stored entries are rebuilt rather than compared wrongly.
_INDEX_VERSION = "2"
_INDEX_KEY = "near_dup_index"


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, fragment or default port, with lower-case scheme and host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    # Sorting makes ?a=1&b=2 and ?b=2&a=1 the same article.
    return urlunsplit((scheme, host, parts.path or "/", urlencode(sorted(query)), ""))


def _word_hash(word: str) -> int:
    """A stable 64-bit hash of a word whose lowest bit says whether it is a short or stop word."""
    digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
    return (digest & ~1) | (len(word) <= 3 or word in _STOP_WORDS)


def shingles(article: Article, word_hashes: dict[str, int] | None = None) -> Shingles:
    """Sorted unique 63-bit hashes (stable across processes) of the overlapping word n-grams of an article.

    Long bodies are compared without their title, since republished stories often get a re-worded
    headline; short ones keep it, as a short generic body alone says little about which story it is.
    Shingles made only of short or stop words ("one of the") get the top bit, so that they sort last and
    seldom fall into a prefix: they are in most articles and would make every article a candidate.
    """
    words = _WORD.findall(article.body.lower())
    if len(words) < BODY_ONLY_WORDS:
        words = _WORD.findall(article.title.lower()) + words
    if not words:
        return np.empty(0, dtype=np.int64)
    cache = {} if word_hashes is None else word_hashes
    for word in set(words).difference(cache):
        cache[word] = _word_hash(word)
    ids = np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))
    common = (ids & np.uint64(1)).astype(bool)
    if len(words) < SHINGLE_WORDS:
        ids = np.array([np.bitwise_xor.reduce(ids * _MIX[: len(ids)])], dtype=np.uint64)
        common = np.array([common.all()])
    else:
        n = len(words) - SHINGLE_WORDS + 1
        ids = sum((ids[i : i + n] * _MIX[i] for i in range(1, SHINGLE_WORDS)), ids[:n] * _MIX[0])
        common = np.logical_and.reduce([common[i : i + n] for i in range(SHINGLE_WORDS)])
    ids ^= ids >> np.uint64(31)
    ids = (ids >> np.uint64(2)) | (common.astype(np.uint64) << np.uint64(62))
    return np.unique(ids.astype(np.int64))


def prefix(tokens: Shingles, threshold: float) -> list[int]:
    """The smallest tokens that any set with Jaccard >= threshold must share at least one of."""
    n = len(tokens)
    keep = n - math.ceil(threshold * n - 1e-9) + 1
    return [int(t) for t in tokens[: max(1, min(n, keep))]]


def size_bounds(n: int, threshold: float) -> tuple[int, int]:
    """Sizes a set can have and still reach Jaccard >= threshold with a set of size n."""
    return math.floor(threshold * n - 1e-9), math.ceil(n / threshold + 1e-9)


def jaccard(a: Shingles, b: Shingles) -> float:
    """|a & b| / |a | b| of two sorted unique token arrays."""
    if not len(a) or not len(b):
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def _when(article: Article) -> datetime | None:
    value = article.published_at or article.fetched_at
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _newer(a: datetime | None, b: datetime | None) -> bool:
    """True when a is strictly after b; ties (and no date) keep what is already there."""
    return a is not None and (b is None or a > b)


@dataclass(frozen=True)
class _Version:
    """What the comparison needs of an article: id, date, URL and shingles."""

    id: str
    when: datetime | None
    url: str | None
    tokens: Shingles
    title_words: frozenset[str]
    source: str | None


def title_words(title: str) -> frozenset[str]:
    """The content words of a headline (no short or stop words)."""
    return frozenset(w for w in _WORD.findall(title.lower()) if len(w) > 3 and w not in _STOP_WORDS)


def same_headline_topic(a: frozenset[str], b: frozenset[str]) -> bool:
    """True when two headlines share enough content words (or one of them has none).

    Bodies alone are not enough: a failed extraction (a consent wall, a sign-up form) gives many different
    stories one identical body, and those must not collapse into one article. Re-worded headlines of one
    story keep most of their names and nouns ("UPDATE 2-Oil prices rise as OPEC cuts output").
    """
    if not a or not b:
        return True
    return len(a & b) >= TITLE_MIN_OVERLAP * len(a | b)


def _same_link_elsewhere(art: Article, old: _Version) -> bool:
    """True when a stored version has the article's own link but comes from another source."""
    if not art.url or not old.url or art.source == old.source:
        return False
    return canonical_url(art.url) == canonical_url(old.url)


def _sync_index(store: ArticleRepository, threshold: float) -> float:
    """Bring the stored shingles in line with the articles table, whoever wrote to it.

    Returns the threshold the stored prefixes were built for (never above the one asked for).
    """
    built = store.get_state(_INDEX_KEY)
    version, _, built_for = (built or "").partition(":")
    if version != _INDEX_VERSION or not built_for or float(built_for) > threshold:
        # Prefixes built for a higher threshold are too short to be exact at a lower one: rebuild.
        built_for = repr(threshold)
        store.near_dup_reset(_INDEX_KEY, f"{_INDEX_VERSION}:{built_for}")
    stale, missing = store.near_dup_changes()
    index_threshold = float(built_for)
    if stale or missing:
        words: dict[str, int] = {}
        entries = [
            (article_id, content, shingles(Article(id=article_id, title=title, body=body), words))
            for article_id, title, body, content in missing
        ]
        _write_index(store, stale, entries, index_threshold)
        log.debug("near-duplicate index: %d stale, %d added", len(stale), len(entries))
    return index_threshold


def _write_index(
    store: ArticleRepository, remove: Iterable[str], entries: Sequence[tuple[str, str, Shingles]], threshold: float
) -> None:
    """Replace the index entries of some articles: (id, content hash, shingles) each."""
    store.near_dup_write(
        list(remove),
        [(article_id, content, len(tokens), tokens.tobytes()) for article_id, content, tokens in entries],
        [(int(tok), article_id) for article_id, _, tokens in entries for tok in prefix(tokens, threshold)],
    )


def _stored_candidates(
    store: ArticleRepository,
    tokens: list[int],
    exclude: str,
    sizes: tuple[int, int],
    when: datetime | None,
    window: timedelta | None,
) -> list[_Version]:
    """Stored articles sharing a prefix token, of a compatible size, published within the window."""
    found: dict[str, _Version] = {}
    for start in range(0, len(tokens), 500):
        part = tokens[start : start + 500]
        bounds = (when - window, when + window) if when is not None and window is not None else None
        for row in store.near_dup_candidates(part, exclude, sizes, bounds):
            found[row.article_id] = _Version(
                row.article_id,
                row.at,
                row.url,
                np.frombuffer(row.shingles, dtype=np.int64),
                title_words(row.title),
                row.source,
            )
    return list(found.values())


def resolve_near_duplicates(
    articles: Sequence[Article], store: ArticleRepository, threshold: float, window_days: float | None = 3.0
) -> list[Article]:
    """Keep one version of each story: a newer near-duplicate takes the old one's id, an older one is dropped.

    Candidates are stored articles (published within window_days of the incoming one) and earlier incoming
    ones. An article whose id is already stored is an update of itself, unless that id now holds a newer
    republication under another URL, in which case the older version is dropped. A near-duplicate with the
    same link from another source is dropped too: one source never takes over another's article.
    """
    if not articles:
        return []
    index_threshold = _sync_index(store, threshold)
    window = timedelta(days=window_days) if window_days is not None else None
    stored = store.get_many(a.id for a in articles)
    out: dict[str, Article] = {}  # id -> the version that will be upserted under it
    versions: dict[str, _Version] = {}  # the same, as compared
    batch_index: dict[int, set[str]] = {}
    words: dict[str, int] = {}

    def keep(article_id: str, art: Article, tokens: Shingles, pre: Iterable[int]) -> None:
        out[article_id] = replace(art, id=article_id) if art.id != article_id else art
        versions[article_id] = _Version(
            article_id, _when(art), art.url, tokens, title_words(art.title), art.source
        )
        for tok in pre:
            batch_index.setdefault(tok, set()).add(article_id)

    for art in articles:
        tokens = shingles(art, words)
        pre = prefix(tokens, threshold) if len(tokens) else []
        current = out.get(art.id) or stored.get(art.id)
        if current is not None:
            moved = current.url and art.url and canonical_url(current.url) != canonical_url(art.url)
            if moved and not _newer(_when(art), _when(current)):
                log.debug("dropping %s: its id holds the newer version %s", art.url, current.url)
            else:
                keep(art.id, art, tokens, pre)
            continue
        if not len(tokens):
            keep(art.id, art, tokens, pre)
            continue
        lo, hi = size_bounds(len(tokens), threshold)
        when = _when(art)
        headline = title_words(art.title)
        candidates = {v.id: v for v in _stored_candidates(store, pre, art.id, (lo, hi), when, window)}
        # The version this batch is about to write wins over the stored one of the same id.
        candidates.update({i: versions[i] for tok in pre for i in batch_index.get(tok, ())})
        best: tuple[float, _Version] | None = None
        for cand in candidates.values():
            if window and when and cand.when and abs(cand.when - when) > window:
                continue
            if not lo <= len(cand.tokens) <= hi or not same_headline_topic(headline, cand.title_words):
                continue
            score = jaccard(tokens, cand.tokens)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, cand)
        if best is None:
            keep(art.id, art, tokens, pre)
            continue
        score, old = best
        if _same_link_elsewhere(art, old):
            # The same link listed by another source (an aggregator's copy): it never takes over the
            # article, or the two would overwrite each other at every poll.
            log.info(
                "near-duplicate (%.2f): %s from %s is already stored from %s",
                score,
                art.url,
                art.source,
                old.source,
            )
            continue
        if _newer(when, old.when):
            log.info("near-duplicate (%.2f): %s replaces %s", score, art.url or art.id, old.url or old.id)
            keep(old.id, art, tokens, pre)
        else:
            log.info("near-duplicate (%.2f): %s is older than %s, dropped", score, art.url or art.id, old.url)
    # Indexed now under the hash they will be stored with, so the next call need not shingle them again;
    # if they never get stored, the next call finds the hashes differ and repairs the entries.
    _write_index(store, [], [(a.id, a.hash, versions[a.id].tokens) for a in out.values()], index_threshold)
    return list(out.values())
