"""End-to-end through run_bot and the stand-in, with a fake core: commands, groups, limits, splitting, digests."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from bot.subscriptions import SubscriptionStore
from corpus.errors import ConfigError, StoreError
from tests.bot.fakes import ADMIN, FakeService, make_settings
from tests.bot.harness import bot_running, replies
from tests.bot.test_formatting import assert_valid_html

pytestmark = pytest.mark.timeout(180)


def test_missing_token_fails_with_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^missing bot token: set NEWSBOT_TELEGRAM__TOKEN$"):
        run_bot(make_settings(tmp_path, None), service=FakeService())


def test_commands_groups_limits_and_followups(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service = FakeService()
    with BotApiStub() as stub:
        settings = make_settings(tmp_path, stub, tg_max_question_chars=50, tg_questions_per_minute=3)
        with bot_running(settings, service, stub):
            stub.push_message(1, "/start")
            assert "Just send me a question" in replies(stub, 1)[0]
            stub.push_message(1, "What projects did Iran and Azerbaijan discuss?")
            answer = replies(stub, 1, 2)[1]
            assert (
                "Rasht–Astara railway [1]" in answer
                and 'href="https://ilkha.example/a?x=1&amp;y=2"' in answer
            )
            stub.push_message(1, "and what about energy?")
            replies(stub, 1, 3)
            assert service.asked[-1] == (
                "and what about energy?",
                "What projects did Iran and Azerbaijan discuss?",
            )
            stub.push_message(1, "x" * 51)
            assert "too long" in replies(stub, 1, 4)[3]
            stub.push_message(1, "Is there nothing on Mars?")
            assert "Not covered" in replies(stub, 1, 5)[4]
            stub.push_message(1, "One more question about Baku?")
            assert "faster than I can read" in replies(stub, 1, 6)[5]
            stub.push_message(2, "/latest 3")
            assert replies(stub, 2)[0].count("<a href=") == 3
            stub.push_message(2, "/sources")
            assert "ILKHA</b>: 5 articles" in replies(stub, 2, 2)[1]
            # Groups: silent unless mentioned, replied to, or asked with /ask.
            stub.push_message(-100, "just chatting about Baku", user_id=3, chat_type="group")
            stub.push_message(-100, "@newsbot_test_bot what about Baku?", user_id=3, chat_type="group")
            stub.push_message(-100, "and the railway?", user_id=4, chat_type="group", reply_to_bot=True)
            stub.push_message(-100, "/ask What happened in Baku?", user_id=5, chat_type="group")
            replies(stub, -100, 3)
            time.sleep(0.5)
            assert len(stub.texts_to(-100)) == 3
            assert [q for q, _ in service.asked[-3:]] == [
                "what about Baku?",
                "and the railway?",
                "What happened in Baku?",
            ]
            typing = stub.calls_to("sendChatAction", 1)
            assert typing and typing[0].params["action"] == "typing"
    sent = stub.calls_to("sendMessage", 1)
    assert all(c.params["parse_mode"] == "HTML" for c in sent)
    assert all(c.params["link_preview_options"] == {"is_disabled": True} for c in sent)
    commands = stub.commands
    assert [c["command"] for c in commands['{"type": "default"}']][:2] == ["ask", "latest"]
    admin_menu = commands[f'{{"chat_id": {ADMIN}, "type": "chat"}}']
    assert {"reindex", "stats"} <= {c["command"] for c in admin_menu}
    assert "reindex" not in {c["command"] for c in commands['{"type": "default"}']}
    assert stub.token not in caplog.text


def test_ten_thousand_character_answer_is_split_into_valid_messages(tmp_path: Path) -> None:
    text = "\n\n".join(
        f"Paragraph {i}: " + "Iran & Azerbaijan <discussed> rail. " * 18 + "[1]" for i in range(16)
    )
    assert len(text) >= 10_000
    with (
        BotApiStub() as stub,
        bot_running(make_settings(tmp_path, stub), FakeService(answer_text=text), stub),
    ):
        stub.push_message(7, "Tell me everything about the railway talks")
        stub.wait_for(lambda: any("Sources" in t for t in stub.texts_to(7)), 30)
        parts = stub.texts_to(7)
    assert len(parts) >= 3
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= 4096
        assert_valid_html(part)
    assert "\n\n".join(parts).count("Paragraph") == 16


def test_admin_commands(tmp_path: Path) -> None:
    service = FakeService(block_reindex=True, reindex_seconds=0.5)
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), service, stub):
        stub.push_message(5, "/reindex")
        stub.push_message(5, "/stats")
        assert all("only for the bot's administrators" in t for t in replies(stub, 5, 2))
        assert not service.reindex_started.is_set()
        stub.push_message(ADMIN, "/reindex")
        assert service.reindex_started.wait(10)
        stub.push_message(ADMIN, "/reindex")
        stub.push_message(6, "What projects did Iran and Azerbaijan discuss?")
        assert "Rasht" in replies(stub, 6)[0]
        assert "already running" in replies(stub, ADMIN, 2)[1]
        stub.push_message(ADMIN, "/stats")
        stats = replies(stub, ADMIN, 3)[2]
        assert (
            "Articles: 5" in stats and "Questions answered: 1" in stats and "Subscribers: 0 active" in stats
        )
        service.release_reindex.set()
        assert stub.wait_for(
            lambda: any(
                "Reindex finished" in str(c.params.get("text"))
                for c in stub.calls_to("editMessageText", ADMIN)
            ),
            20,
        )
        edits = [str(c.params["text"]) for c in stub.calls_to("editMessageText", ADMIN)]
        assert (
            edits[0].startswith("Reindexing… embedding") and "5 articles, 9 passages, 0 errors" in edits[-1]
        )
        # A failed rebuild is reported and the bot keeps answering.
        service.reindex_error = StoreError("disk full")
        stub.push_message(ADMIN, "/reindex")
        assert stub.wait_for(
            lambda: any(
                "disk full" in str(c.params.get("text")) for c in stub.calls_to("editMessageText", ADMIN)
            ),
            20,
        )
        stub.push_message(6, "Anything else about Baku?")
        assert "Rasht" in replies(stub, 6, 2)[1]


def test_subscribe_block_unblock_and_digest(tmp_path: Path) -> None:
    with BotApiStub() as stub, bot_running(make_settings(tmp_path, stub), FakeService(), stub):
        stub.push_message(11, "/subscribe 07:30 Europe/Berlin")
        assert "every day at 07:30 (Europe/Berlin)" in replies(stub, 11)[0]
        stub.push_message(11, "/subscribe ../../etc/passwd")
        assert "don't know" in replies(stub, 11, 2)[1]
        stub.push_message(11, "/digest")
        assert "Story 1" in replies(stub, 11, 3)[2]
        stub.push_member_status(11, "member", "kicked")
        store = SubscriptionStore(tmp_path / "bot.db")
        assert stub.wait_for(lambda: not store.get(11).active, 10)  # type: ignore[union-attr]
        stub.push_member_status(11, "kicked", "member")
        assert stub.wait_for(lambda: store.get(11).active, 10)  # type: ignore[union-attr]
        stub.push_message(11, "/unsubscribe")
        assert "Unsubscribed" in replies(stub, 11, 4)[3]
        assert store.get(11) is None


def test_digest_to_200_subscribers_and_no_duplicate_after_restart(tmp_path: Path) -> None:
    store = SubscriptionStore(tmp_path / "bot.db")
    for chat in range(1, 201):
        store.subscribe(chat, "00:00", "UTC")  # already due today: delivered by the start-up catch-up
    with BotApiStub(rate_limit=30, burst=5) as stub:
        stub.faults.forbidden_chats.add(42)
        settings = make_settings(tmp_path, stub, digest_messages_per_second=60)
        with bot_running(settings, FakeService(), stub):
            assert stub.wait_for(lambda: len(stub.calls_to("sendMessage")) >= 199, 90)
            stub.push_message(500, "/subscribe 00:00 UTC")
            replies(stub, 500)
        time.sleep(0.5)
        per_chat = Counter(
            c.params["chat_id"] for c in stub.calls_to("sendMessage") if c.params["chat_id"] != 500
        )
        assert per_chat == Counter({chat: 1 for chat in range(1, 201) if chat != 42})
        assert len(stub.calls_to("sendMessage", ok_only=False)) > 201  # the stand-in did flood-limit us
        assert not store.get(42).active  # type: ignore[union-attr]
        with bot_running(settings, FakeService(), stub):
            # The restart delivers only to the new subscriber; nobody gets the day's digest twice.
            assert "Story 1" in replies(stub, 500, 2)[1]
            time.sleep(2)
        per_chat = Counter(c.params["chat_id"] for c in stub.calls_to("sendMessage"))
        assert per_chat[500] == 2 and max(per_chat.values()) == 2 and sum(per_chat.values()) == 201


def test_token_is_redacted_from_logs_and_tracebacks(tmp_path: Path) -> None:
    import io

    from bot.app import configure_logging

    token = "987654:SECRET-token"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        settings = make_settings(tmp_path, None)
        configure_logging(settings, token)
        configure_logging(settings, token)  # idempotent
        assert sum(1 for f in handler.filters if getattr(f, "token", None) == token) == 1
        logging.getLogger("telegram.ext").warning("POST https://api.telegram.org/bot%s/getMe failed", token)
        try:
            raise ValueError(f"https://api.telegram.org/bot{token}/sendMessage")
        except ValueError:
            logging.getLogger("bot").exception("boom")
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.removeHandler(handler)
    assert token not in stream.getvalue() and stream.getvalue().count("[TOKEN]") == 2
