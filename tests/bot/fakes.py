"""Settings builders and plain data values for the bot tests; every test that answers uses the real core."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from bench.botapi_stub import BotApiStub
from corpus.models import Article
from corpus.settings import (
    CorpusSettings,
    DigestSettings,
    IndexSettings,
    MetricsSettings,
    Settings,
    TelegramSettings,
)
from index.digest import Story
from index.models import Answer, Citation

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
ADMIN = 4242


def make_settings(
    data_dir: Path,
    stub: BotApiStub | None,
    *,
    corpus: CorpusSettings | None = None,
    index: IndexSettings | None = None,
    **overrides: object,
) -> Settings:
    """Settings pointing the bot at the stand-in, with test-friendly limits.

    Overrides named tg_X set telegram.X, digest_X digest.X and metrics_X metrics.X; corpus and index replace those sections.
    """
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
        corpus=corpus or CorpusSettings(paths=[SAMPLES]),
        index=index or IndexSettings(),
        telegram=TelegramSettings(**telegram),
        digest=DigestSettings(**digest),
        # Port 0: tests never collide with each other or with a running bot.
        metrics=MetricsSettings(
            **{"port": 0, **{k[8:]: v for k, v in overrides.items() if k.startswith("metrics_")}}
        ),
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


def sample_answer(text: str) -> Answer:
    """An answer as the core returns it, citing one article whose title and link need escaping."""
    cite = Citation(
        1,
        "d8dc",
        "Iran–Azerbaijan ties <new> phase",
        "https://ilkha.example/a?x=1&y=2",
        "ILKHA",
        datetime(2025, 12, 4, tzinfo=UTC),
        "quote",
    )
    return Answer(question="q", answered=True, text=text, citations=(cite,))


def sample_articles(n: int) -> list[Article]:
    """Stored articles without publication dates, with headlines that need escaping."""
    return [
        Article(
            id=f"a{i}", title=f"Headline {i} & more", body="b", url=f"https://x.example/{i}", source="ILKHA"
        )
        for i in range(n)
    ]
