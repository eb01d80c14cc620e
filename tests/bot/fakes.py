"""A fake core service and settings helpers for the bot tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import SecretStr

from bench.botapi_stub import BotApiStub
from bot.context import Progress
from corpus.errors import NewsbotError
from corpus.models import Article
from corpus.settings import CorpusSettings, DigestSettings, Settings, TelegramSettings
from index.digest import Digest, Story
from index.models import Answer, Citation, IndexStats, IngestReport

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ADMIN = 4242


def make_settings(data_dir: Path, stub: BotApiStub | None, **overrides: object) -> Settings:
    """Settings pointing the bot at the stand-in, with test-friendly limits."""
    telegram = {
        "token": SecretStr(stub.token) if stub else None,
        "base_url": stub.base_url if stub else None,
        "admin_ids": [ADMIN],
        "poll_interval_seconds": 0.0,
        **{k[3:]: v for k, v in overrides.items() if k.startswith("tg_")},
    }
    digest = {k[7:]: v for k, v in overrides.items() if k.startswith("digest_")}
    return Settings(
        data_dir=data_dir,
        corpus=CorpusSettings(paths=[SAMPLES]),
        telegram=TelegramSettings(**telegram),
        digest=DigestSettings(**digest),
    )


def story(n: int) -> Story:
    """A digest story with characters that need escaping."""
    return Story(
        title=f"Story {n} <b>& co</b>",
        summary=f"Summary sentence {n} about R&D.",
        url=f"https://news.example/{n}?a=1&b=2",
        source="ILKHA",
        published_at=datetime(2025, 12, 4, tzinfo=UTC),
        article_ids=(f"a{n}",),
    )


@dataclass
class FakeService:
    """Implements the NewsCore protocol with canned answers; records what it was asked."""

    answer_text: str = "The talks covered the Rasht–Astara railway [1]."
    stories: tuple[Story, ...] = (story(1), story(2))
    day: date = field(default_factory=lambda: datetime.now(UTC).date())
    reindex_seconds: float = 0.0
    reindex_error: NewsbotError | None = None
    block_reindex: bool = False
    asked: list[tuple[str, str | None]] = field(default_factory=list)
    questions: int = 0
    reindex_started: threading.Event = field(default_factory=threading.Event)
    release_reindex: threading.Event = field(default_factory=threading.Event)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        as_of: datetime | None = None,
        context: str | None = None,
    ) -> Answer:
        self.asked.append((question, context))
        if "nothing" in question:
            return Answer(question=question, answered=False, text="The indexed news does not cover this.")
        cite = Citation(
            1,
            "d8dc",
            "Iran–Azerbaijan ties <new> phase",
            "https://ilkha.example/a?x=1&y=2",
            "ILKHA",
            datetime(2025, 12, 4, tzinfo=UTC),
            "quote",
        )
        return Answer(question=question, answered=True, text=self.answer_text, citations=(cite,))

    def reindex(self, progress: Progress | None = None) -> IngestReport:
        self.reindex_started.set()
        for i in range(5):
            if progress:
                progress("embedding", i, 5)
            time.sleep(self.reindex_seconds / 5)
        if self.block_reindex:
            self.release_reindex.wait(30)
        if self.reindex_error:
            raise self.reindex_error
        return IngestReport(articles_seen=5, passages_indexed=9, seconds=1.5)

    def stats(self) -> IndexStats:
        return IndexStats(
            articles=5,
            passages=9,
            vectors=9,
            sources=(("ILKHA", 5, None, None),),
            model="m",
            mode="hybrid",
            embeddings_computed_total=9,
            embeddings_cached=9,
            last_ingest=None,
            last_reindex="2025-12-04T08:00:00+00:00",
            questions_answered=self.questions,
        )

    def latest(self, n: int) -> list[Article]:
        return [
            Article(
                id=f"a{i}",
                title=f"Headline {i} & more",
                body="b",
                url=f"https://x.example/{i}",
                source="ILKHA",
            )
            for i in range(n)
        ]

    def record_question(self) -> None:
        self.questions += 1

    def digest(self, as_of: datetime | None = None) -> Digest:
        now = datetime.now(UTC)
        return Digest(date=self.day, since=now, until=now, stories=self.stories)

    def close(self) -> None:
        pass
