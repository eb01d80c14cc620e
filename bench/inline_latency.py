"""Benchmark: inline queries through run_bot and the Bot API stand-in, with the real core over samples/.

Run as `python -m bench.inline_latency [--questions 10] [--models-dir data/models]`. It reports the time
from an inline query's arrival at the stand-in to the bot's answerInlineQuery for fresh questions, for the
same questions again (the answer cache), and for questions typed word by word (one query per word, no
closing "?"), with how many of those keystroke queries reached the core.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from pydantic import SecretStr

from bench.botapi_stub import BotApiStub
from bot.app import run_bot
from corpus.settings import CorpusSettings, IndexSettings, MetricsSettings, Settings, TelegramSettings
from index.llm_writer import AnswerProgress
from index.models import Answer
from index.query import Query
from index.service import NewsService

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
KEYSTROKE_SECONDS = 0.15


class CountingService(NewsService):
    """The real core, counting the questions that reach it."""

    asked = 0

    def ask(self, query: Query, on_progress: AnswerProgress | None = None) -> Answer:
        self.asked += 1
        return super().ask(query, on_progress)


def _wait_answer(stub: BotApiStub, query_id: str, timeout: float = 60.0) -> float:
    """Seconds until the bot answered the query (the stand-in records the call's arrival)."""
    stub.wait_for(lambda: stub.inline_answer(query_id) is not None, timeout)
    calls = [c for c in stub.calls_to("answerInlineQuery") if c.params.get("inline_query_id") == query_id]
    return calls[-1].at if calls else float("nan")


def _timed(stub: BotApiStub, user: int, text: str) -> float:
    started = time.monotonic()
    return _wait_answer(stub, stub.push_inline_query(user, text)) - started


def _row(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {p90:.0f} | {ms[-1]:.0f} |"


def run(questions: int, models_dir: Path | None) -> None:
    """Start the bot on the sample corpus, time the three kinds of inline queries, print the table."""
    with tempfile.TemporaryDirectory() as tmp, BotApiStub() as stub:
        settings = Settings(
            data_dir=Path(tmp),
            corpus=CorpusSettings(paths=[SAMPLES]),
            index=IndexSettings(models_dir=models_dir),
            log_level="WARNING",
            # Polling without a pause between polls, so that the figures are the bot's, not the poll's.
            telegram=TelegramSettings(
                token=SecretStr(stub.token),
                base_url=stub.base_url,
                questions_per_minute=1000,
                poll_interval_seconds=0.0,
            ),
            metrics=MetricsSettings(enabled=False),
        )
        service = CountingService.open(settings)
        assert isinstance(service, CountingService)
        service.ingest_paths([SAMPLES])
        titles = [a.title.rstrip("?.!") for a in service.latest(questions)]
        asks = [f"What happened: {title}?" for title in titles]
        stop = threading.Event()
        bot = threading.Thread(target=run_bot, args=(settings,), kwargs={"service": service, "stop": stop})
        bot.start()
        try:
            stub.wait_for(lambda: bool(stub.calls_to("getUpdates")), 60)
            fresh = [_timed(stub, 100 + i, q) for i, q in enumerate(asks)]
            cached = [_timed(stub, 200 + i, q.lower()) for i, q in enumerate(asks)]
            before, typed, keystrokes = service.asked, [], 0
            for i, title in enumerate(titles[:5]):
                words = f"Tell me more about {title}".split()  # not asked before: no cache
                ids = []
                for n in range(1, len(words) + 1):
                    ids.append(stub.push_inline_query(300 + i, " ".join(words[:n])))
                    last = time.monotonic()
                    time.sleep(KEYSTROKE_SECONDS)
                keystrokes += len(ids)
                typed.append(_wait_answer(stub, ids[-1]) - last)
            reached = service.asked - before
        finally:
            stop.set()
            bot.join(30)
            service.close()
    print("| inline query | n | median ms | p90 ms | max ms |\n| --- | --- | --- | --- | --- |")
    print(_row("fresh question (ends with ?)", fresh))
    print(_row("same question again (cache)", cached))
    print(_row("typed word by word, from the last word", typed))
    print(f"\n{keystrokes} keystroke queries of {len(typed)} typed questions reached the core {reached} times.")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(prog="bench.inline_latency", description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--models-dir", type=Path, default=None, help="exported ONNX graphs to reuse")
    args = parser.parse_args()
    run(args.questions, args.models_dir)


if __name__ == "__main__":
    main()
