"""With `[answer] writer = "llm"` the bot streams the checked answer into one message, edits throttled.

Real bot (run_bot), real core over the sample corpus; the Telegram Bot API and the model's server are the
stand-ins on 127.0.0.1 (the model's streams its reply slowly, as a CPU model writes).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.botapi_stub import BotApiStub
from bot.formatting import answer_html
from bot.streaming import EDIT_INTERVAL, GROWING
from corpus.settings import AnswerSettings, CorpusSettings, Settings
from index.embeddings import Embedder
from index.query import Query
from index.service import NewsService
from tests.bot.fakes import SAMPLES, make_settings
from tests.bot.harness import bot_running
from tests.chat_standin import running_standin

pytestmark = pytest.mark.timeout(240)

QUESTION = "What projects did Iran and Azerbaijan discuss?"
# No [n] markers, as small local models often write: the check attaches the passage that holds each one.
RAILWAY = "Iran and Azerbaijan discussed the construction of the Rasht–Astara railway and the Aghband–Kalalah bridge."
MADE_UP = "The talks were held in Moscow with Vladimir Putin."
BORDER = "They also discussed easing border and customs procedures for passenger and cargo traffic."
OIL = "Cooperation on exploiting joint oil and gas fields in the Caspian Sea was discussed as well."
CHAT = 7


def test_an_llm_answer_grows_in_one_message_edited_at_most_every_interval(
    tmp_path: Path, embedder: Embedder
) -> None:
    with running_standin() as model, BotApiStub() as stub:
        model.reply = f"{RAILWAY} {MADE_UP} {BORDER} {OIL}"
        model.piece_delay = 0.08  # ~4 s for the whole reply
        answer = AnswerSettings(writer="llm", base_url=model.base_url, timeout_seconds=60)
        service = NewsService(
            Settings(data_dir=tmp_path / "data", corpus=CorpusSettings(paths=[SAMPLES]), answer=answer),
            embedder,
        )
        try:
            service.ingest_paths([SAMPLES])
            bot_settings = make_settings(tmp_path / "bot", stub).model_copy(update={"answer": answer})

            def final_shown() -> bool:
                return any(
                    "Sources" in c.params["text"] and GROWING not in c.params["text"]
                    for c in stub.calls_to("editMessageText", CHAT) + stub.calls_to("sendMessage", CHAT)
                )

            with bot_running(bot_settings, service, stub):
                stub.push_message(CHAT, QUESTION)
                assert stub.wait_for(final_shown, 60)
            expected = answer_html(service.ask(Query(QUESTION)))
        finally:
            service.close()

    sends = stub.calls_to("sendMessage", CHAT)
    edits = stub.calls_to("editMessageText", CHAT)
    # One message, sent with the first checked sentence and edited as the answer grew.
    assert len(sends) == 1 and edits
    assert sends[0].params["text"].startswith(f"{RAILWAY[:-1]} [1].{GROWING}\n")
    assert len({e.params["message_id"] for e in edits}) == 1
    assert edits[-1].params["text"] == expected
    assert expected.startswith(f"{RAILWAY[:-1]} [1]. {BORDER[:-1]} [1]. {OIL[:-1]} [1].")
    timeline = sorted(c.at for c in sends + edits)
    gaps = [b - a for a, b in zip(timeline, timeline[1:], strict=False)]
    assert min(gaps) >= EDIT_INTERVAL - 0.05, gaps
    # The made-up sentence never showed, not even in a partial answer.
    assert all("Moscow" not in c.params["text"] for c in sends + edits)
