"""Handlers for questions and the informational commands: parse, call the core in a thread, format, reply."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from html import escape

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.context import NewsbotContext, NewsCore
from bot.delivery import retry_seconds
from bot.formatting import (
    answer_html,
    format_headlines,
    format_languages,
    format_sources,
    link,
    split_message,
)
from bot.i18n import N_
from bot.streaming import stream_answer
from corpus.errors import InputError
from index.models import Answer
from index.query import Query

log = logging.getLogger(__name__)

DEFAULT_LATEST = 5
MAX_LATEST = 20


BUSY = N_("Sorry, Telegram is limiting how fast I can reply right now. Please ask again in a minute.")


async def _send_within(
    context: NewsbotContext, message: Message, text: str, waited: float
) -> tuple[Message | None, float]:
    """Reply, waiting out 429s (RetryAfter) while the waits stay within telegram.reply_retry_seconds."""
    bc = context.bot_data.core
    budget = bc.settings.telegram.reply_retry_seconds
    while True:
        try:
            return await message.reply_text(text), waited
        except RetryAfter as exc:
            bc.metrics.flood_waits.inc()
            wait = retry_seconds(exc)
            if waited + wait > budget:
                return None, waited
            waited += wait
            await asyncio.sleep(wait)


async def reply_html(context: NewsbotContext, message: Message, html: str) -> Message | None:
    """Reply with Telegram HTML split below the message limit (previews stay off: application defaults).

    Every reply goes through here: a 429 is waited out and the part sent again, up to
    telegram.reply_retry_seconds of waiting per reply; past that the user is asked (one last attempt) to
    ask again. Returns the last message sent, or None when the reply could not go out.
    """
    waited, sent = 0.0, None
    for chunk in split_message(html):
        sent, waited = await _send_within(context, message, chunk, waited)
        if sent is None:
            log.warning("reply to chat %s given up after %.0f s of flood waits", message.chat_id, waited)
            try:
                await message.reply_text(context.bot_data.core.gettext(message.from_user)(BUSY))
            except RetryAfter:
                context.bot_data.core.metrics.flood_waits.inc()
                log.warning("could not even tell chat %s to ask again (flood limit)", message.chat_id)
            return None
    return sent


def command_argument(message: Message) -> str:
    """Everything after the command word, newlines included."""
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _ask(service: NewsCore, question: str, earlier: str | None) -> Answer:
    answer = service.ask(Query(question, context=earlier))
    service.record_question()
    return answer


async def answer_question(update: Update, context: NewsbotContext, question: str) -> None:
    """Check length and rate, show typing, ask the core (with the earlier topic for follow-ups), reply."""
    bc, message, chat = context.bot_data.core, update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    question = question.strip()
    limit = bc.settings.telegram.max_question_chars
    user = update.effective_user
    _ = bc.gettext(user)
    if not question:
        await reply_html(context, message, _("Ask me something about the news, e.g. <i>/ask What happened in Baku?</i>"))
        return
    if len(question) > limit:
        await reply_html(
            context,
            message,
            _("Sorry, that question is too long for me. Please keep it under {limit} characters.").format(
                limit=limit
            ),
        )
        return
    if user is not None and not bc.limiter.allow(user.id):
        await reply_html(
            context, message, _("You are asking faster than I can read. Please wait a minute and ask again.")
        )
        return
    await chat.send_action(ChatAction.TYPING)
    now = time.monotonic()
    earlier = bc.memory.context_for(chat.id, question, now)
    metrics = bc.metrics
    try:
        if bc.settings.answer.writer == "llm":
            # A model writes for seconds: the reply grows sentence by sentence (bot/streaming.py).
            answer = await stream_answer(
                message,
                bc.service,
                Query(question, context=earlier),
                lambda part: reply_html(context, message, part),
                _,
            )
        else:
            answer = await asyncio.to_thread(_ask, bc.service, question, earlier)
            if await reply_html(context, message, answer_html(answer, _)) is None:
                metrics.questions.labels("failed").inc()  # answered, but Telegram would not take it
                return
    except InputError as exc:
        metrics.questions.labels("failed").inc()
        reason = escape(str(exc), quote=False)
        await reply_html(context, message, _("Sorry, I can't answer that: {reason}").format(reason=reason))
        return
    except Exception:
        metrics.questions.labels("failed").inc()
        raise
    metrics.answer_seconds.observe(time.monotonic() - now)
    metrics.questions.labels("answered" if answer.answered else "not_covered").inc()
    bc.memory.remember(chat.id, question, earlier is not None, answer, now)


async def on_private_text(update: Update, context: NewsbotContext) -> None:
    """Any plain text in a private chat is a question."""
    if update.effective_message and update.effective_message.text:
        await answer_question(update, context, update.effective_message.text)


async def on_group_text(update: Update, context: NewsbotContext) -> None:
    """In groups, answer only when mentioned or replied to."""
    message = update.effective_message
    if message is None or not message.text:
        return
    mention = f"@{context.bot.username}"
    replied = (
        message.reply_to_message is not None
        and message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == context.bot.id
    )
    if mention.lower() not in message.text.lower() and not replied:
        return
    await answer_question(update, context, re.sub(re.escape(mention), " ", message.text, flags=re.IGNORECASE))


async def ask(update: Update, context: NewsbotContext) -> None:
    """/ask QUESTION, anywhere."""
    if update.effective_message:
        await answer_question(update, context, command_argument(update.effective_message))


async def start(update: Update, context: NewsbotContext) -> None:
    """/start and /help: what the bot knows, example questions, commands."""
    bc, message = context.bot_data.core, update.effective_message
    if message is None:
        return
    _ = bc.gettext(update.effective_user)
    stats = await asyncio.to_thread(bc.service.stats)
    latest = await asyncio.to_thread(bc.service.latest, 2)
    agencies = ", ".join(s or _("unknown agency") for s, *_x in stats.sources) or _("no agency yet")
    examples = "\n".join(_("• What is new about {title}?").format(title=link(a.title, None)) for a in latest)
    await reply_html(
        context,
        message,
        "\n\n".join(
            part
            for part in (
                _(
                    "Hi! I answer questions about the news I have read — {count} articles from "
                    "{agencies} — and every answer cites its sources."
                ).format(count=stats.articles, agencies=link(agencies, None)),
                _("Just send me a question, for example:\n{examples}").format(examples=examples)
                if examples
                else _("Just send me a question."),
                _(
                    "<b>Commands</b>\n/ask QUESTION — ask (in groups, or mention me)\n"
                    "/latest [N] — newest headlines\n"
                    "/sources — agencies and dates I know\n"
                    "/subscribe [HH:MM] [Area/City] [language] — a daily digest\n"
                    "/unsubscribe — stop the digest\n/digest — today's digest now\n"
                    "/language [en|tr|ar] — the language I write to you in"
                ),
            )
            if part
        ),
    )


async def latest(update: Update, context: NewsbotContext) -> None:
    """/latest [N]: the newest headlines with links."""
    bc, message = context.bot_data.core, update.effective_message
    if message is None:
        return
    _ = bc.gettext(update.effective_user)
    arg = command_argument(message)
    if arg and not arg.isdigit():
        await reply_html(context, message, _("Usage: /latest [N], e.g. /latest 5"))
        return
    n = min(max(int(arg) if arg else DEFAULT_LATEST, 1), MAX_LATEST)
    articles = await asyncio.to_thread(bc.service.latest, n)
    await reply_html(context, message, _("<b>Latest headlines</b>") + f"\n{format_headlines(articles, _)}")


async def sources(update: Update, context: NewsbotContext) -> None:
    """/sources: agencies, article counts and the date range of what is indexed."""
    bc, message = context.bot_data.core, update.effective_message
    if message is None:
        return
    _ = bc.gettext(update.effective_user)
    stats = await asyncio.to_thread(bc.service.stats)
    await reply_html(
        context,
        message,
        _("<b>What I have indexed</b> ({count} articles)").format(count=stats.articles)
        + f"\n{format_sources(stats.sources, _)}"
        + format_languages(stats.languages, _),
    )


async def on_error(update: object, context: NewsbotContext) -> None:
    """The one error handler: log what nothing else expected, and apologise to the user if there is one.

    Telegram out of reach (a failed poll, a reply that timed out) is one warning line, not a traceback:
    polling retries by itself, and there is nobody to apologise to over a dead connection.
    """
    error = context.error
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("Telegram Bot API unreachable: %s: %s", type(error).__name__, error)
        return
    if isinstance(error, RetryAfter):
        context.bot_data.core.metrics.flood_waits.inc()
        log.warning("Telegram flood limit: %s", error)
        return
    log.error("unhandled error while handling an update", exc_info=error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            _ = context.bot_data.core.gettext(update.effective_user)
            await update.effective_message.reply_text(_("Sorry, something went wrong on my side. Please try again."))
        except TelegramError:
            log.debug("could not apologise", exc_info=True)
