"""End-to-end with the real core on the bundled samples: cited answers, reindex during questions, a real run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.botapi_stub import BotApiStub
from bot.context import Progress
from bot.subscriptions import SubscriptionStore
from corpus.ingest import IngestReport
from corpus.settings import Settings
from index.embeddings import Embedder
from index.service import NewsService
from tests.bot.fakes import ADMIN, REPO, SAMPLES, make_settings
from tests.bot.harness import bot_running, replies

pytestmark = pytest.mark.timeout(300)
QUESTION = "What projects did Iran and Azerbaijan discuss?"


@pytest.fixture(scope="module")
def core_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("core")


@pytest.fixture(scope="module")
def service(core_dir: Path, embedder: Embedder) -> Iterator[NewsService]:
    """The real service on the session's model, with the sample corpus ingested."""
    svc = NewsService.open(Settings(data_dir=core_dir), embedder=embedder)
    svc.ingest_paths([SAMPLES])
    yield svc
    svc.close()


class GatedReindex:
    """The real service whose rebuild pauses at its first progress report until released."""

    def __init__(self, service: NewsService) -> None:
        self.service = service
        self.paused = threading.Event()
        self.release = threading.Event()

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        def gate(stage: str, done: int, total: int) -> None:
            if not self.paused.is_set():
                self.paused.set()
                self.release.wait(60)
            if progress:
                progress(stage, done, total)

        return self.service.reindex(gate)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


def test_question_is_answered_with_citation_and_followup(tmp_path: Path, service: NewsService) -> None:
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), service, stub):
        stub.push_message(1001, QUESTION)
        answer = replies(stub, 1001)[0]
        assert "Rasht–Astara railway" in answer and "[1]" in answer
        assert "<b>Sources</b>\n[1] Iran–Azerbaijan ties enter new phase" in answer and "ILKHA" in answer
        stub.push_message(1001, "and what about energy?")
        assert "energy" in replies(stub, 1001, 2)[1].lower()
        stub.push_message(1001, "Who won the 1930 football world cup in Uruguay?")
        assert "does not cover" in replies(stub, 1001, 3)[2]


def test_reindex_runs_while_questions_are_answered(tmp_path: Path, service: NewsService) -> None:
    gated = GatedReindex(service)
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), gated, stub):
        stub.push_message(1002, "/reindex")
        assert "only for the bot's administrators" in replies(stub, 1002)[0]
        stub.push_message(ADMIN, "/reindex")
        assert gated.paused.wait(30), "the rebuild never started"
        stub.push_message(1003, QUESTION)
        assert "Rasht–Astara railway" in replies(stub, 1003)[0]
        stub.push_message(ADMIN, "/reindex")
        assert "already running" in replies(stub, ADMIN, 2)[1]
        gated.release.set()
        assert stub.wait_for(
            lambda: any(
                "Reindex finished" in str(c.params.get("text"))
                for c in stub.calls_to("editMessageText", ADMIN)
            ),
            60,
        )
        final = str(stub.calls_to("editMessageText", ADMIN)[-1].params["text"])
        assert "5 articles" in final and "0 errors" in final
        stub.push_message(ADMIN, "/stats")
        assert "Articles: 5" in replies(stub, ADMIN, 3)[2]
        stub.push_message(1003, QUESTION)
        assert "Rasht–Astara railway" in replies(stub, 1003, 2)[1]


def test_real_digest_reaches_subscribers(tmp_path: Path, service: NewsService) -> None:
    if not hasattr(service, "digest"):
        pytest.skip("index.service.NewsService.digest is not there yet")
    store = SubscriptionStore(tmp_path / "bot.db")
    chats = range(1, 21)
    for chat in chats:
        store.subscribe(chat, "00:00", "UTC")
    day = service.digest().date
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), service, stub):
        assert stub.wait_for(lambda: all(stub.texts_to(c) for c in chats) and not store.pending(day), 60)
    assert "Iran" in stub.texts_to(1)[0]


def test_newsbot_run_process_answers_and_keeps_token_out_of_logs(
    tmp_path: Path, core_dir: Path, models_dir: Path, service: NewsService
) -> None:
    with BotApiStub() as stub:
        env = {
            **os.environ,
            "NEWSBOT_TELEGRAM__TOKEN": stub.token,
            "NEWSBOT_TELEGRAM__BASE_URL": stub.base_url,
            "NEWSBOT_DATA_DIR": str(core_dir),
            # The session's exported graph: the process need not export the model again.
            "NEWSBOT_INDEX__MODELS_DIR": str(models_dir),
            "NEWSBOT_LOG_LEVEL": "DEBUG",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "NEWSBOT_CONFIG": str(REPO / "settings.toml"),
        }
        # Exactly `newsbot run`: the console script is bot.cli:main.
        argv = [sys.executable, "-c", "from bot.cli import main; main()", "run"]
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert stub.wait_for(lambda: bool(stub.calls_to("getUpdates")) or proc.poll() is not None, 120)
            stub.push_message(1004, QUESTION)
            assert "Rasht–Astara railway" in replies(stub, 1004)[0]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "sendMessage" in err or "Application started" in err
    assert stub.token not in err
