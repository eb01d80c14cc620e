"""Inline mode: `@bot question` in any chat offers the cited answer, then the newest headlines.

Telegram sends an inline query per keystroke. The rule (README, "Inline mode"): a query of fewer than
`telegram.inline.min_words` words without a closing ?, . or ! gets the headlines only; a longer one that
does not look finished is answered only when no newer query of the same user arrived within
`debounce_seconds`; a finished one at once. Answers are kept per normalised question and language for
`cache_seconds`, so a query typed again (or by another user) costs no work and no rate-limit slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from html import unescape
from typing import TYPE_CHECKING

from telegram import (
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.formatting import answer_html, byline, link, safe_url, split_message
from bot.i18n import N_, Translate
from corpus.errors import InputError
from corpus.models import Article
from index.models import Answer
from index.query import Query

if TYPE_CHECKING:
    from bot.context import BotContext, NewsbotContext, NewsCore

log = logging.getLogger(__name__)

# ? . ! and the Arabic question mark end a query that looks finished.
_FINISHED = re.compile(r"[?.!\u061f]\s*$")
_TITLE_CHARS = 60
_DESCRIPTION_CHARS = 160
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Deep link of the "ask me in private" button above the results (1-64 of A-Z a-z 0-9 _ -).
START_PARAMETER = "inline"
TYPE_MORE = N_("Type a whole question, or tap to ask me in private")


def normalise(text: str) -> str:
    """The cache key of a question: case, spacing and the closing punctuation do not matter."""
    return " ".join(text.split()).casefold().rstrip("?.!\u061f ")


def looks_finished(text: str) -> bool:
    """Whether the user ended the question (?, ., ! or ؟): no need to wait for more keystrokes."""
    return bool(_FINISHED.search(text))


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _result_id(kind: str, key: str) -> str:
    """A stable result id (at most 64 bytes, as Telegram wants)."""
    return f"{kind}-{hashlib.sha1(key.encode()).hexdigest()[:24]}"


def _plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def answer_result(answer: Answer, question: str, _: Translate) -> InlineQueryResultArticle:
    """The cited answer as one result: the question as title, the answer's start below it."""
    html = answer_html(answer, _)
    parts = split_message(html)
    title = _("Answer: {question}") if answer.answered else _("Not covered: {question}")
    return InlineQueryResultArticle(
        id=_result_id("answer", normalise(question)),
        title=_short(title.format(question=question), _TITLE_CHARS),
        description=_short(_plain(parts[0]), _DESCRIPTION_CHARS),
        # One message: an extractive answer is a few sentences, far below the 4,096 limit.
        input_message_content=InputTextMessageContent(
            parts[0], parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        ),
    )


def headline_results(articles: Sequence[Article], _: Translate) -> list[InlineQueryResultArticle]:
    """The newest headlines, each sent as its linked title with agency and date."""
    results = []
    for art in articles:
        tail = byline(art.source, art.published_at or art.fetched_at, _)
        results.append(
            InlineQueryResultArticle(
                id=_result_id("headline", art.id),
                title=_short(art.title, _TITLE_CHARS * 2),
                description=_("Latest headline") + (f" · {unescape(tail)}" if tail else ""),
                url=safe_url(art.url),
                input_message_content=InputTextMessageContent(
                    link(art.title, art.url) + (f" — {tail}" if tail else ""),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                ),
            )
        )
    return results


def notice_result(text: str) -> InlineQueryResultArticle:
    """A result that only tells the user something (too long, too fast); sending it repeats the notice."""
    return InlineQueryResultArticle(
        id=_result_id("notice", text),
        title=_short(text, _TITLE_CHARS * 2),
        description=text,
        input_message_content=InputTextMessageContent(text, parse_mode=None),
    )


class InlineState:
    """Each user's newest inline query (for the debounce) and recent answers per question and language."""

    def __init__(self, max_entries: int = 2000) -> None:
        self._max = max_entries
        self._newest: OrderedDict[int, str] = OrderedDict()
        self._answers: OrderedDict[tuple[str, str], tuple[float, Answer]] = OrderedDict()

    def arrived(self, user_id: int, query_id: str) -> None:
        """A query of this user came in; it supersedes the ones before it."""
        self._newest[user_id] = query_id
        self._newest.move_to_end(user_id)
        if len(self._newest) > self._max:
            self._newest.popitem(last=False)

    def is_newest(self, user_id: int, query_id: str) -> bool:
        """Whether no later query of the user has arrived."""
        return self._newest.get(user_id) == query_id

    def answer(self, key: tuple[str, str], now: float, ttl: float) -> Answer | None:
        """A kept answer younger than ttl seconds."""
        found = self._answers.get(key)
        return found[1] if found is not None and now - found[0] < ttl else None

    def keep(self, key: tuple[str, str], answer: Answer, now: float) -> None:
        """Keep an answer; the oldest go first."""
        self._answers[key] = (now, answer)
        self._answers.move_to_end(key)
        if len(self._answers) > self._max:
            self._answers.popitem(last=False)


def _ask(service: NewsCore, question: str) -> Answer:
    answer = service.ask(Query(question))
    service.record_question()
    return answer


async def _reply(
    query: InlineQuery, results: Sequence[InlineQueryResultArticle], cache: int, _: Translate, hint: bool
) -> None:
    # is_personal: results carry the asker's language, and notices (rate limit) concern only them.
    button = InlineQueryResultsButton(text=_(TYPE_MORE), start_parameter=START_PARAMETER) if hint else None
    try:
        await query.answer(results, cache_time=cache, is_personal=True, button=button)
    except BadRequest as exc:
        # Telegram drops a query unanswered for about ten seconds ("query is too old"): the user moved on.
        log.warning("inline query %s not answered: %s", query.id, exc)


async def _headlines(bc: BotContext, _: Translate) -> list[InlineQueryResultArticle]:
    count = bc.settings.telegram.inline.headlines
    return headline_results(await asyncio.to_thread(bc.service.latest, count), _) if count else []


async def _answer_for(bc: BotContext, query: InlineQuery, question: str, _: Translate) -> Answer | str | None:
    """The answer (kept or fresh), a notice why there is none, or None when a newer query superseded this one."""
    config, user = bc.settings.telegram.inline, query.from_user
    limit = bc.settings.telegram.max_question_chars
    if len(question) > limit:
        return _("Sorry, that question is too long for me. Please keep it under {limit} characters.").format(
            limit=limit
        )
    key, now = (normalise(question), bc.language_of(user)), time.monotonic()
    kept = bc.inline.answer(key, now, config.cache_seconds)
    if kept is not None:
        return kept
    if not looks_finished(question):
        await asyncio.sleep(config.debounce_seconds)
        if not bc.inline.is_newest(user.id, query.id):
            return None
    if not bc.limiter.allow(user.id):
        return _("You are asking faster than I can read. Please wait a minute and ask again.")
    try:
        answer = await asyncio.to_thread(_ask, bc.service, question)
    except InputError as exc:
        return _("Sorry, I can't answer that: {reason}").format(reason=str(exc))
    bc.metrics.questions.labels("answered" if answer.answered else "not_covered").inc()
    bc.inline.keep(key, answer, now)
    return answer


async def on_inline_query(update: Update, context: NewsbotContext) -> None:
    """Answer `@bot question`: headlines for short queries, else the cited answer and the headlines."""
    query, bc = update.inline_query, context.bot_data.core
    if query is None:
        return
    cache = bc.settings.telegram.inline.cache_seconds
    _ = bc.gettext(query.from_user)
    question = " ".join(query.query.split())
    bc.inline.arrived(query.from_user.id, query.id)
    if len(question.split()) < bc.settings.telegram.inline.min_words and not looks_finished(question):
        await _reply(query, await _headlines(bc, _), cache, _, hint=True)
        return
    found = await _answer_for(bc, query, question, _)
    if isinstance(found, str):  # a notice for this user alone, never cached
        await _reply(query, [notice_result(found)], 0, _, hint=False)
    elif found is not None:
        await _reply(query, [answer_result(found, question, _), *await _headlines(bc, _)], cache, _, hint=False)
