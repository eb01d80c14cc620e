"""Handlers for questions and the informational commands: parse, call the core in a thread, format, reply."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from html import escape

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.context import NewsbotContext, NewsCore
from bot.formatting import answer_html, format_headlines, format_sources, link, split_message
from bot.streaming import stream_answer
from corpus.errors import InputError
from index.models import Answer
from index.query import Query

log = logging.getLogger(__name__)

DEFAULT_LATEST = 5
MAX_LATEST = 20


async def reply_html(message: Message, html: str) -> None:
    """Reply with Telegram HTML, split below the message limit; previews stay off (application defaults)."""
    for chunk in split_message(html):
        await message.reply_text(chunk)


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
    if not question:
        await message.reply_text("Ask me something about the news, e.g. <i>/ask What happened in Baku?</i>")
        return
    if len(question) > limit:
        await message.reply_text(
            f"Sorry, that question is too long for me. Please keep it under {limit} characters."
        )
        return
    user = update.effective_user
    if user is not None and not bc.limiter.allow(user.id):
        await message.reply_text("You are asking faster than I can read. Please wait a minute and ask again.")
        return
    await chat.send_action(ChatAction.TYPING)
    now = time.monotonic()
    earlier = bc.memory.context_for(chat.id, question, now)
    try:
        if bc.settings.answer.writer == "llm":
            # A model writes for seconds: the reply grows sentence by sentence (bot/streaming.py).
            answer = await stream_answer(message, bc.service, Query(question, context=earlier))
        else:
            answer = await asyncio.to_thread(_ask, bc.service, question, earlier)
            await reply_html(message, answer_html(answer))
    except InputError as exc:
        await message.reply_text(f"Sorry, I can't answer that: {escape(str(exc), quote=False)}")
        return
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
    stats = await asyncio.to_thread(bc.service.stats)
    latest = await asyncio.to_thread(bc.service.latest, 2)
    agencies = ", ".join(s or "unknown agency" for s, *_ in stats.sources) or "no agency yet"
    examples = "\n".join(f"• What is new about {link(a.title, None)}?" for a in latest)
    await reply_html(
        message,
        "\n\n".join(
            part
            for part in (
                f"Hi! I answer questions about the news I have read — {stats.articles} articles from "
                f"{link(agencies, None)} — and every answer cites its sources.",
                "Just send me a question" + (f", for example:\n{examples}" if examples else "."),
                "<b>Commands</b>\n/ask QUESTION — ask (in groups, or mention me)\n"
                "/latest [N] — newest headlines\n"
                "/sources — agencies and dates I know\n/subscribe [HH:MM] [Area/City] — a daily digest\n"
                "/unsubscribe — stop the digest\n/digest — today's digest now",
            )
            if part
        ),
    )


async def latest(update: Update, context: NewsbotContext) -> None:
    """/latest [N]: the newest headlines with links."""
    bc, message = context.bot_data.core, update.effective_message
    if message is None:
        return
    arg = command_argument(message)
    if arg and not arg.isdigit():
        await message.reply_text("Usage: /latest [N], e.g. /latest 5")
        return
    n = min(max(int(arg) if arg else DEFAULT_LATEST, 1), MAX_LATEST)
    articles = await asyncio.to_thread(bc.service.latest, n)
    await reply_html(message, f"<b>Latest headlines</b>\n{format_headlines(articles)}")


async def sources(update: Update, context: NewsbotContext) -> None:
    """/sources: agencies, article counts and the date range of what is indexed."""
    bc, message = context.bot_data.core, update.effective_message
    if message is None:
        return
    stats = await asyncio.to_thread(bc.service.stats)
    await reply_html(
        message, f"<b>What I have indexed</b> ({stats.articles} articles)\n{format_sources(stats.sources)}"
    )


async def on_error(update: object, context: NewsbotContext) -> None:
    """The one error handler: log what nothing else expected, and apologise to the user if there is one."""
    log.error("unhandled error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "Sorry, something went wrong on my side. Please try again."
            )
        except TelegramError:
            log.debug("could not apologise", exc_info=True)
