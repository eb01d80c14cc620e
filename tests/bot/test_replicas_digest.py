"""Replicas share one send pace on PostgreSQL: the digest rate holds overall, and every chat gets one digest."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.digest_replicas import run
from bot.pgpacer import PgSendPacer
from bot.ratelimit import SendPacer, bot_id, open_pacer
from corpus.settings import Settings, TelegramSettings

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def test_open_pacer_follows_the_storage(tmp_path: Path, pg_url: str) -> None:
    token = TelegramSettings(token=SecretStr("4242:SECRET"))
    local = open_pacer(Settings(data_dir=tmp_path, telegram=token))
    assert isinstance(local, SendPacer)
    shared = open_pacer(Settings(data_dir=tmp_path, telegram=token, storage={"url": pg_url}))  # type: ignore[arg-type]
    try:
        assert isinstance(shared, PgSendPacer) and shared.bot_id == 4242
    finally:
        shared.close()
    assert bot_id(Settings(data_dir=tmp_path)) == 0


def test_two_pacers_share_one_rate_and_one_pause(pg_url: str) -> None:
    a, b = PgSendPacer(pg_url, None, 7, 50.0), PgSendPacer(pg_url, None, 7, 50.0)
    other_bot = PgSendPacer(pg_url, None, 8, 50.0)

    async def go() -> tuple[float, float, float]:
        start = time.monotonic()
        # 40 sends split over two "replicas": 39 intervals of 20 ms overall, not 19 each.
        await asyncio.gather(*(p.wait(chat) for chat in range(20) for p in (a, b)))
        paced = time.monotonic() - start
        # Timed from before the pause is written: the pause runs from the write, however long that takes.
        start = time.monotonic()
        await a.pause(0.4)
        await b.wait(99)  # b learns a's flood pause from the shared row
        paused = time.monotonic() - start
        start = time.monotonic()
        await other_bot.wait(1)  # another bot's pace is its own
        return paced, paused, time.monotonic() - start

    try:
        paced, paused, other = asyncio.run(go())
    finally:
        for p in (a, b, other_bot):
            p.close()
    assert 0.7 <= paced < 1.6
    assert paused >= 0.38
    assert other < 0.2


def test_two_replica_processes_deliver_once_within_the_overall_limit(pg_url: str) -> None:
    result = run(pg_url, subscribers=300, limit=100.0, replicas=2)
    assert result.lost == 0 and result.duplicates == 0 and result.delivered == 300
    assert result.rate <= 102.0, f"overall rate {result.rate:.1f} msg/s over the 100 msg/s limit"
    assert result.rejected == 0, "the stand-in answered 429: the replicas together sent too fast"
    assert len(result.shares) == 2 and sum(result.shares) == 300 and min(result.shares) > 0
