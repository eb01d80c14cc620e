"""Feed entries that used to be lost or garbled (issue 12): shared links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from corpus.feeds import poll_feeds
from corpus.settings import FeedSettings
from tests.corpus.feed_server import Entry, Route, StoreIngest, para, rss2, running_server, settings_for

NOW = datetime.now(UTC).replace(microsecond=0)


def item(title: str, link: str, description: str, pub_date: str) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><description>{description}</description>"
        f"<pubDate>{pub_date}</pubDate></item>"
    )


def channel(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Osk Agency</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{''.join(items)}</channel></rss>"
    ).encode()


def test_two_sources_sharing_a_link_keep_their_own_article(tmp_path: Path) -> None:
    with running_server() as server:
        link = server.url("/news/strike")
        # No validators: every poll downloads and ingests both feeds again.
        server.routes["/agency"] = Route(
            rss2(
                "Osk Agency",
                [Entry("Osk dock strike ends", link, "s", NOW, content=para("The dock strike", 3))],
            )
        )
        server.routes["/digest"] = Route(
            rss2(
                "Harbour Digest", [Entry("Digest: strikes", link, "Port strikes ended in Osk and Varn.", NOW)]
            )
        )
        feeds = [
            FeedSettings(url=server.url("/agency"), source="Osk Agency"),
            FeedSettings(url=server.url("/digest"), source="Harbour Digest"),
        ]
        config = settings_for(tmp_path, feeds)
        ingest = StoreIngest(config)
        expected = {
            "Osk Agency": ("Osk dock strike ends", "The dock strike was the subject of paragraph 3"),
            "Harbour Digest": ("Digest: strikes", "Port strikes ended in Osk and Varn."),
        }
        for n in range(3):
            report = poll_feeds(config, ingest)
            assert report.fetched == 2 and report.articles_new == (2 if n == 0 else 0)
            assert report.articles_updated == 0
            stored = {a.source: a for a in ingest.store.iter_articles()}
            assert set(stored) == set(expected) and all(a.url == link for a in stored.values())
            for source, (title, text) in expected.items():
                assert stored[source].title == title and text in stored[source].body


def test_a_near_copy_of_another_sources_article_under_its_link_does_not_take_it_over(tmp_path: Path) -> None:
    story = para("The dock strike", 4)
    with running_server() as server:
        link = server.url("/news/strike")
        server.routes["/agency"] = Route(
            rss2(
                "Osk Agency",
                [Entry("Osk dock strike ends", link, "s", NOW - timedelta(hours=1), content=story)],
            )
        )
        copied = story.replace("residents", "locals", 1)
        server.routes["/digest"] = Route(
            rss2("Harbour Digest", [Entry("Osk dock strike ends", link, "s", NOW, content=copied)])
        )
        agency = FeedSettings(url=server.url("/agency"), source="Osk Agency")
        digest = FeedSettings(url=server.url("/digest"), source="Harbour Digest")
        config = settings_for(tmp_path, [agency, digest])
        ingest = StoreIngest(config)
        poll_feeds(config, ingest, feeds=[agency])
        for _ in range(2):
            poll_feeds(config, ingest, feeds=[digest])
            report = poll_feeds(config, ingest, feeds=[agency])
            assert report.articles_updated == 0 and report.articles_new == 0
            [stored] = ingest.store.iter_articles()
            assert stored.source == "Osk Agency" and "residents" in stored.body
