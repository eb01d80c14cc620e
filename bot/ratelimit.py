"""Rate limits: questions per user per minute, and paced sending within Telegram's flood limits."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from corpus.settings import Settings
from corpus.storage import Storage

SLOWDOWN = 0.8  # a flood wait means we were too fast: keep 80% of the rate
RECOVERY = 0.99  # ...and win it back over a few dozen successful sends
MAX_INTERVAL = 1.0


class QuestionLimiter:
    """A sliding one-minute window of questions per user."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_users: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_users = max_users
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()

    def allow(self, user_id: int) -> bool:
        """Count a question and say whether it is within the limit."""
        now = self._clock()
        window = self._seen.setdefault(user_id, deque())
        self._seen.move_to_end(user_id)
        while window and now - window[0] >= 60.0:
            window.popleft()
        if len(self._seen) > self._max_users:  # forget the least recently active users
            self._seen.popitem(last=False)
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        return True


class Pacer(Protocol):
    """Paces Bot API sends: `wait` before each, `ok` after a success, `pause` on a RetryAfter."""

    async def wait(self, chat_id: int) -> None:
        """Sleep until a message to this chat may go out."""
        ...

    def ok(self) -> None:
        """A send went through."""
        ...

    async def pause(self, seconds: float) -> None:
        """Telegram asked to wait: stop all sending for `seconds`."""
        ...

    def close(self) -> None:
        """Release what the pacer holds."""
        ...


def bot_id(settings: Settings) -> int:
    """The numeric bot id of the configured token (its part before the colon); 0 without one."""
    token = settings.telegram.token
    head = token.get_secret_value().partition(":")[0] if token is not None else ""
    return int(head) if head.isdigit() else 0


def open_pacer(settings: Settings, per_second: float | None = None) -> Pacer:
    """The digest pacer the storage implies: in-process on SQLite, one shared row per bot on PostgreSQL."""
    rate = per_second if per_second is not None else settings.digest.messages_per_second
    storage = Storage.from_settings(settings)
    if storage.postgres:
        from bot.pgpacer import PgSendPacer

        return PgSendPacer(storage.url, storage.password, bot_id(settings), rate)
    return SendPacer(rate)


class ChatSpacedPacer:
    """The wait loop every pacer shares: per-chat spacing and pauses here, the overall slot from `_reserve_slot`."""

    def __init__(self, per_chat: float, clock: Callable[[], float]) -> None:
        self.chat_interval = 1.0 / per_chat
        self._clock = clock
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}

    async def _reserve_slot(self) -> float:
        """Reserve the next overall slot; seconds until it."""
        raise NotImplementedError

    async def wait(self, chat_id: int) -> None:
        """Sleep until this chat may be sent to, then reserve the next overall slot and sleep until it."""
        while True:
            now = self._clock()
            ready = max(self._chat_next.get(chat_id, 0.0), self._paused_until)
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            # Reserving before sleeping keeps concurrent senders from sharing a slot.
            wait = await self._reserve_slot()
            self._chat_next[chat_id] = self._clock() + max(wait, 0.0) + self.chat_interval
            if wait > 0:
                await asyncio.sleep(wait)
            if self._clock() + 1e-3 >= self._paused_until:
                return


class SendPacer(ChatSpacedPacer):
    """Spaces sends evenly at `per_second` overall and `per_chat` per chat; a RetryAfter pauses everyone."""

    def __init__(
        self, per_second: float, per_chat: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(per_chat, clock)
        self.base_interval = self.interval = 1.0 / per_second
        self._next = 0.0

    async def _reserve_slot(self) -> float:
        """The next slot of this process."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        return slot - now

    def ok(self) -> None:
        """A send went through: win back speed lost to earlier flood waits, a little at a time."""
        self.interval = max(self.base_interval, self.interval * RECOVERY)

    async def pause(self, seconds: float) -> None:
        """Stop all sending for `seconds` (Telegram's retry_after) and send slower from then on."""
        now = self._clock()
        if now >= self._paused_until:
            # One slowdown per flood episode: the requests already in flight fail together.
            self.interval = min(self.interval / SLOWDOWN, MAX_INTERVAL)
        self._paused_until = max(self._paused_until, now + seconds)
        self._next = max(self._next, self._paused_until)

    def close(self) -> None:
        """Nothing to release: the pace lives in this process."""
