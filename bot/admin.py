"""Admin commands: /reindex in the background with throttled progress, and /stats."""

from __future__ import annotations

import asyncio
import logging
import time
from html import escape

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError

from bot.context import BotContext, NewsbotContext
from bot.handlers import reply_html
from corpus.errors import IndexBusyError, NewsbotError
from corpus.ingest import IngestReport

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0
REFUSAL = "Sorry, {command} is only for the bot's administrators."


class ProgressMessage:
    """Edits one status message from the reindex thread, at most every few seconds, never after the end."""

    def __init__(
        self, message: Message, loop: asyncio.AbstractEventLoop, every: float = PROGRESS_EVERY_SECONDS
    ) -> None:
        self.message = message
        self.loop = loop
        self.every = every
        self._last = 0.0
        self._done = False
        self._lock = asyncio.Lock()

    def __call__(self, stage: str, done: int, total: int) -> None:
        """The core's progress callback; runs in the worker thread."""
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        text = f"Reindexing… {escape(stage, quote=False)}: {done}/{total}"
        asyncio.run_coroutine_threadsafe(self._edit(text, final=False), self.loop)

    async def finish(self, text: str) -> None:
        """The final report; later progress edits are dropped."""
        self._done = True
        await self._edit(text, final=True)

    async def _edit(self, text: str, final: bool) -> None:
        async with self._lock:
            if self._done and not final:
                return
            try:
                await self.message.edit_text(text)
            except BadRequest as exc:  # "message is not modified" and friends are harmless
                log.debug("progress edit refused: %s", exc)
            except TelegramError as exc:
                log.warning("could not edit reindex progress: %s", exc)


def format_report(report: IngestReport) -> str:
    """The final reindex report for the admin."""
    problems = "".join(f"\n• {escape(p, quote=False)}" for p in report.problems[:5])
    return (
        f"<b>Reindex finished</b> in {report.seconds:.1f} s: {report.articles_seen} articles, "
        f"{report.passages_indexed} passages, {len(report.problems)} errors.{problems}"
    )


async def _run_reindex(bc: BotContext, progress: ProgressMessage) -> None:
    """Rebuild in a worker thread; the old index keeps answering until the new one is swapped in."""
    try:
        report = await asyncio.to_thread(bc.service.reindex, progress)
    except IndexBusyError:
        await progress.finish("A reindex is already running elsewhere; the current index keeps serving.")
    except NewsbotError as exc:
        reason = escape(str(exc), quote=False)
        await progress.finish(f"<b>Reindex failed</b>; the previous index keeps serving.\n{reason}")
    except Exception:
        # Not expected, so the error handler logs it; the admin still learns the rebuild failed.
        await progress.finish(
            "<b>Reindex failed</b> unexpectedly; the previous index keeps serving (see logs)."
        )
        raise
    else:
        await progress.finish(format_report(report))
    finally:
        bc.reindex.lock.release()


async def _admin_only(
    update: Update, context: NewsbotContext, command: str
) -> tuple[BotContext, Message] | None:
    """The bot context and message when an admin sent the command; a polite refusal to anyone else."""
    bc, message, user = context.bot_data.core, update.effective_message, update.effective_user
    if message is None:
        return None
    if not bc.is_admin(user.id if user else None):
        await reply_html(context, message, REFUSAL.format(command=command))
        return None
    return bc, message


async def reindex(update: Update, context: NewsbotContext) -> None:
    """/reindex (admins): start a background rebuild unless one runs."""
    gate = await _admin_only(update, context, "/reindex")
    if gate is None:
        return
    bc, message = gate
    if not bc.reindex.lock.acquire(blocking=False):
        await reply_html(
            context, message, "A reindex is already running; I will post its report when it is done."
        )
        return
    try:
        status = await reply_html(
            context, message, "Reindex started… questions are answered from the current index."
        )
    except BaseException:
        bc.reindex.lock.release()
        raise
    if status is None:  # Telegram kept refusing; the admin was asked to try again
        bc.reindex.lock.release()
        return
    progress = ProgressMessage(status, asyncio.get_running_loop())
    context.application.create_task(_run_reindex(bc, progress), update=update, name="reindex")


async def stats(update: Update, context: NewsbotContext) -> None:
    """/stats (admins): articles, passages, subscribers, questions answered, last reindex."""
    gate = await _admin_only(update, context, "/stats")
    if gate is None:
        return
    bc, message = gate
    s = await asyncio.to_thread(bc.service.stats)
    active, total = await asyncio.to_thread(bc.subscriptions.counts)
    busy = " (one is running now)" if bc.reindex.lock.locked() else ""
    await reply_html(
        context,
        message,
        f"<b>Stats</b>\nArticles: {s.articles}\nPassages: {s.passages}\n"
        f"Subscribers: {active} active of {total}\nQuestions answered: {s.questions_answered}\n"
        f"Last reindex: {escape(s.last_reindex or 'never', quote=False)}{busy}",
    )
