"""Subscriptions and digest claims behave the same on SQLite and PostgreSQL; parallel senders never double-send."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date
from pathlib import Path

from bot.subscriptions import open_subscriptions
from corpus.settings import Settings

DAY = date(2022, 8, 26)


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path, storage={"url": url})  # type: ignore[arg-type]


def test_subscription_store_contract(tmp_path: Path, storage_url: str) -> None:
    store = open_subscriptions(_settings(tmp_path, storage_url))
    try:
        store.subscribe(1, "08:00", "UTC")
        store.subscribe(2, "07:30", "Europe/Berlin")
        store.subscribe(2, "07:45", "Europe/Berlin")
        store.subscribe(3, "08:00", "UTC")
        assert store.get(2) is not None and store.get(2).time == "07:45"  # type: ignore[union-attr]
        assert store.set_active(3, False) and not store.set_active(99, False)
        assert [s.chat_id for s in store.active()] == [1, 2] and store.counts() == (2, 3)
        assert store.slots() == {("08:00", "UTC"), ("07:45", "Europe/Berlin")}
        assert store.pending(DAY) == [1, 2] and store.pending(DAY, ("08:00", "UTC")) == [1]
        assert store.claim(1, DAY) and not store.claim(1, DAY)
        assert store.pending(DAY) == [2]
        store.release(1, DAY)
        assert store.pending(DAY) == [1, 2]
        assert store.claim(1, DAY)
        store.mark_sent(1, DAY)
        store.release(1, DAY)  # a sent digest is never given back
        assert store.pending(DAY) == [2] and store.pending(date(2022, 8, 27)) == [1, 2]
        assert store.unsubscribe(2) and not store.unsubscribe(2)
    finally:
        store.close()


def test_subscription_language_round_trips(tmp_path: Path, storage_url: str) -> None:
    store = open_subscriptions(_settings(tmp_path, storage_url))
    try:
        store.subscribe(1, "08:00", "UTC", "tr")
        store.subscribe(2, "08:00", "UTC")
        store.subscribe(3, "08:00", "UTC", "ar")
        store.set_active(3, False)
        assert store.get(1).language == "tr" and store.get(2).language is None  # type: ignore[union-attr]
        assert store.languages() == {1: "tr"}
        store.subscribe(1, "09:00", "UTC", "en")  # a new /subscribe replaces the language too
        assert store.languages() == {1: "en"}
    finally:
        store.close()


def test_two_senders_claim_200_digests_each_exactly_once(tmp_path: Path, storage_url: str) -> None:
    settings = _settings(tmp_path, storage_url)
    setup = open_subscriptions(settings)
    for chat in range(1, 201):
        setup.subscribe(chat, "08:00", "UTC")
    setup.close()
    claimed: list[list[int]] = [[], [], []]
    start = threading.Barrier(3)

    def sender(n: int) -> None:
        # Its own store, so its own connection: as a second replica would have.
        store = open_subscriptions(settings)
        try:
            pending = store.pending(DAY)
            start.wait()
            for chat in pending if n % 2 else reversed(pending):
                if store.claim(chat, DAY):
                    claimed[n].append(chat)
                    store.mark_sent(chat, DAY)
        finally:
            store.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(c for part in claimed for c in part)
    assert sorted(counts) == list(range(1, 201)) and set(counts.values()) == {1}
    check = open_subscriptions(settings)
    assert check.pending(DAY) == []
    check.close()
