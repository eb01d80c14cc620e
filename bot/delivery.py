"""Digest delivery: claim each (chat, date) once, send paced, honour RetryAfter, retire blocked chats."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.request import HTTPXRequest

from bot.context import NewsCore, api_urls, require_token
from bot.formatting import format_digest, split_message
from bot.i18n import Catalogs, UserLanguages, bot_language, reader_language
from bot.ratelimit import Pacer, open_pacer
from bot.subscriptions import Subscriptions, open_subscriptions
from corpus.settings import Settings
from index.digest import for_reader

log = logging.getLogger(__name__)

SendFn = Callable[[int, str], Awaitable[object]]
MAX_NETWORK_ATTEMPTS = 5
MAX_FLOOD_WAITS = 20
BACKOFF_SECONDS = 0.5


class Outcome(Enum):
    """How sending to one chat ended."""

    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryReport:
    """What one digest delivery did."""

    digest_date: date | None
    stories: int
    recipients: int = 0
    sent: int = 0
    already: int = 0
    blocked: int = 0
    failed: int = 0
    messages: int = 0
    flood_waits: int = 0
    network_retries: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Messages sent per second of delivery."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Tally:
    """Counters shared by the delivery workers (one event loop, so no locking)."""

    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    already: int = 0
    messages: int = 0
    flood_waits: int = 0
    network_retries: int = 0


def telegram_send(bot: Bot) -> SendFn:
    """A SendFn posting Telegram HTML without link previews."""

    async def send(chat_id: int, text: str) -> object:
        return await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    return send


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds, whichever type PTB hands out."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def send_paced(send: SendFn, pacer: Pacer, chat_id: int, text: str, tally: _Tally) -> Outcome:
    """Send one message within the limits: wait out floods, back off on network errors, give up on blocks."""
    network_failures = flood_waits = 0
    while True:
        await pacer.wait(chat_id)
        try:
            await send(chat_id, text)
        except RetryAfter as exc:
            tally.flood_waits += 1
            flood_waits += 1
            if flood_waits > MAX_FLOOD_WAITS:
                return Outcome.FAILED
            await pacer.pause(retry_seconds(exc))
            continue
        except Forbidden:
            return Outcome.BLOCKED
        except BadRequest as exc:
            # A chat that no longer exists is as gone as one that blocked us.
            if "chat not found" in str(exc).lower():
                return Outcome.BLOCKED
            log.warning("digest to chat %s rejected: %s", chat_id, exc)
            return Outcome.FAILED
        except NetworkError as exc:
            network_failures += 1
            tally.network_retries += 1
            if network_failures >= MAX_NETWORK_ATTEMPTS:
                log.warning("digest to chat %s failed after %d attempts: %s", chat_id, network_failures, exc)
                return Outcome.FAILED
            await asyncio.sleep(min(30.0, BACKOFF_SECONDS * 2 ** (network_failures - 1)))
            continue
        tally.messages += 1
        pacer.ok()
        return Outcome.SENT


async def _deliver_one(
    send: SendFn,
    pacer: Pacer,
    store: Subscriptions,
    chat_id: int,
    day: date,
    chunks: list[str],
    tally: _Tally,
) -> None:
    """Claim, send every part, then record the result for one subscriber."""
    if not await asyncio.to_thread(store.claim, chat_id, day):
        tally.already += 1
        return
    outcome = Outcome.SENT
    for i, chunk in enumerate(chunks):
        outcome = await send_paced(send, pacer, chat_id, chunk, tally)
        if outcome is not Outcome.SENT:
            # Once the first part is out the digest counts as delivered; resending would duplicate it.
            outcome = Outcome.SENT if i > 0 else outcome
            break
    tally.outcomes[outcome] += 1
    if outcome is Outcome.SENT:
        await asyncio.to_thread(store.mark_sent, chat_id, day)
    elif outcome is Outcome.BLOCKED:
        await asyncio.to_thread(store.set_active, chat_id, False)
    else:
        await asyncio.to_thread(store.release, chat_id, day)


async def deliver_digest(
    send: SendFn,
    service: NewsCore,
    store: Subscriptions,
    settings: Settings,
    *,
    as_of: datetime | None = None,
    slot: tuple[str, str] | None = None,
    languages: UserLanguages | None = None,
    catalogs: Catalogs | None = None,
    pacer: Pacer | None = None,
) -> DeliveryReport:
    """Send the day's digest to active subscribers (of a slot) who have not had it: the one delivery path.

    Each chat gets the stories in its subscription's language first. With `languages` and `catalogs`
    the headings are in that language when the bot speaks it, else in the one its user chose with
    /language (a private chat's id is its user's id); English otherwise.
    """
    digest = await asyncio.to_thread(service.digest, as_of)
    if not digest.stories and not settings.digest.send_empty_note:
        return DeliveryReport(digest.date, 0)
    formatted: dict[tuple[str | None, str], list[str]] = {}
    subscribed = await asyncio.to_thread(store.languages)

    async def chunks_for(chat_id: int) -> list[str]:
        wanted = subscribed.get(chat_id)
        chosen = await asyncio.to_thread(languages.get, chat_id) if languages is not None else None
        key = (wanted, reader_language(bot_language(wanted), chosen))
        if key not in formatted:
            translate = catalogs.gettext(key[1]) if catalogs is not None else None
            mine = for_reader(digest, wanted)
            text = format_digest(mine, translate, wanted) if translate else format_digest(mine, language=wanted)
            formatted[key] = split_message(text)
        return formatted[key]

    chat_ids = await asyncio.to_thread(store.pending, digest.date, slot)
    rate = settings.digest.messages_per_second
    own_pacer = pacer is None
    pacer = pacer if pacer is not None else await asyncio.to_thread(open_pacer, settings)
    tally = _Tally()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for chat_id in chat_ids:
        queue.put_nowait(chat_id)

    async def worker() -> None:
        while not queue.empty():
            chat_id = queue.get_nowait()
            await _deliver_one(send, pacer, store, chat_id, digest.date, await chunks_for(chat_id), tally)

    started = time.monotonic()
    # One request in flight per message/s fills the rate at up to 1 s latency, yet a stall can never
    # pile more than one second's worth onto the server at once (which would trip its flood limit).
    workers = max(1, min(len(chat_ids), 64, math.ceil(rate)))
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        if own_pacer:
            pacer.close()
    report = DeliveryReport(
        digest_date=digest.date,
        stories=len(digest.stories),
        recipients=len(chat_ids),
        sent=tally.outcomes[Outcome.SENT],
        already=tally.already,
        blocked=tally.outcomes[Outcome.BLOCKED],
        failed=tally.outcomes[Outcome.FAILED],
        messages=tally.messages,
        flood_waits=tally.flood_waits,
        network_retries=tally.network_retries,
        seconds=time.monotonic() - started,
    )
    log.info(
        "digest %s: %d sent, %d already had it, %d blocked, %d failed in %.1f s",
        report.digest_date,
        report.sent,
        report.already,
        report.blocked,
        report.failed,
        report.seconds,
    )
    return report


def make_bot(settings: Settings) -> Bot:
    """A Bot for the configured token and API server, with room for parallel sends."""
    request = HTTPXRequest(connection_pool_size=64, read_timeout=20.0, write_timeout=20.0)
    urls = api_urls(settings)
    if urls is None:
        return Bot(require_token(settings), request=request)
    return Bot(require_token(settings), base_url=urls[0], base_file_url=urls[1], request=request)


async def _send_now(settings: Settings, service: NewsCore, as_of: datetime | None) -> DeliveryReport:
    store = open_subscriptions(settings)
    languages = UserLanguages(settings.data_dir / "bot.db")
    try:
        async with make_bot(settings) as bot:
            return await deliver_digest(
                telegram_send(bot), service, store, settings, as_of=as_of, languages=languages, catalogs=Catalogs()
            )
    finally:
        store.close()
        languages.close()


def send_digest_now(settings: Settings, service: NewsCore, as_of: datetime | None = None) -> DeliveryReport:
    """Send today's digest to every active subscriber still without it (blocking; safe beside the bot)."""
    require_token(settings)
    return asyncio.run(_send_now(settings, service, as_of))
