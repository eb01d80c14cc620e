"""Two `newsbot run` processes in webhook mode behind one token, sharing PostgreSQL and one data_dir.

Every question is answered once by the replica it was posted to, an ingest by a third process is answered
by both on their next question, and /reindex works from either.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.botapi_stub import BotApiStub
from corpus.settings import Settings
from corpus.storage import Storage
from index.embeddings import Embedder
from index.generation import open_index_directory
from index.service import NewsService
from tests.bot.fakes import ADMIN, REPO, SAMPLES
from tests.bot.test_webhook import HOOK_PATH, free_port, post_update, wait_for_port

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]
QUESTION = "What projects did Iran and Azerbaijan discuss?"
FERRY = "Which towns does the new Lake Van ferry connect?"
ARTICLE = """---
title: Lake Van ferry line opens between Van and Tatvan
source: ILKHA
published_at: 2025-12-20T09:00:00Z
---
A new passenger ferry line across Lake Van connects the towns of Van and Tatvan from Saturday.
The ferry crosses the lake in four hours and carries up to 400 passengers and 60 trucks on each trip.
Regional officials said the Van–Tatvan ferry would shorten the freight route to the Iranian border.
"""


def _env(stub: BotApiStub, data_dir: Path, models_dir: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSBOT_TELEGRAM__TOKEN": stub.token,
        "NEWSBOT_TELEGRAM__BASE_URL": stub.base_url,
        "NEWSBOT_TELEGRAM__ADMIN_IDS": f"[{ADMIN}]",
        "NEWSBOT_DATA_DIR": str(data_dir),
        "NEWSBOT_STORAGE__URL": url,
        # The session's exported graph: no process exports the model again.
        "NEWSBOT_INDEX__MODELS_DIR": str(models_dir),
        "NEWSBOT_METRICS__PORT": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NEWSBOT_CONFIG": str(REPO / "settings.toml"),
    }


@contextmanager
def replicas(env: dict[str, str], ports: list[int]) -> Iterator[list[subprocess.Popen[str]]]:
    """`newsbot run` in webhook mode once per port, all with one token and one webhook URL."""
    argv = [sys.executable, "-c", "from bot.cli import main; main()", "run"]
    procs = []
    for port in ports:
        hook = {
            "NEWSBOT_TELEGRAM__MODE": "webhook",
            # Only handed to the stand-in's setWebhook; a load balancer would route it to the replicas.
            "NEWSBOT_TELEGRAM__WEBHOOK_URL": f"https://newsbot.invalid/{HOOK_PATH}",
            "NEWSBOT_TELEGRAM__WEBHOOK_PORT": str(port),
        }
        procs.append(subprocess.Popen(argv, cwd=REPO, env={**env, **hook}, stderr=subprocess.PIPE, text=True))
    try:
        yield procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]


def _replies(stub: BotApiStub, chat: int, count: int = 1, timeout: float = 120) -> list[str]:
    stub.wait_for(lambda: len(stub.texts_to(chat)) >= count, timeout)
    return stub.texts_to(chat)


def _reindex_finished(stub: BotApiStub, port: int, update_id: int, secret: str) -> bool:
    """Send /reindex to one replica and wait for its final report (an edit of the status message)."""
    before = len(stub.calls_to("editMessageText", ADMIN))
    assert post_update(port, {"update_id": update_id, **stub.message_update(ADMIN, "/reindex")}, secret) == 200

    def finished() -> bool:
        edits = stub.calls_to("editMessageText", ADMIN)[before:]
        return any("Reindex finished" in str(c.params.get("text", "")) for c in edits)

    return stub.wait_for(finished, 180)


def test_two_webhook_replicas_share_postgres(
    tmp_path: Path, pg_url: str, models_dir: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "shared"
    settings = Settings(data_dir=data_dir, storage={"url": pg_url})  # type: ignore[arg-type]
    service = NewsService.open(settings, embedder=embedder)
    service.ingest_paths([SAMPLES])
    service.close()
    index_dir = open_index_directory(Storage.from_settings(settings), settings)
    ports = [free_port(), free_port()]
    with BotApiStub() as stub, replicas(_env(stub, data_dir, models_dir, pg_url), ports) as procs:
        env = _env(stub, data_dir, models_dir, pg_url)
        alive = lambda: all(p.poll() is None for p in procs)  # noqa: E731
        assert stub.wait_for(lambda: len(stub.calls_to("setWebhook")) >= 2 or not alive(), 180), "no setWebhook"
        for port in ports:
            assert wait_for_port(port, 120, give_up=lambda: not alive()), f"replica on {port} is not listening"
        secret = hashlib.sha256(stub.token.encode()).hexdigest()[:32]
        assert not stub.calls_to("getUpdates"), "webhook replicas must not poll"

        # N questions from N chats, split across the two webhooks as a load balancer would.
        chats = list(range(5001, 5011))
        for update_id, chat in enumerate(chats, start=1):
            update = {"update_id": update_id, **stub.message_update(chat, QUESTION)}
            assert post_update(ports[update_id % 2], update, secret) == 200
        assert stub.wait_for(lambda: all(stub.texts_to(c) for c in chats), 180)
        time.sleep(1.0)  # a duplicate answer would arrive about as fast as the first
        for chat in chats:
            texts = stub.texts_to(chat)
            assert len(texts) == 1, f"chat {chat} got {len(texts)} answers"
            assert "Rasht–Astara railway" in texts[0]

        # A third process ingests; both replicas answer from it on their next question.
        article = tmp_path / "ferry.md"
        article.write_text(ARTICLE, encoding="utf-8")
        argv = [sys.executable, "-c", "from bot.cli import main; main()", "ingest", str(article), "--quiet"]
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        for i, port in enumerate(ports):
            chat = 6001 + i
            assert post_update(port, {"update_id": 100 + i, **stub.message_update(chat, FERRY)}, secret) == 200
            answer = _replies(stub, chat)[0]
            assert "Tatvan" in answer and "[1]" in answer, answer

        # /reindex from either replica; the other then answers from the new generation.
        for i, port in enumerate(ports):
            serving = index_dir.current_name()
            assert _reindex_finished(stub, port, 200 + i, secret), f"/reindex on replica {i} did not finish"
            assert index_dir.current_name() not in (None, serving), "the reindex swapped in no new generation"
            other = ports[1 - i]
            chat = 7001 + i
            assert post_update(other, {"update_id": 300 + i, **stub.message_update(chat, FERRY)}, secret) == 200
            assert "Tatvan" in _replies(stub, chat)[0]
        assert alive()
    index_dir.close()
