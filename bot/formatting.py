"""Telegram HTML for answers, sources, headlines and digests, and splitting below the message limit."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from html import escape
from typing import Protocol

from bot.i18n import N_, Translate
from corpus.models import Article
from index.models import Answer, Citation

MESSAGE_LIMIT = 4096
EMPTY_DIGEST = N_("No news today — nothing new was published since the last digest.")


def _same(text: str) -> str:
    """English, the source language of every message: nothing to translate."""
    return text


_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|\s+|[^<&\s]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z]+)")


class StoryLike(Protocol):
    """What a digest story offers (index.digest.Story)."""

    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def language(self) -> str | None: ...


class DigestLike(Protocol):
    """What a digest offers (index.digest.Digest)."""

    @property
    def date(self) -> date: ...
    @property
    def stories(self) -> Sequence[StoryLike]: ...


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become href attributes; anything else is dropped."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


def link(text: str, url: str | None) -> str:
    """An escaped <a> link, or just the escaped text when there is no usable URL."""
    href = safe_url(url)
    label = escape(text, quote=False)
    return f'<a href="{escape(href, quote=True)}">{label}</a>' if href else label


def byline(source: str | None, when: datetime | None, _: Translate = _same) -> str:
    """'Agency, 12 Dec 2025' with whatever parts are known, escaped; the date as the reader writes it."""
    parts = [escape(source, quote=False)] if source else []
    if when is not None:
        # strftime's month names are English: the catalogs give each language a format of numbers.
        parts.append(when.strftime(_("{day} %b %Y").replace("{day}", str(when.day))))
    return ", ".join(parts)


def _source_line(c: Citation, _: Translate) -> str:
    tail = byline(c.source, c.published_at, _)
    return f"[{c.n}] {link(c.title, c.url)}" + (f" — {tail}" if tail else "")


def source_language_note(answer: Answer, _: Translate = _same) -> str:
    """One line telling the reader the cited sources are in another language than the question, else ''."""
    foreign = answer.foreign_sources
    if not foreign:
        return ""
    # One literal message per language, so that every catalog translates the language's name in place.
    if foreign == ("en",):
        return _("The sources are in English.")
    if foreign == ("tr",):
        return _("The sources are in Turkish.")
    if foreign == ("ar",):
        return _("The sources are in Arabic.")
    return _("The sources are in other languages ({languages}).").format(languages=", ".join(foreign))


def answer_html(answer: Answer, _: Translate = _same) -> str:
    """The cited answer, then its numbered clickable sources; 'not covered' alone, in the reader's language.

    The core says "not covered" in English (index.writers.NOT_COVERED); it is recognised by
    `answered` being False and said in the reader's language instead (the catalogs translate NOT_COVERED).
    """
    if not answer.answered:
        return escape(_(answer.text.strip()), quote=False)
    body = escape(answer.text.strip(), quote=False)
    note = source_language_note(answer, _)
    if note:
        body = f"<i>{escape(note, quote=False)}</i>\n{body}"
    if not answer.citations:
        return body
    sources = "\n".join(_source_line(c, _) for c in answer.citations)
    return f"{body}\n\n<b>{_('Sources')}</b>\n{sources}"


def format_headlines(articles: Iterable[Article], _: Translate = _same) -> str:
    """One line per article: linked headline, agency and date."""
    lines = []
    for art in articles:
        tail = byline(art.source, art.published_at or art.fetched_at, _)
        lines.append(f"• {link(art.title, art.url)}" + (f" — {tail}" if tail else ""))
    return "\n".join(lines) if lines else _("Nothing is indexed yet.")


def format_sources(
    rows: Iterable[tuple[str | None, int, datetime | None, datetime | None]], _: Translate = _same
) -> str:
    """Agencies with article counts and the date range they cover."""
    lines = []
    for source, count, first, last in rows:
        name = escape(source or _("Unknown agency"), quote=False)
        span = f", {first:%Y-%m-%d} – {last:%Y-%m-%d}" if first and last else ""
        articles = _("1 article") if count == 1 else _("{count} articles").format(count=count)
        lines.append(f"• <b>{name}</b>: {articles}{span}")
    return "\n".join(lines) if lines else _("Nothing is indexed yet.")


def format_languages(rows: Iterable[tuple[str, int]], _: Translate = _same) -> str:
    """One line of article counts per language ("Languages: en 120, tr 98"), empty when none."""
    parts = [f"{escape(code, quote=False)} {count}" for code, count in rows]
    return "\n" + _("Languages: {counts}").format(counts=", ".join(parts)) if parts else ""


def format_digest(digest: DigestLike, _: Translate = _same, language: str | None = None) -> str:
    """Headline, one summary sentence and a link per story; the empty note when there is none.

    With the reader's `language`, stories in another language (after theirs, index.digest.for_reader)
    come under a heading of their own.
    """
    if not digest.stories:
        return escape(_(EMPTY_DIGEST), quote=False)
    # The date's format is translated too: month and day names are English in strftime.
    day = f"{digest.date:{_('%A, %d %B %Y')}}"
    parts = ["<b>" + _("Your news digest for {date}").format(date=day) + "</b>"]
    mine = language is not None and any(s.language == language for s in digest.stories)
    for story in digest.stories:
        if mine and story.language != language:
            parts.append("<b>" + _("In other languages") + "</b>")
            mine = False
        tail = byline(story.source, story.published_at, _)
        head = f"<b>{escape(story.title, quote=False)}</b>" + (f" — {tail}" if tail else "")
        href = safe_url(story.url)
        more = f'\n<a href="{escape(href, quote=True)}">{_("Read more")}</a>' if href else ""
        parts.append(f"{head}\n{escape(story.summary.strip(), quote=False)}{more}")
    return "\n\n".join(parts)


def answer_plain(answer: Answer) -> str:
    """The answer and its numbered sources as plain text for the terminal."""
    note = source_language_note(answer)
    lines = [f"({note})", answer.text] if note else [answer.text]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            meta = ", ".join(
                x for x in (c.source, c.published_at.date().isoformat() if c.published_at else None) if x
            )
            lines.append(
                f"[{c.n}] {c.title}" + (f" ({meta})" if meta else "") + (f" {c.url}" if c.url else "")
            )
    return "\n".join(lines)


def digest_plain(digest: DigestLike) -> str:
    """The digest as plain text for the terminal."""
    if not digest.stories:
        return EMPTY_DIGEST
    parts = [f"News digest for {digest.date:%A, %d %B %Y}"]
    for story in digest.stories:
        day = f"{story.published_at:%Y-%m-%d}" if story.published_at else None
        tail = ", ".join(p for p in (story.source, day) if p)
        lines = [f"* {story.title}" + (f" ({tail})" if tail else ""), f"  {story.summary.strip()}"]
        if story.url:
            lines.append(f"  {story.url}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML below `limit` at paragraphs, then lines, then words; tags always stay balanced."""
    return [c for c in _pack(html, limit, ("\n\n", "\n")) if c.strip()]


def _pack(text: str, limit: int, seps: tuple[str, ...]) -> list[str]:
    """Greedily join pieces split at the first separator; pieces still too long are split finer."""
    if tg_len(text) <= limit:
        return [text]
    if not seps:
        return _split_tokens(text, limit)
    sep, finer = seps[0], seps[1:]
    chunks: list[str] = []
    current = ""
    for piece in text.split(sep):
        for part in _pack(piece, limit, finer) if tg_len(piece) > limit else [piece]:
            candidate = f"{current}{sep}{part}" if current else part
            if tg_len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = part
    if current:
        chunks.append(current)
    return chunks


def _split_tokens(text: str, limit: int) -> list[str]:
    """Split between words, tags and entities; open tags are closed and reopened in the next part."""
    chunks: list[str] = []
    current = ""
    stack: list[tuple[str, str]] = []  # (name, opening tag) of tags open at this point
    for token in _TOKEN.findall(text):
        openers = "".join(opening for _, opening in stack)
        closers = "".join(f"</{name}>" for name, _ in reversed(stack))
        tag = _TAG.match(token)
        # An opening tag also needs room for its own closer should the message end right after it.
        own = f"</{tag.group(2)}>" if tag and not tag.group(1) else ""
        for piece in _hard_pieces(token, limit - tg_len(openers + closers)):
            if current != openers and tg_len(current + piece + own + closers) > limit:
                chunks.append(current.rstrip() + closers)
                current = openers
            current += piece.lstrip() if current == openers else piece
        if tag:
            if tag.group(1):
                if stack and stack[-1][0] == tag.group(2).lower():
                    stack.pop()
            elif not token.endswith("/>"):
                stack.append((tag.group(2).lower(), token))
    if current.strip():
        chunks.append(current)
    return chunks


def _hard_pieces(token: str, room: int) -> list[str]:
    """A word longer than a whole message is cut into slices; tags and entities never are."""
    room = max(room, 1)
    if token.startswith(("<", "&")) or tg_len(token) <= room:
        return [token]
    step = room if tg_len(token) == len(token) else max(room // 2, 1)  # astral characters count twice
    return [token[i : i + step] for i in range(0, len(token), step)]
