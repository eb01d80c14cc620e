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
from bot.i18n import N_, Translate
from corpus.errors import IndexBusyError, NewsbotError
from corpus.ingest import IngestReport

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0
REFUSAL = N_("Sorry, {command} is only for the bot's administrators.")


class ProgressMessage:
    """Edits one status message from the reindex thread, at most every few seconds, never after the end."""

    def __init__(
        self,
        message: Message,
        loop: asyncio.AbstractEventLoop,
        translate: Translate,
        every: float = PROGRESS_EVERY_SECONDS,
    ) -> None:
        self.message = message
        self.loop = loop
        self.translate = translate
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
        _ = self.translate
        text = _("Reindexing… {stage}: {done}/{total}").format(
            stage=escape(stage, quote=False), done=done, total=total
        )
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


def format_report(report: IngestReport, _: Translate) -> str:
    """The final reindex report for the admin."""
    problems = "".join(f"\n• {escape(p, quote=False)}" for p in report.problems[:5])
    return (
        _(
            "<b>Reindex finished</b> in {seconds} s: {articles} articles, {passages} passages, {errors} errors."
        ).format(
            seconds=f"{report.seconds:.1f}",
            articles=report.articles_seen,
            passages=report.passages_indexed,
            errors=len(report.problems),
        )
        + problems
    )


async def _run_reindex(bc: BotContext, progress: ProgressMessage) -> None:
    """Rebuild in a worker thread; the old index keeps answering until the new one is swapped in."""
    _ = progress.translate
    try:
        report = await asyncio.to_thread(bc.service.reindex, progress)
    except IndexBusyError:
        await progress.finish(_("A reindex is already running elsewhere; the current index keeps serving."))
    except NewsbotError as exc:
        reason = escape(str(exc), quote=False)
        failed = _("<b>Reindex failed</b>; the previous index keeps serving.")
        await progress.finish(f"{failed}\n{reason}")
    except Exception:
        # Not expected, so the error handler logs it; the admin still learns the rebuild failed.
        await progress.finish(
            _("<b>Reindex failed</b> unexpectedly; the previous index keeps serving (see logs).")
        )
        raise
    else:
        await progress.finish(format_report(report, _))
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
        await reply_html(context, message, bc.gettext(user)(REFUSAL).format(command=command))
        return None
    return bc, message


async def reindex(update: Update, context: NewsbotContext) -> None:
    """/reindex (admins): start a background rebuild unless one runs."""
    gate = await _admin_only(update, context, "/reindex")
    if gate is None:
        return
    bc, message = gate
    _ = bc.gettext(update.effective_user)
    if not bc.reindex.lock.acquire(blocking=False):
        await reply_html(
            context, message, _("A reindex is already running; I will post its report when it is done.")
        )
        return
    try:
        status = await reply_html(
            context, message, _("Reindex started… questions are answered from the current index.")
        )
    except BaseException:
        bc.reindex.lock.release()
        raise
    if status is None:  # Telegram kept refusing; the admin was asked to try again
        bc.reindex.lock.release()
        return
    progress = ProgressMessage(status, asyncio.get_running_loop(), _)
    context.application.create_task(_run_reindex(bc, progress), update=update, name="reindex")


async def stats(update: Update, context: NewsbotContext) -> None:
    """/stats (admins): articles, passages, subscribers, questions answered, last reindex."""
    gate = await _admin_only(update, context, "/stats")
    if gate is None:
        return
    bc, message = gate
    _ = bc.gettext(update.effective_user)
    s = await asyncio.to_thread(bc.service.stats)
    active, total = await asyncio.to_thread(bc.subscriptions.counts)
    last = escape(s.last_reindex, quote=False) if s.last_reindex else _("never")
    busy = _("{last} (one is running now)").format(last=last) if bc.reindex.lock.locked() else last
    await reply_html(
        context,
        message,
        _(
            "<b>Stats</b>\nArticles: {articles}\nPassages: {passages}\n"
            "Subscribers: {active} active of {total}\nQuestions answered: {questions}\n"
            "Last reindex: {last}"
        ).format(
            articles=s.articles,
            passages=s.passages,
            active=active,
            total=total,
            questions=s.questions_answered,
            last=busy,
        ),
    )
