"""The `newsbot` command line, in-process, with the real core (the model is loaded once per session)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from index.embeddings import Embedder
from tests.conftest import SAMPLES, run_cli
from tests.corpus.feed_server import Entry, Route, rss2, running_server


@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    """A data dir of its own, and the session's model instead of a fresh load."""
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("index.service.Embedder", lambda *a, **k: embedder)
    return tmp_path


def test_ingest_ask_json_and_stats(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ingest", "--quiet", str(SAMPLES)], capsys)
    assert code == 0 and "5 new" in out
    code, out, _ = run_cli(
        ["ask", "--json", "-k", "4", "What projects did Iran and Azerbaijan discuss?"], capsys
    )
    data = json.loads(out)
    assert code == 0 and data["answered"] and "Rasht–Astara" in data["answer"]
    assert len(data["passages"]) == 4
    code, out, _ = run_cli(["ingest", "--quiet", str(SAMPLES)], capsys)
    assert "0 new" in out and "embedded 0" in out
    code, out, _ = run_cli(["stats"], capsys)
    assert code == 0 and "articles: 5" in out
    assert "language en: 5 articles" in out  # the sample declares none: detected


def test_batch_answers_every_line_and_reports_bad_ones(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(["ingest", "--quiet", str(SAMPLES)], capsys)
    batch = cli_env / "q.jsonl"
    batch.write_text(
        json.dumps({"question": "Who won the 2018 World Cup?", "as_of": None})
        + "\nnot json\n"
        + json.dumps({"question": "Which city did Russia take full control of?", "as_of": "2030-01-01"})
        + "\n"
    )
    code, out, err = run_cli(["ask", "--batch", str(batch), "--json"], capsys)
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["answered"] for x in lines] == [False, True]
    assert f"{batch}:2" in err
    assert code == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask"], "give either a QUESTION or --batch"),
        (["ask", "x", "--as-of", "yesterday-ish"], "--as-of"),
        (["ingest", "/nonexistent/folder"], "no such file"),
    ],
)
def test_bad_usage_is_one_clear_line_and_exit_2(
    cli_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_setting_names_the_field(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSBOT_INDEX__TOP_K", "many")
    code, _, err = run_cli(["stats"], capsys)
    assert code == 2
    assert "index.top_k" in err


def test_feeds_list_shows_the_pages_waiting_for_a_retry(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server() as server:
        now = datetime.now(UTC).replace(microsecond=0)
        entries = [
            Entry(
                "Osk dock strike ends", server.url("/story/strike"), "Dock workers ended their strike.", now
            )
        ]
        server.routes["/briefs"] = Route(rss2("Osk Agency", entries), etag='"1"')
        server.routes["/story/strike"] = Route(
            b"<html><body><img src='/dock.jpg'></body></html>", content_type="text/html"
        )
        config = cli_env / "settings.toml"
        config.write_text(
            "[corpus]\npaths = []\nfetch_timeout_seconds = 2\n"
            f'[[corpus.feeds]]\nurl = "{server.url("/briefs")}"\n'
            'source = "Osk Agency"\nfetch_full_text = true\n'
        )
        code, out, err = run_cli(["--config", str(config), "ingest", "--feeds", "--quiet"], capsys)
        assert code == 0 and "1 new" in out and "no article text found" in err
        code, out, _ = run_cli(["--config", str(config), "feeds", "list"], capsys)
        page = server.url("/story/strike")
        assert code == 0 and "ok " in out
        assert f"page waiting for a retry in 2 polls (1 failed so far): {page}: no article text found" in out
        code, out, _ = run_cli(["--config", str(config), "feeds", "list", "--json"], capsys)
        [retry] = json.loads(out)[0]["retries"]
        assert (retry["url"], retry["attempts"], retry["wait"], retry["gave_up"]) == (page, 1, 1, False)


def _feeds_config(folder: Path, urls: list[str]) -> Path:
    config = folder / "settings.toml"
    config.write_text(
        "[corpus]\npaths = []\nfetch_timeout_seconds = 2\n"
        + "".join(f'[[corpus.feeds]]\nurl = "{url}"\nsource = "Agency {i}"\n' for i, url in enumerate(urls))
    )
    return config


def test_some_feeds_failing_is_a_partial_failure_exit_3_and_all_failing_exit_1(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_server() as server:
        now = datetime.now(UTC).replace(microsecond=0)
        entries = [
            Entry("Osk dock strike ends", server.url("/story/1"), "Dock workers ended their strike.", now)
        ]
        server.routes["/good"] = Route(rss2("Osk Agency", entries))
        broken = [server.url(f"/gone/{i}") for i in range(2)]  # 404s
        config = _feeds_config(cli_env, [server.url("/good"), *broken])
        code, out, err = run_cli(["--config", str(config), "ingest", "--feeds", "--quiet"], capsys)
        assert code == 3 and "feeds 3:" in out and "2 failed" in out and "1 new" in out
        assert all(url in err for url in broken)
        assert err.splitlines()[-1] == "partial failure: 2 of 3 feeds failed (see the warnings above)"
        config = _feeds_config(cli_env, broken)
        code, _, err = run_cli(["--config", str(config), "ingest", "--feeds", "--quiet"], capsys)
        assert code == 1 and err.splitlines()[-1] == "error: 2 of 2 feeds failed (see the warnings above)"


def test_digest_send_with_failed_deliveries_is_exit_3(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.botapi_stub import BotApiStub
    from bot.subscriptions import SubscriptionStore

    class Refusing(BotApiStub):
        """Refuses every message to chat 2 (a request Telegram will never take)."""

        def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            if method == "sendMessage" and params.get("chat_id") == 2:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is broken"}
            return super().handle(method, params)

    run_cli(["ingest", "--quiet", str(SAMPLES)], capsys)
    store = SubscriptionStore(cli_env / "data" / "bot.db")
    for chat in (1, 2, 3):
        store.subscribe(chat, "08:00", "UTC")
    store.close()
    with Refusing() as stub:
        monkeypatch.setenv("NEWSBOT_TELEGRAM__TOKEN", stub.token)
        monkeypatch.setenv("NEWSBOT_TELEGRAM__BASE_URL", stub.base_url)
        code, out, err = run_cli(["digest", "--send"], capsys)
        assert "2 sent" in out and "1 failed" in out
        assert code == 3
        assert (
            err.splitlines()[-1]
            == "partial failure: 1 of 3 digest deliveries failed (see the warnings above)"
        )
