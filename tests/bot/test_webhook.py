"""Webhook mode: run_bot serves updates POSTed to it on 127.0.0.1 and refuses ones without the secret."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from index.service import NewsService
from tests.bot.fakes import make_settings
from tests.bot.harness import replies

pytestmark = pytest.mark.timeout(300)
HOOK_PATH = "hook/newsbot"
QUESTION = "What projects did Iran and Azerbaijan discuss?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, give_up: Callable[[], bool]) -> bool:
    """Whether 127.0.0.1:port accepts connections before the deadline (or before give_up() is true)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not give_up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def post_update(port: int, update: dict[str, object], secret: str | None) -> int:
    """POST one update to the bot's webhook as Telegram would; returns the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{HOOK_PATH}", data=json.dumps(update).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_webhook_answers_updates_and_refuses_forged_ones(tmp_path: Path, sample_service: NewsService) -> None:
    port = free_port()
    with BotApiStub() as stub:
        settings = make_settings(
            tmp_path,
            stub,
            tg_mode="webhook",
            # Only handed to the stand-in's setWebhook; nothing is ever sent to this address.
            tg_webhook_url=f"https://newsbot.invalid/{HOOK_PATH}",
            tg_webhook_listen="127.0.0.1",
            tg_webhook_port=port,
        )
        stop = threading.Event()
        errors: list[BaseException] = []

        def target() -> None:
            try:
                run_bot(settings, service=sample_service, stop=stop)
            except BaseException as exc:  # handed to the test thread below
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            # python-telegram-bot calls setWebhook before its server listens: wait for the port as well.
            assert stub.wait_for(lambda: bool(stub.calls_to("setWebhook")) or bool(errors), 60), errors
            assert wait_for_port(port, 60, give_up=lambda: bool(errors)), f"not listening: {errors}"
            assert not errors, errors
            hook = stub.calls_to("setWebhook")[0].params
            assert hook["url"] == f"https://newsbot.invalid/{HOOK_PATH}"
            secret = hashlib.sha256(stub.token.encode()).hexdigest()[:32]
            assert hook["secret_token"] == secret
            assert not stub.calls_to("getUpdates"), "webhook mode must not poll"

            forged = {"update_id": 1, **stub.message_update(2002, QUESTION)}
            assert post_update(port, forged, "wrong-secret") == 403
            assert post_update(port, forged, None) == 403

            update = {"update_id": 2, **stub.message_update(2001, QUESTION)}
            assert post_update(port, update, secret) == 200
            answer = replies(stub, 2001)[0]
            assert "Rasht–Astara railway" in answer and "[1]" in answer
            assert not stub.texts_to(2002), "a forged update was answered"
        finally:
            stop.set()
            thread.join(30)
        assert not thread.is_alive(), "the bot did not stop"
        assert not errors, errors
