"""Run the real bot entry point (bot.app.run_bot) in a thread against the Bot API stand-in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from bot.context import NewsCore
from corpus.settings import Settings


@contextmanager
def bot_running(settings: Settings, service: NewsCore, stub: BotApiStub) -> Iterator[None]:
    """Start run_bot, wait until it polls, yield, then stop it and re-raise whatever it raised."""
    stop = threading.Event()
    errors: list[BaseException] = []
    polls_before = len(stub.calls_to("getUpdates"))

    def target() -> None:
        try:
            run_bot(settings, service=service, stop=stop)
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="newsbot", daemon=True)
    thread.start()
    try:
        started = stub.wait_for(lambda: len(stub.calls_to("getUpdates")) > polls_before or bool(errors), 60)
        if errors:
            raise errors[0]
        assert started, "the bot never polled for updates"
        yield
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the bot did not stop"
    if errors:
        raise errors[0]


def replies(stub: BotApiStub, chat_id: int, count: int = 1, timeout: float = 60.0) -> list[str]:
    """Wait until at least `count` messages went to a chat and return their texts."""
    stub.wait_for(lambda: len(stub.texts_to(chat_id)) >= count, timeout)
    texts = stub.texts_to(chat_id)
    assert len(texts) >= count, f"expected {count} messages to {chat_id}, got {texts}"
    return texts
