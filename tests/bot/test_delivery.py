"""Digest delivery: claims, pacing, RetryAfter, Forbidden and network errors, against fakes and the stand-in."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram.error import Forbidden, NetworkError, RetryAfter

from bench.botapi_stub import BotApiStub
from bot import delivery
from bot.delivery import deliver_digest, send_digest_now
from bot.subscriptions import SubscriptionStore
from index.embeddings import Embedder
from index.service import NewsService
from tests.bot.fakes import make_settings
from tests.conftest import make_settings as core_settings


@pytest.fixture()
def empty_service(tmp_path: Path, embedder: Embedder) -> Iterator[NewsService]:
    """The real core with nothing ingested: a day without news."""
    service = NewsService.open(core_settings(tmp_path / "empty"), embedder=embedder)
    yield service
    service.close()


def _subscribe(store: SubscriptionStore, chats: range) -> None:
    for chat in chats:
        store.subscribe(chat, "08:00", "UTC")


def test_send_handles_flood_block_and_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_service: NewsService
) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", 0.01)
    settings = make_settings(tmp_path, None, digest_messages_per_second=500)
    store = SubscriptionStore(tmp_path / "bot.db")
    _subscribe(store, range(1, 21))
    sent: Counter[int] = Counter()
    failures = {"flood": 2, "net": 3, "down": 5}

    async def send(chat_id: int, text: str) -> object:
        if chat_id == 5:
            raise Forbidden("Forbidden: bot was blocked by the user")
        if chat_id == 6 and failures["flood"]:
            failures["flood"] -= 1
            raise RetryAfter(1)
        if chat_id == 7 and failures["net"]:
            failures["net"] -= 1
            raise NetworkError("connection reset")
        if chat_id == 8 and failures["down"]:
            failures["down"] -= 1
            raise NetworkError("down for this run")
        sent[chat_id] += 1
        return None

    service = sample_service
    report = asyncio.run(deliver_digest(send, service, store, settings))
    assert (report.sent, report.blocked, report.failed, report.flood_waits) == (18, 1, 1, 2)
    assert report.network_retries == 3 + 5
    assert set(sent) == set(range(1, 21)) - {5, 8} and set(sent.values()) == {1}
    assert store.get(5) is not None and not store.get(5).active  # type: ignore[union-attr]
    # Chat 8 failed for good: its claim is released so a later run tries again; nobody else is resent.
    assert store.pending(service.digest().date) == [8]
    again = asyncio.run(deliver_digest(send, service, store, settings))
    assert (again.recipients, again.sent) == (1, 1) and sent[8] == 1 and set(sent.values()) == {1}


def test_empty_day_sends_note_or_nothing(tmp_path: Path, empty_service: NewsService) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    _subscribe(store, range(1, 4))
    texts: list[str] = []

    async def send(chat_id: int, text: str) -> object:
        texts.append(text)
        return None

    quiet = make_settings(tmp_path, None, digest_send_empty_note=False)
    report = asyncio.run(deliver_digest(send, empty_service, store, quiet))
    assert report.recipients == 0 and texts == []
    noisy = make_settings(tmp_path, None, digest_send_empty_note=True)
    report = asyncio.run(deliver_digest(send, empty_service, store, noisy))
    assert report.sent == 3 and texts[0].startswith("No news today")


def test_two_concurrent_senders_never_duplicate(tmp_path: Path, sample_service: NewsService) -> None:
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub, digest_messages_per_second=200)
        store = SubscriptionStore(tmp_path / "bot.db")
        _subscribe(store, range(1, 101))
        reports = []

        def run() -> None:
            reports.append(send_digest_now(settings, sample_service))

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        per_chat = Counter(c.params["chat_id"] for c in stub.calls_to("sendMessage"))
        assert per_chat == Counter({chat: 1 for chat in range(1, 101)})
        assert sum(r.sent for r in reports) == 100


@pytest.mark.timeout(120)
def test_200_subscribers_with_floods_and_a_blocked_user(tmp_path: Path, sample_service: NewsService) -> None:
    with BotApiStub(rate_limit=30, burst=5) as stub:
        stub.faults.forbidden_chats.add(13)
        stub.faults.bad_gateway = 3
        settings = make_settings(tmp_path, stub, digest_messages_per_second=60)
        store = SubscriptionStore(tmp_path / "bot.db")
        _subscribe(store, range(1, 201))
        report = send_digest_now(settings, sample_service)
        per_chat = Counter(c.params["chat_id"] for c in stub.calls_to("sendMessage"))
        assert per_chat == Counter({chat: 1 for chat in range(1, 201) if chat != 13})
        assert report.flood_waits > 0 and report.blocked == 1 and report.sent == 199
        assert len(stub.calls_to("sendMessage", ok_only=False)) > 200  # 429s really happened
        assert not store.get(13).active  # type: ignore[union-attr]
        text = stub.texts_to(1)[0]
        assert stub.calls_to("sendMessage", 1)[0].params["parse_mode"] == "HTML"
        assert "Iran–Azerbaijan ties enter new phase" in text
        assert send_digest_now(settings, sample_service).recipients == 0
