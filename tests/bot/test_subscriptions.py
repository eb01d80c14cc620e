"""The SQLite subscription store, subscribe arguments, rate limits and follow-up detection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from bot.context import ChatMemory, looks_like_followup
from bot.ratelimit import QuestionLimiter, SendPacer
from bot.subscriptions import SubscribeArgs, Subscription, SubscriptionStore, parse_subscribe_args
from corpus.errors import InputError
from index.models import Answer, Citation

DAY = date(2025, 12, 4)


def test_subscriptions_survive_reopening(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    store.subscribe(1, "07:30", "Europe/Berlin")
    store.subscribe(2, "08:00", "UTC")
    store.subscribe(1, "06:00", "UTC")  # a change, not a second subscription
    assert store.unsubscribe(2) and not store.unsubscribe(2)
    store.close()
    again = SubscriptionStore(tmp_path / "bot.db")
    sub = again.get(1)
    assert sub is not None and (sub.time, sub.timezone, sub.active) == ("06:00", "UTC", True)
    assert again.slots() == {("06:00", "UTC")}
    assert again.set_active(1, False) and not again.set_active(99, False)
    assert again.active() == [] and again.counts() == (0, 1)


def test_claim_is_exclusive_across_connections_and_threads(tmp_path: Path) -> None:
    stores = [SubscriptionStore(tmp_path / "bot.db") for _ in range(4)]
    for chat in range(50):
        stores[0].subscribe(chat, "08:00", "UTC")
    wins: list[int] = []
    lock = threading.Lock()

    def claim_all(store: SubscriptionStore) -> None:
        for chat in store.pending(DAY):
            if store.claim(chat, DAY):
                with lock:
                    wins.append(chat)

    threads = [threading.Thread(target=claim_all, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(50))
    assert stores[0].pending(DAY) == []
    stores[0].release(7, DAY)
    assert stores[1].pending(DAY) == [7]
    stores[1].mark_sent(8, DAY)
    stores[1].release(8, DAY)  # a sent digest stays recorded
    assert stores[2].pending(DAY) == [7] and not stores[2].claim(8, DAY)


def test_pending_by_slot(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    store.subscribe(1, "08:00", "UTC")
    store.subscribe(2, "09:00", "UTC")
    assert store.pending(DAY, ("09:00", "UTC")) == [2]
    assert store.pending(DAY) == [1, 2]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], SubscribeArgs("08:00", "UTC")),
        (["7:05"], SubscribeArgs("07:05", "UTC")),
        (["Europe/Berlin", "21:30"], SubscribeArgs("21:30", "Europe/Berlin")),
        (["07:30", "Europe/Istanbul", "tr"], SubscribeArgs("07:30", "Europe/Istanbul", "tr")),
        (["AR", "Asia/Riyadh"], SubscribeArgs("08:00", "Asia/Riyadh", "ar")),
    ],
)
def test_subscribe_args(args: list[str], expected: SubscribeArgs) -> None:
    assert parse_subscribe_args(args, "08:00", "UTC", {"en", "tr", "ar"}) == expected


@pytest.mark.parametrize(
    "bad",
    [
        ["25:00"],
        ["../../etc/passwd"],
        ["/etc/localtime"],
        ["Mars/Olympus"],
        ["xx"],
        ["1", "2", "3", "4"],
        ["'; DROP TABLE subscribers; --"],
    ],
)
def test_subscribe_args_refuse_anything_else(bad: list[str]) -> None:
    with pytest.raises(InputError):
        parse_subscribe_args(bad, "08:00", "UTC", {"en", "tr", "ar"})


def test_an_older_subscription_db_gains_the_language_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE subscribers (chat_id INTEGER PRIMARY KEY, send_time TEXT NOT NULL,"
        " timezone TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL);"
        "INSERT INTO subscribers VALUES (1, '07:00', 'UTC', 1, '2025-01-01T00:00:00+00:00');"
    )
    old.close()
    stores = [SubscriptionStore(path), SubscriptionStore(path)]  # a second opener finds it migrated
    try:
        assert stores[0].get(1) == Subscription(1, "07:00", "UTC", True, None)
        stores[1].subscribe(2, "08:00", "UTC", "tr")
        assert stores[0].get(2) == Subscription(2, "08:00", "UTC", True, "tr")
        assert stores[0].languages() == {2: "tr"}
        assert stores[0].pending(DAY) == [1, 2]
    finally:
        for store in stores:
            store.close()


def test_question_limiter_window() -> None:
    now = [0.0]
    limiter = QuestionLimiter(3, clock=lambda: now[0])
    assert [limiter.allow(1) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(2)
    now[0] = 60.0
    assert limiter.allow(1)


def test_send_pacer_spaces_sends_and_pauses() -> None:
    async def run() -> tuple[float, float]:
        pacer = SendPacer(50.0)
        start = time.monotonic()
        await asyncio.gather(*(pacer.wait(chat) for chat in range(26)))
        paced = time.monotonic() - start
        await pacer.pause(0.3)
        start = time.monotonic()
        await pacer.wait(99)
        return paced, time.monotonic() - start

    paced, paused = asyncio.run(run())
    assert 0.45 <= paced < 0.8  # 25 intervals of 20 ms
    assert paused >= 0.29


def test_send_pacer_per_chat() -> None:
    async def run() -> float:
        pacer = SendPacer(100.0, per_chat=5.0)
        start = time.monotonic()
        for _ in range(3):
            await pacer.wait(1)
        return time.monotonic() - start

    assert 0.38 <= asyncio.run(run()) < 0.7


@pytest.mark.parametrize(
    ("question", "followup"),
    [
        ("and what about energy?", True),
        ("What about trade?", True),
        ("How about the railway?", True),
        ("They signed anything?", True),
        ("energy?", True),
        ("What projects did Iran and Azerbaijan discuss?", False),
        ("Which city did Russian forces say they had taken?", False),
    ],
)
def test_followup_detection(question: str, followup: bool) -> None:
    assert looks_like_followup(question) is followup


def _answer(question: str, quote: str | None) -> Answer:
    if quote is None:
        return Answer(question=question, answered=False, text="The indexed news does not cover this.")
    cite = Citation(n=1, article_id="a", title="t", url=None, source=None, published_at=None, quote=quote)
    return Answer(question=question, answered=True, text=f"{quote} [1]", citations=(cite,))


def test_chat_memory_reads_followups_with_the_last_question_and_answer() -> None:
    memory = ChatMemory(minutes=10)
    first = "What projects did Iran and Azerbaijan discuss?"
    assert memory.context_for(1, first, 0.0) is None
    memory.remember(1, first, False, _answer(first, "They discussed the Rasht-Astara railway [2]."), 0.0)
    ctx = memory.context_for(1, "and what about energy?", 60.0)
    assert ctx == f"{first} They discussed the Rasht-Astara railway."
    memory.remember(1, "and what about energy?", True, _answer("energy", "Gas swaps were agreed."), 60.0)
    # Still the original topic, now with the newest answer on it.
    assert memory.context_for(1, "and trade?", 120.0) == f"{first} Gas swaps were agreed."
    memory.remember(1, "and trade?", True, _answer("trade", None), 120.0)
    assert memory.context_for(1, "and ports?", 130.0) == f"{first} Gas swaps were agreed."
    assert memory.context_for(2, "and trade?", 120.0) is None  # other chats are separate
    assert memory.context_for(1, "and trade?", 130.0 + 601) is None  # too late
