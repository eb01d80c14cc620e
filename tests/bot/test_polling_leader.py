"""Polling replicas on PostgreSQL: one leader polls getUpdates, a standby takes over when it stops."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import psycopg
import pytest

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from bot.leader import PollingLeader, leader_key
from corpus.settings import Settings, StorageSettings
from index.service import NewsService
from tests.bot.fakes import make_settings
from tests.bot.harness import bot_running, replies

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
QUESTION = "What projects did Iran and Azerbaijan discuss?"


def test_one_leader_per_bot_and_a_dropped_session_loses_it(pg_url: str) -> None:
    a, b, other = PollingLeader(pg_url, None, 42), PollingLeader(pg_url, None, 42), PollingLeader(pg_url, None, 43)
    try:
        assert a.try_lead() and not b.try_lead() and other.try_lead()
        assert a.still_leading() and not b.still_leading()
        # The server ends a's session (a restart, a network cut): the lock goes with it.
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND ((classid::bigint << 32) | objid::bigint) = %s",
                (leader_key(42) & 0xFFFFFFFFFFFFFFFF,),
            )
        assert not a.still_leading()
        assert b.try_lead()
    finally:
        for leader in (a, b, other):
            leader.close()
    assert leader_key(0) != leader_key(1) and -(1 << 63) <= leader_key(2**40) < 1 << 63


def test_standby_replica_takes_over_polling(
    tmp_path: Path, pg_url: str, sample_service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.leader")
    with BotApiStub() as stub:

        def settings(name: str) -> Settings:
            base = make_settings(tmp_path / name, stub, tg_leader_retry_seconds=0.3)
            return base.model_copy(update={"storage": StorageSettings(url=pg_url)})

        stop_b = threading.Event()
        errors: list[BaseException] = []

        def standby() -> None:
            try:
                run_bot(settings("b"), service=sample_service, stop=stop_b)
            except BaseException as exc:  # handed to the test thread below
                errors.append(exc)

        thread = threading.Thread(target=standby, daemon=True)
        with bot_running(settings("a"), sample_service, stub):
            thread.start()
            assert stub.wait_for(lambda: "standby" in caplog.text, 30), "the second replica did not stand by"
            for chat in (8001, 8002, 8003):
                stub.push_message(chat, QUESTION)
            for chat in (8001, 8002, 8003):
                assert len(replies(stub, chat)) == 1
        # The leader stopped (its session closed): the standby polls and answers within a retry or two.
        assert stub.wait_for(lambda: "took over polling" in caplog.text or bool(errors), 30), errors
        stub.push_message(8004, QUESTION)
        assert "Rasht–Astara railway" in replies(stub, 8004)[0]
        stop_b.set()
        thread.join(30)
    assert not thread.is_alive() and not errors, errors
    assert all(len(stub.texts_to(chat)) == 1 for chat in (8001, 8002, 8003, 8004))
