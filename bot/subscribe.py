"""Digest subscriptions: /subscribe, /unsubscribe, /digest, block/unblock updates, and the daily jobs."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from datetime import time as dtime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import ChatMember, Update
from telegram.ext import JobQueue

from bot.context import NewsbotApp, NewsbotContext
from bot.delivery import deliver_digest, telegram_send
from bot.formatting import format_digest
from bot.handlers import reply_html
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, bot_language
from bot.subscriptions import USAGE, SubscribeArgsError, parse_subscribe_args
from corpus.store import UNDETERMINED
from index.digest import for_reader

log = logging.getLogger(__name__)

Slot = tuple[str, str]
CATCH_UP_DELAY_SECONDS = 1.0


def slot_time(slot: Slot) -> dtime:
    """The wall-clock time of a (HH:MM, Area/City) slot, in its zone."""
    hh, mm = slot[0].split(":")
    return dtime(int(hh), int(mm), tzinfo=ZoneInfo(slot[1]))


def slot_passed_today(slot: Slot, now: datetime | None = None) -> bool:
    """Whether the slot's time has already come today in its zone."""
    tz = ZoneInfo(slot[1])
    local = (now or datetime.now(tz)).astimezone(tz)
    return local.time().replace(tzinfo=None) >= slot_time(slot).replace(tzinfo=None)


async def digest_job(context: NewsbotContext) -> None:
    """Deliver the digest to one slot's subscribers who have not had today's."""
    bc = context.bot_data.core
    slot = context.job.data if context.job else None
    report = await deliver_digest(
        telegram_send(context.bot),
        bc.service,
        bc.subscriptions,
        bc.settings,
        slot=slot if isinstance(slot, tuple) else None,
        languages=bc.user_languages,
        catalogs=bc.catalogs,
    )
    bc.metrics.record_delivery(report)


def schedule_slot(job_queue: JobQueue[Any], slot: Slot) -> None:
    """One daily job per distinct (time, zone); adding it twice is a no-op."""
    name = f"digest {slot[0]} {slot[1]}"
    if job_queue.get_jobs_by_name(name):
        return
    job_queue.run_daily(
        digest_job, slot_time(slot), name=name, data=slot, job_kwargs={"misfire_grace_time": 600}
    )


async def schedule_all(application: NewsbotApp) -> None:
    """At start-up: re-register every slot's daily job and catch up slots whose time passed while down."""
    bc = application.bot_data.core
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    slots = await asyncio.to_thread(bc.subscriptions.slots)
    for slot in sorted(slots):
        schedule_slot(job_queue, slot)
        if slot_passed_today(slot):
            # The claim table makes this a no-op for anyone who already got today's digest.
            job_queue.run_once(
                digest_job,
                CATCH_UP_DELAY_SECONDS,
                name=f"catch-up {slot[0]} {slot[1]}",
                data=slot,
                job_kwargs={"misfire_grace_time": None},
            )
    log.info("scheduled daily digests for %d time slots", len(slots))


async def subscribe(update: Update, context: NewsbotContext) -> None:
    """/subscribe [HH:MM] [Area/City] [language]: a daily digest at that time, that language's stories first."""
    bc, message, chat = context.bot_data.core, update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    _ = bc.gettext(update.effective_user)
    stats = await asyncio.to_thread(bc.service.stats)
    # The bot's languages, and those of the news it has (whose stories a reader may want first).
    known = {*LANGUAGES, *(code for code, _n in stats.languages if code != UNDETERMINED)}
    try:
        defaults = bc.settings.digest
        asked = parse_subscribe_args(context.args or [], defaults.time, defaults.timezone, known)
    except SubscribeArgsError as exc:
        lines = [_(exc.template).format(**exc.values)] + ([_(USAGE)] if exc.template != USAGE else [])
        await reply_html(context, message, escape("\n".join(lines), quote=False))
        return
    language = asked.language
    if language is None:  # the language the bot speaks to this user
        language = await asyncio.to_thread(bc.language_of, update.effective_user)
    await asyncio.to_thread(bc.subscriptions.subscribe, chat.id, asked.time, asked.timezone, language)
    if context.job_queue is not None:
        schedule_slot(context.job_queue, (asked.time, asked.timezone))
    await reply_html(
        context,
        message,
        _(
            "Subscribed: you will get the news digest every day at {time} ({timezone}), stories in "
            "{language} first.\nSend /unsubscribe to stop, /digest to see today's now."
        ).format(time=asked.time, timezone=asked.timezone, language=LANGUAGE_NAMES.get(language, language)),
    )


async def unsubscribe(update: Update, context: NewsbotContext) -> None:
    """/unsubscribe: no more digests."""
    bc, message, chat = context.bot_data.core, update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    _ = bc.gettext(update.effective_user)
    removed = await asyncio.to_thread(bc.subscriptions.unsubscribe, chat.id)
    text = _("Unsubscribed: no more daily digests.") if removed else _("You had no subscription.")
    await reply_html(context, message, text)


async def digest_now(update: Update, context: NewsbotContext) -> None:
    """/digest: today's digest, right now, with the stories of the chat's digest language (or the user's) first."""
    bc, message, chat = context.bot_data.core, update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    digest = await asyncio.to_thread(bc.service.digest, None)
    sub = await asyncio.to_thread(bc.subscriptions.get, chat.id)
    user_language = await asyncio.to_thread(bc.language_of, update.effective_user)
    language = sub.language if sub is not None and sub.language else user_language
    _ = bc.catalogs.gettext(bot_language(language) or user_language)
    await reply_html(context, message, format_digest(for_reader(digest, language), _, language))


async def on_member_change(update: Update, context: NewsbotContext) -> None:
    """A user blocked (inactive) or unblocked (active again) the bot."""
    change = update.my_chat_member
    if change is None:
        return
    status = change.new_chat_member.status
    active = status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
    if active or status in (ChatMember.BANNED, ChatMember.LEFT):
        store = context.bot_data.core.subscriptions
        known = await asyncio.to_thread(store.set_active, change.chat.id, active)
        if known:
            log.info("chat %s %s the bot", change.chat.id, "unblocked" if active else "blocked")
