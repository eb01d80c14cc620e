"""The quality bench's ranking metrics (gold articles among the retrieved ones) and its plain answer check."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from index.models import Passage

_QUOTES = "\"'“”‘’«»"
# An answer's text up to a run of markers ("... in 2024 [1]." or "... [1][2]"): what those sources are cited for.
_CITED_RUN = re.compile(r"([^\[\]]*?)((?:\s?\[\d+\])+)")


class ArticleRef(NamedTuple):
    """One retrieved article: its id and URL (both can identify a gold article)."""

    article_id: str
    url: str | None


def ranked_articles(passages: Sequence[Passage]) -> list[ArticleRef]:
    """Articles in the order of their best passage."""
    seen: dict[str, ArticleRef] = {}
    for p in sorted(passages, key=lambda p: p.rank):
        seen.setdefault(p.article_id, ArticleRef(p.article_id, p.url))
    return list(seen.values())


def gold_flags(
    ranking: Sequence[ArticleRef], gold_ids: frozenset[str], gold_urls: frozenset[str]
) -> list[bool]:
    """Whether each ranked article is a gold one (by id, or by URL when deduplication re-keyed it)."""
    return [r.article_id in gold_ids or (r.url is not None and r.url in gold_urls) for r in ranking]


def hit_at(flags: Sequence[bool], k: int) -> bool:
    """A gold article among the first k."""
    return any(flags[:k])


def reciprocal_rank(flags: Sequence[bool], k: int) -> float:
    """1/rank of the first gold article within the first k, else 0."""
    for rank, flag in enumerate(flags[:k], start=1):
        if flag:
            return 1.0 / rank
    return 0.0


def normalize_answer(text: str) -> str:
    """Lowercase with curly quotes made straight and surrounding quotes/punctuation dropped."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.strip(_QUOTES + " .,;:!?").split())


def answer_correct(answer_text: str, gold: str) -> bool:
    """The gold choice appears in the answer (case-insensitive)."""
    needle = normalize_answer(gold)
    return bool(needle) and needle in normalize_answer(answer_text)


def first_cited(answer_text: str) -> str:
    """What an answer says before its first marker: the sentence a reader reads first ("" when none is cited)."""
    m = _CITED_RUN.search(answer_text)
    return m.group(1).strip(" .!?…") if m else ""


def cited_text(answer_text: str) -> dict[int, list[str]]:
    """What an answer cites each source [n] for: the text before each of its markers, back to the one before."""
    said: dict[int, list[str]] = {}
    for m in _CITED_RUN.finditer(answer_text):
        for n in re.findall(r"\d+", m.group(2)):
            said.setdefault(int(n), []).append(m.group(1).strip(" .!?…"))
    return said
