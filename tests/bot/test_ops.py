"""Issue 12, "Nothing lost, ever": replies under Telegram's flood limit, an unreachable API, /healthz and /metrics.

The real bot and core against the Bot API stand-in on 127.0.0.1; nothing else is faked.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench.botapi_stub import BotApiStub, Call
from bot.handlers import BUSY
from bot.subscriptions import SubscriptionStore
from corpus.settings import CorpusSettings, FeedSettings, Settings
from index.embeddings import Embedder
from tests.bot.fakes import REPO, make_settings
from tests.bot.harness import bot_running, replies
from tests.bot.test_bot_e2e import (
    NOT_COVERED_QUESTION,
    QUESTION,
    RAIL_FACT,
    SpiedService,
    open_core,
    write_news,
)
from tests.corpus.feed_server import Entry, Route, rss2, running_server

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def news(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[SpiedService]:
    """One real service for the module with the e2e NEWS corpus ingested."""
    root = tmp_path_factory.mktemp("ops-news")
    corpus = write_news(root / "corpus")
    service = open_core(
        Settings(data_dir=root / "data", corpus=CorpusSettings(paths=[corpus])), embedder, corpus
    )
    yield service
    service.close()


def free_port() -> int:
    """A port nobody listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int, path: str) -> tuple[int, str]:
    """GET a path of the bot's metrics server."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.read().decode()


def value(text: str, name: str) -> float:
    """One sample of a /metrics text by its full name and labels; -1 when it is absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return -1.0


def test_twelve_users_at_once_all_get_their_answer_under_a_flood_limit(
    tmp_path: Path, news: SpiedService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with BotApiStub(rate_limit=2) as stub:
        settings = make_settings(tmp_path, stub)
        with bot_running(settings, news, stub):
            users = range(101, 113)
            for user in users:
                stub.push_message(user, QUESTION)
            for user in users:
                assert RAIL_FACT in replies(stub, user, 1, timeout=90)[0]
        assert all(len(stub.texts_to(user)) == 1 for user in users)
        refused = [c for c in stub.calls_to("sendMessage", ok_only=False) if c.status == 429]
        assert len(refused) >= 10  # the limit really bit, and every reply got through anyway
    assert "unhandled error" not in caplog.text


def test_a_reply_past_the_wait_bound_asks_the_user_to_retry(tmp_path: Path, news: SpiedService) -> None:
    with BotApiStub() as stub:
        stub.faults.too_many, stub.faults.retry_after = 1, 5
        with bot_running(make_settings(tmp_path, stub, tg_reply_retry_seconds=2), news, stub):
            stub.push_message(7, QUESTION)
            assert replies(stub, 7)[0] == BUSY
            stub.push_message(7, QUESTION)  # the flood is over: answered at once
            assert RAIL_FACT in replies(stub, 7, 2)[1]


class FlakyApi(BotApiStub):
    """The stand-in whose getUpdates fails like an unreachable gateway (502) while `down` is set."""

    down = False

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getUpdates" and self.down:
            with self._cond:
                self.calls.append(Call(method, params, time.monotonic(), 502))
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        return super().handle(method, params)


def test_unreachable_api_while_running_is_one_warning_per_failed_poll(
    tmp_path: Path, news: SpiedService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with FlakyApi() as stub:
        settings = make_settings(tmp_path, stub)
        with bot_running(settings, news, stub):
            stub.down = True
            assert stub.wait_for(lambda: len(stub.calls_to("getUpdates", ok_only=False)) >= 4, 30)
            stub.down = False  # back: questions are answered again
            stub.push_message(3, QUESTION)
            assert RAIL_FACT in replies(stub, 3)[0]
    failures = [r for r in caplog.records if "Telegram Bot API unreachable" in r.getMessage()]
    assert len(failures) >= 2 and all(r.levelno == logging.WARNING and not r.exc_info for r in failures)
    assert all("\n" not in r.getMessage() for r in failures)
    assert "unhandled error" not in caplog.text and "Traceback" not in caplog.text


def _newsbot_run(tmp_path: Path, token: str, base_url: str) -> subprocess.CompletedProcess[str]:
    """`newsbot run` as its own process with this token and Bot API address, to its exit."""
    env = {
        **os.environ,
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_TELEGRAM__TOKEN": token,
        "NEWSBOT_TELEGRAM__BASE_URL": base_url,
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_run_with_the_api_down_exits_with_one_line(tmp_path: Path) -> None:
    # Nobody listens at a free port.
    done = _newsbot_run(tmp_path, "123456:TEST-TOKEN", f"http://127.0.0.1:{free_port()}/bot")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: cannot reach the Telegram Bot API at http://127.0.0.1:")
    assert "TEST-TOKEN" not in done.stderr


def test_run_with_a_refused_token_exits_2_with_one_line(tmp_path: Path) -> None:
    with BotApiStub() as stub:
        done = _newsbot_run(tmp_path, "999:WRONG-TOKEN", stub.base_url)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "refused the token (NEWSBOT_TELEGRAM__TOKEN)" in done.stderr and "WRONG-TOKEN" not in done.stderr


def test_healthz_and_metrics_move_while_the_bot_answers(tmp_path: Path, news: SpiedService) -> None:
    port = free_port()

    def get(path: str) -> tuple[int, str]:
        return fetch(port, path)

    with BotApiStub() as stub:
        stub.faults.too_many = 1  # one 429, waited out
        settings = make_settings(tmp_path, stub, metrics_port=port)
        with bot_running(settings, news, stub):
            assert get("/healthz") == (200, "ok\n")
            _, before = get("/metrics")
            assert value(before, 'newsbot_questions_total{outcome="answered"}') == 0
            assert value(before, "newsbot_index_passages") > 0
            assert 0 <= value(before, "newsbot_index_age_seconds") < 3600
            stub.push_message(1, QUESTION)
            replies(stub, 1)
            stub.push_message(1, NOT_COVERED_QUESTION)
            replies(stub, 1, 2)
            _, after = get("/metrics")
            # The second reply is sent before the counter moves; give the handler a moment to finish.
            assert stub.wait_for(
                lambda: value(get("/metrics")[1], 'newsbot_questions_total{outcome="not_covered"}') == 1, 10
            )
            _, after = get("/metrics")
            assert value(after, 'newsbot_questions_total{outcome="answered"}') == 1
            assert value(after, 'newsbot_questions_total{outcome="failed"}') == 0
            assert value(after, "newsbot_answer_seconds_count") == 2
            assert value(after, "newsbot_telegram_retry_after_total") == 1
            assert value(after, 'newsbot_digest_deliveries_total{outcome="sent"}') == 0
            assert "# TYPE newsbot_answer_seconds histogram" in after
            with pytest.raises(urllib.error.HTTPError):
                get("/nothing")
    with pytest.raises(OSError):  # stopped with the bot
        get("/healthz")


def test_metrics_show_feed_polls_and_digest_deliveries(tmp_path: Path, embedder: Embedder) -> None:
    port = free_port()
    entry = Entry(
        "Kestrel river bridge opens to traffic",
        "https://valdoria-press.example/kestrel-bridge",
        "The new bridge over the Kestrel river opened to traffic on Tuesday.",
        datetime.now(UTC).replace(microsecond=0),
    )
    store = SubscriptionStore(tmp_path / "bot.db")
    for chat in (1, 2):
        store.subscribe(chat, "00:00", "UTC")  # already due today: delivered at start-up
    with running_server() as feeds, BotApiStub() as stub:
        stub.faults.forbidden_chats.add(2)
        feeds.routes["/feed"] = Route(rss2("Valdoria Press", [entry]))
        feed = feeds.url("/feed")
        corpus = CorpusSettings(
            paths=[], feeds=[FeedSettings(url=feed, source="Valdoria Press")], fetch_timeout_seconds=5.0
        )
        settings = make_settings(tmp_path, stub, corpus=corpus, metrics_port=port)
        service = open_core(settings, embedder)
        try:
            with bot_running(settings, service, stub):
                polled = (
                    f'newsbot_feed_last_success_timestamp_seconds{{feed="{feed}",source="Valdoria Press"}}'
                )
                assert stub.wait_for(lambda: value(fetch(port, "/metrics")[1], polled) > 0, 60)
                sent = 'newsbot_digest_deliveries_total{outcome="sent"}'
                assert stub.wait_for(lambda: value(fetch(port, "/metrics")[1], sent) == 1, 60)
                text = fetch(port, "/metrics")[1]
                assert abs(value(text, polled) - time.time()) < 120
                assert value(text, 'newsbot_digest_deliveries_total{outcome="blocked"}') == 1
                assert value(text, 'newsbot_digest_deliveries_total{outcome="failed"}') == 0
                assert value(text, "newsbot_index_passages") >= 1
        finally:
            service.close()
            store.close()
