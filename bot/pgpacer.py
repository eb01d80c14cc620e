"""A send pacer shared by every replica: each send reserves the bot's next slot in one PostgreSQL row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.ratelimit import MAX_INTERVAL, RECOVERY, SLOWDOWN, ChatSpacedPacer
from corpus.pgdb import PgDatabase

# Slot times come from the server's clock, so replicas on machines whose clocks differ still agree.
_RESERVE = """
UPDATE send_pace SET
    slot_at = GREATEST(next_at, paused_until, clock_timestamp()),
    next_at = GREATEST(next_at, paused_until, clock_timestamp()) + interval_s * interval '1 second',
    interval_s = GREATEST(%(base)s, interval_s * %(recovery)s)
WHERE bot_id = %(bot)s
RETURNING EXTRACT(EPOCH FROM (slot_at - clock_timestamp()))::float8 AS wait,
          EXTRACT(EPOCH FROM (paused_until - clock_timestamp()))::float8 AS paused
"""
_PAUSE = """
UPDATE send_pace SET
    interval_s = CASE WHEN clock_timestamp() >= paused_until
                      THEN LEAST(interval_s / %(slowdown)s, %(max)s) ELSE interval_s END,
    paused_until = GREATEST(paused_until, clock_timestamp() + %(seconds)s * interval '1 second'),
    next_at = GREATEST(next_at, clock_timestamp() + %(seconds)s * interval '1 second')
WHERE bot_id = %(bot)s
"""


class PgSendPacer(ChatSpacedPacer):
    """Spaces sends at `per_second` across all replicas of one bot, `per_chat` per chat within this one.

    A chat's digest is claimed by one replica only, so the per-chat spacing can stay in process; the
    overall slot and a RetryAfter pause (Telegram's flood limit is per bot) live in the shared row.
    """

    def __init__(
        self,
        conninfo: str,
        password: str | None,
        bot_id: int,
        per_second: float,
        per_chat: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(per_chat, clock)
        self.bot_id = bot_id
        self.base_interval = 1.0 / per_second
        self._db = PgDatabase(conninfo, password)
        self._db.run(
            "INSERT INTO send_pace (bot_id, interval_s) VALUES (%s, %s) ON CONFLICT (bot_id) DO NOTHING",
            (bot_id, self.base_interval),
        )

    def _reserve(self) -> tuple[float, float]:
        # execute() repeats a statement once on a new connection: here that at worst skips one slot.
        row = self._db.execute(_RESERVE, {"base": self.base_interval, "recovery": RECOVERY, "bot": self.bot_id})
        return float(row[0]["wait"]), float(row[0]["paused"])

    async def _reserve_slot(self) -> float:
        """The bot's next shared slot, from the row every replica reserves in."""
        wait, paused = await asyncio.to_thread(self._reserve)
        # A pause another replica took is learnt here and honoured by this process's next waits.
        self._paused_until = max(self._paused_until, self._clock() + paused)
        return wait

    def ok(self) -> None:
        """A send went through; the shared interval recovers with each reservation instead."""

    async def pause(self, seconds: float) -> None:
        """Stop every replica's sending for `seconds` (Telegram's retry_after) and send slower from then on."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        params: dict[str, object] = {"slowdown": SLOWDOWN, "max": MAX_INTERVAL, "seconds": seconds, "bot": self.bot_id}
        await asyncio.to_thread(self._pause, params)

    def _pause(self, params: dict[str, object]) -> None:
        with self._db.transaction() as conn:
            conn.execute(_PAUSE, params)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
