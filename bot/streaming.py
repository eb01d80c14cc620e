"""A streamed answer in one Telegram message: each checked sentence shows as it arrives, edits throttled.

Used when `[answer] writer = "llm"`: a model on a CPU writes for seconds, and the user sees the answer
grow instead of a typing indicator. Only sentences that passed the writer's check are ever shown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import Message
from telegram.error import TelegramError

from bot.context import NewsCore
from bot.formatting import answer_html, split_message
from bot.i18n import Translate
from index.models import Answer
from index.query import Query

log = logging.getLogger(__name__)

# Sends one final part: bot.handlers.reply_html, which waits out 429s; None when it gave up.
SendFn = Callable[[str], Awaitable[Message | None]]

# Telegram allows about one message a second per chat; an edit every 1.5 s stays well clear of 429s.
EDIT_INTERVAL = 1.5
# Marks an answer that is still being written.
GROWING = " …"


class StreamedReply:
    """One reply message showing the latest checked answer, sent or edited at most once per interval."""

    def __init__(self, message: Message, send: SendFn | None = None, interval: float = EDIT_INTERVAL) -> None:
        self._reply_to = message
        self._send: SendFn = send or message.reply_text
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._sent: Message | None = None
        self._shown = ""
        self._pending = ""
        self._wake = asyncio.Event()
        self._closed = False
        self._last = -float("inf")

    def offer(self, answer: Answer) -> None:
        """The checked answer so far; called from the thread the core writes in."""
        html = split_message(answer_html(replace(answer, text=answer.text + GROWING)))[0]
        try:
            self._loop.call_soon_threadsafe(self._offer, html)
        except RuntimeError:
            log.debug("the event loop closed while an answer was streaming")

    def _offer(self, html: str) -> None:
        self._pending = html
        self._wake.set()

    async def pump(self) -> None:
        """Show what was offered last, throttled, until close()."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            await self._pause()
            if self._closed:
                return  # the final answer replaces it anyway
            await self._show(self._pending)

    async def close(self, pump: asyncio.Task[None]) -> None:
        """Stop showing partial answers; waits for an edit under way."""
        self._closed = True
        self._wake.set()
        await pump

    async def finish(self, html: str) -> None:
        """Turn the streamed message into the final answer (or reply with it when nothing was streamed)."""
        first, *rest = split_message(html) or [html]
        if self._sent is None:
            if await self._send(first) is None:
                return
        elif first != self._shown:
            await self._pause()
            try:
                await self._sent.edit_text(first)
            except TelegramError as exc:
                log.warning("could not edit the streamed answer (%s); sending it anew", exc)
                if await self._send(first) is None:
                    return
        for chunk in rest:
            if await self._send(chunk) is None:
                return

    async def _pause(self) -> None:
        wait = self._last + self._interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _show(self, html: str) -> None:
        if not html or html == self._shown:
            return
        self._last = time.monotonic()
        try:
            if self._sent is None:
                self._sent = await self._reply_to.reply_text(html)
            else:
                await self._sent.edit_text(html)
            self._shown = html
        except TelegramError:
            # A partial answer that could not be shown is no loss: the final one follows.
            log.debug("could not show a partial answer", exc_info=True)


async def stream_answer(
    message: Message,
    service: NewsCore,
    query: Query,
    send: SendFn | None = None,
    translate: Translate | None = None,
) -> Answer:
    """Ask the core with streaming, show the answer as it grows, and finish with the final one (via send).

    `translate` puts the final answer's headings and "not covered" in the reader's language.
    """
    reply = StreamedReply(message, send)
    pump = asyncio.create_task(reply.pump())
    try:
        answer = await asyncio.to_thread(_ask, service, query, reply)
    finally:
        await reply.close(pump)
    await reply.finish(answer_html(answer, translate) if translate is not None else answer_html(answer))
    return answer


def _ask(service: NewsCore, query: Query, reply: StreamedReply) -> Answer:
    answer = service.ask(query, on_progress=reply.offer)
    service.record_question()
    return answer
