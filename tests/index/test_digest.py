"""Tests of the daily digest with the real embedding model: merging, ranking, summaries and the time window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from corpus.models import Article
from corpus.settings import DigestSettings
from corpus.store import ArticleStore
from index.digest import body_sentences, build_digest, for_reader, rank_stories, summary_sentence
from index.embeddings import Embedder

AS_OF = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)

FLOOD_BODY = (
    "Heavy rain caused the Danube to burst its banks in Vienna on Monday, flooding hundreds of homes. "
    "Emergency services evacuated more than 2,000 residents from low-lying districts overnight. "
    "The city's mayor said the water level was the highest recorded since 2002. "
    "Forecasters expect the rain to ease by Wednesday, but warned that rivers would stay high."
)
BANK_BODY = (
    "The central bank raised its main interest rate by a quarter of a point to 4.5% on Monday. "
    "Policymakers said inflation remained too high and that further increases could not be ruled out. "
    "Mortgage lenders are expected to pass the rise on to borrowers within weeks. "
    "Shares in house builders fell sharply after the announcement."
)
FOOTBALL_BODY = (
    "Arsenal beat Chelsea 3-1 at the Emirates Stadium on Sunday to move top of the Premier League. "
    "Bukayo Saka scored twice in the first half before Chelsea pulled a goal back after the break. "
    "Martin Odegaard sealed the win with a late free kick. "
    "The result leaves Chelsea ninth in the table with ten games remaining."
)
PHONE_BODY = (
    "The technology company unveiled a new smartphone with a folding screen at an event in California. "
    "The device will go on sale in September at a price of 1,799 dollars. "
    "Analysts said the high price could limit demand outside wealthy markets. "
    "The company also announced a cheaper model aimed at students."
)


def article(
    ident: str,
    title: str,
    body: str,
    hours_ago: float | None,
    source: str | None = "Agency A",
    fetched_hours_ago: float | None = None,
) -> Article:
    """An article published (or, without a date, fetched) some hours before AS_OF."""
    return Article(
        id=ident,
        title=title,
        body=body,
        url=f"https://news.example/{ident}",
        source=source,
        published_at=AS_OF - timedelta(hours=hours_ago) if hours_ago is not None else None,
        fetched_at=AS_OF - timedelta(hours=fetched_hours_ago) if fetched_hours_ago is not None else None,
    )


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    """An empty article store in a temporary directory."""
    s = ArticleStore(tmp_path / "articles.db")
    yield s
    s.close()


def test_republished_versions_merge_into_one_story_led_by_the_newest(embedder: Embedder) -> None:
    first = article("flood-1", "Danube floods hundreds of homes in Vienna", FLOOD_BODY, hours_ago=6)
    edited = article(
        "flood-2",
        "Danube floods hundreds of homes in Vienna",
        FLOOD_BODY.replace("more than 2,000", "about 2,500").replace("Monday", "Monday night"),
        hours_ago=2,
    )
    bank = article("bank-1", "Central bank raises interest rate to 4.5%", BANK_BODY, hours_ago=3)

    stories = rank_stories([first, edited, bank], embedder, max_stories=10)

    assert len(stories) == 2
    flood = next(s for s in stories if "flood-1" in s.article_ids)
    assert set(flood.article_ids) == {"flood-1", "flood-2"}
    # The newer, corrected version represents the story.
    assert flood.article_ids[0] == "flood-2"
    assert flood.url == "https://news.example/flood-2"
    assert flood.published_at == AS_OF - timedelta(hours=2)
    assert next(s for s in stories if s is not flood).article_ids == ("bank-1",)


def test_different_stories_on_the_same_topic_stay_apart(embedder: Embedder) -> None:
    arsenal = article("fb-1", "Arsenal beat Chelsea to go top", FOOTBALL_BODY, hours_ago=5)
    other = article(
        "fb-2",
        "Liverpool held to a draw by Everton",
        "Liverpool were held to a goalless draw by Everton at Anfield on Saturday. "
        "Mohamed Salah hit the post twice as the home side dominated possession. "
        "The draw means Liverpool drop to third place.",
        hours_ago=4,
    )
    stories = rank_stories([arsenal, other], embedder, max_stories=10)
    assert sorted(s.article_ids for s in stories) == [("fb-1",), ("fb-2",)]


def test_story_covered_by_more_agencies_ranks_first(embedder: Embedder) -> None:
    flood_title = "Danube floods hundreds of homes in Vienna"
    covered = [
        article("flood-a", flood_title, FLOOD_BODY, hours_ago=20, source="Agency A"),
        article(
            "flood-b",
            "Vienna homes flooded as Danube bursts its banks",
            FLOOD_BODY.replace("Heavy rain caused", "Torrential rain caused"),
            hours_ago=19,
            source="Agency B",
        ),
        article(
            "flood-c",
            flood_title,
            FLOOD_BODY.replace("hundreds of homes", "about 400 homes"),
            hours_ago=18,
            source="Agency C",
        ),
    ]
    # The single-agency stories are fresher and longer, yet one agency's coverage is the weaker signal.
    singles = [
        article(
            "bank-1", "Central bank raises interest rate to 4.5%", BANK_BODY + " " + BANK_BODY, 1, "Agency A"
        ),
        article("phone-1", "Folding smartphone unveiled", PHONE_BODY + " " + PHONE_BODY, 2, "Agency B"),
        article("fb-1", "Arsenal beat Chelsea to go top", FOOTBALL_BODY, 3, "Agency C"),
    ]

    stories = rank_stories(singles + covered, embedder, max_stories=10)

    assert len(stories) == 4
    assert set(stories[0].article_ids) == {"flood-a", "flood-b", "flood-c"}
    assert all(len(s.article_ids) == 1 for s in stories[1:])


def test_max_stories_keeps_only_the_top(embedder: Embedder) -> None:
    arts = [
        article("bank-1", "Central bank raises interest rate", BANK_BODY, 1),
        article("phone-1", "Folding smartphone unveiled", PHONE_BODY, 2),
        article("fb-1", "Arsenal beat Chelsea to go top", FOOTBALL_BODY, 3),
    ]
    assert len(rank_stories(arts, embedder, max_stories=2)) == 2
    assert rank_stories([], embedder, max_stories=5) == []


def test_summary_is_a_real_sentence_of_the_body(embedder: Embedder) -> None:
    art = article("bank-1", "Central bank raises interest rate to 4.5%", BANK_BODY, 1)
    summary = summary_sentence(art, embedder)
    assert summary in body_sentences(art.body)
    assert summary in art.body
    assert summary != art.title
    # For a classic inverted-pyramid article the lead is the best summary.
    assert summary.startswith("The central bank raised its main interest rate")
    story = rank_stories([art], embedder, max_stories=1)[0]
    assert story.summary == summary
    assert story.title == art.title


def test_summary_skips_a_repeated_headline_and_short_fragments() -> None:
    art = article(
        "x",
        "Danube floods hundreds of homes in Vienna",
        "Danube floods hundreds of homes in Vienna\nVIENNA (Reuters).\n" + FLOOD_BODY,
        1,
    )
    assert summary_sentence(art) == body_sentences(FLOOD_BODY)[0]
    assert summary_sentence(article("y", "Empty", "", 1)) == ""


def test_digest_counts_only_the_window(store: ArticleStore, embedder: Embedder) -> None:
    store.upsert(
        [
            article("bank-1", "Central bank raises interest rate to 4.5%", BANK_BODY, hours_ago=1),
            article("fb-1", "Arsenal beat Chelsea to go top", FOOTBALL_BODY, hours_ago=23.5),
            article("flood-1", "Danube floods hundreds of homes in Vienna", FLOOD_BODY, hours_ago=25),
            article("phone-1", "Folding smartphone unveiled", PHONE_BODY, hours_ago=-2),
            # Undated: its fetch time decides.
            article("undated-in", "Folding phone goes on sale", PHONE_BODY, None, fetched_hours_ago=3),
        ]
    )

    digest = build_digest(store, embedder, DigestSettings(), as_of=AS_OF)

    assert digest.until == AS_OF
    assert digest.since == AS_OF - timedelta(hours=24)
    assert digest.date == date(2024, 5, 14)
    ids = {i for s in digest.stories for i in s.article_ids}
    assert ids == {"bank-1", "fb-1", "undated-in"}
    for story in digest.stories:
        source = store.get(story.article_ids[0])
        assert source is not None and story.summary in source.body

    short = build_digest(store, embedder, DigestSettings(hours=2), as_of=AS_OF)
    assert [s.article_ids for s in short.stories] == [("bank-1",)]


def test_empty_window_gives_an_empty_digest(store: ArticleStore, embedder: Embedder) -> None:
    store.upsert([article("flood-1", "Danube floods homes", FLOOD_BODY, hours_ago=48)])
    digest = build_digest(store, embedder, DigestSettings(max_stories=5), as_of=AS_OF)
    assert digest.stories == ()
    assert digest.since == AS_OF - timedelta(hours=24)
    assert build_digest(store, embedder, DigestSettings(), as_of=AS_OF - timedelta(days=30)).stories == ()


def test_digest_date_follows_the_subscribers_timezone(store: ArticleStore, embedder: Embedder) -> None:
    late = datetime(2024, 5, 14, 23, 0, tzinfo=UTC)
    assert build_digest(store, embedder, DigestSettings(timezone="Asia/Tokyo"), as_of=late).date == date(
        2024, 5, 15
    )
    naive = build_digest(store, embedder, DigestSettings(), as_of=datetime(2024, 5, 14, 8, 0))
    assert naive.until == AS_OF


QUAKE_TR = (
    "Malatya'da sabah saatlerinde 5,2 büyüklüğünde bir deprem meydana geldi ve vatandaşlar sokağa döküldü. "
    "AFAD, depremin yerin yaklaşık yedi kilometre derinliğinde gerçekleştiğini açıkladı. "
    "Yetkililer ilk belirlemelere göre can kaybı olmadığını, bazı eski binalarda hasar bulunduğunu söyledi. "
    "Ekipler hasar tespit çalışmalarını sürdürüyor."
)
HARVEST_TR = (
    "Şanlıurfa'da pamuk hasadı bu yıl erken başladı ve çiftçiler rekor verim beklediklerini söyledi. "
    "Ziraat odası başkanı, sulama kanallarının tamamlanmasının üretimi önemli ölçüde artırdığını belirtti. "
    "Hasatta çalışan mevsimlik işçilerin sayısı geçen yıla göre yüzde yirmi arttı. "
    "Pamuk fiyatlarının ise bu hafta borsada yükselmesi bekleniyor."
)


def test_each_language_gets_its_own_stories_first(store: ArticleStore, embedder: Embedder) -> None:
    english = [
        replace(article("bank-1", "Central bank raises interest rate to 4.5%", BANK_BODY, 1), language="en"),
        replace(article("fb-1", "Arsenal beat Chelsea to go top", FOOTBALL_BODY, 2), language="en"),
    ]
    turkish = [
        replace(article("quake-tr", "Malatya'da 5,2 büyüklüğünde deprem", QUAKE_TR, 3), language="tr"),
        replace(article("harvest-tr", "Şanlıurfa'da pamuk hasadı erken başladı", HARVEST_TR, 4), language="tr"),
    ]
    store.upsert(english + turkish)

    digest = build_digest(store, embedder, DigestSettings(max_stories=1), as_of=AS_OF)
    assert len(digest.stories) == 1 and len(digest.more) == 1  # the other language's best story
    assert {digest.stories[0].language, digest.more[0].language} == {"en", "tr"}
    for language in ("en", "tr"):
        mine = for_reader(digest, language)
        assert [s.language for s in mine.stories] == [language] and mine.more == ()
    assert for_reader(digest, None) == digest

    full = build_digest(store, embedder, DigestSettings(max_stories=4), as_of=AS_OF)
    assert full.more == () and len(full.stories) == 4
    turkish_first = for_reader(full, "tr").stories
    assert [s.language for s in turkish_first] == ["tr", "tr", "en", "en"]
    # Within each language the order of importance stays.
    assert [s for s in turkish_first if s.language == "en"] == [s for s in full.stories if s.language == "en"]
    assert for_reader(full, "ku").stories == full.stories  # no story in the language: as ranked
