"""Feed entries that used to be lost or garbled (issue 12): impossible dates, shared links, cut-off feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.feeds import feed_stats, poll_feeds
from corpus.settings import FeedSettings
from tests.corpus.feed_server import (
    Entry,
    Route,
    StoreIngest,
    article_at,
    para,
    rss2,
    running_server,
    settings_for,
    stored_articles,
)

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


@pytest.mark.parametrize("bad_date", ["Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"])
def test_an_impossible_date_costs_the_entry_its_date_not_the_feed(tmp_path: Path, bad_date: str) -> None:
    with running_server() as server:
        good = item(
            "Ferry fares rise",
            server.url("/a/fares"),
            "Ferry fares rise by 4 percent.",
            "Mon, 02 Mar 2026 10:00:00 GMT",
        )
        bad = item(
            "Osk dock strike ends", server.url("/a/strike"), "Dock workers ended their strike.", bad_date
        )
        server.routes["/feed"] = Route(channel(good, bad), etag='"1"')
        config = settings_for(tmp_path, [FeedSettings(url=server.url("/feed"), source="Osk Agency")])
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        assert report.failed == () and report.articles_new == 2
        [problem] = report.entry_problems
        assert problem.url == server.url("/a/strike") and "stored without a date" in problem.reason
        assert bad_date in problem.reason
        fares = article_at(ingest.store, server.url("/a/fares"))
        strike = article_at(ingest.store, server.url("/a/strike"))
        assert fares is not None and fares.published_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        assert (
            strike is not None
            and strike.published_at is None
            and strike.body == "Dock workers ended their strike."
        )
        assert feed_stats(config)[0].healthy and feed_stats(config)[0].etag == '"1"'


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
            stored = {a.source: a for a in stored_articles(ingest.store)}
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
            [stored] = stored_articles(ingest.store)
            assert stored.source == "Osk Agency" and "residents" in stored.body


def test_a_feed_cut_off_mid_entry_stores_no_headline_only_article(tmp_path: Path) -> None:
    with running_server() as server:
        first = item(
            "Ferry fares rise",
            server.url("/a/fares"),
            "Ferry fares rise by 4 percent.",
            "Mon, 02 Mar 2026 10:00:00 GMT",
        )
        second = item(
            "Hello world",
            server.url("/a/hello"),
            "The harbour opened a new terminal on Monday.",
            "Mon, 02 Mar 2026 11:00:00 GMT",
        )
        whole = channel(first, second)
        cut = whole[: whole.index(b"</title>", whole.index(b"Hello world")) + len(b"</title>")]
        server.routes["/feed"] = Route(cut, etag='"1"')
        config = settings_for(tmp_path, [FeedSettings(url=server.url("/feed"), source="Osk Agency")])
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        assert report.failed == () and [a.title for a in stored_articles(ingest.store)] == [
            "Ferry fares rise"
        ]
        [problem] = report.entry_problems
        assert "cut off" in problem.reason
        # The same ETag with the whole feed behind it: the next poll must not be answered 304.
        server.routes["/feed"] = Route(whole, etag='"1"')
        server.reset()
        report = poll_feeds(config, ingest)
        assert not server.hits_for("/feed")[0].conditional and report.articles_new == 1
        hello = article_at(ingest.store, server.url("/a/hello"))
        assert hello is not None and hello.body == "The harbour opened a new terminal on Monday."
        assert all(len(a.body) > 11 for a in stored_articles(ingest.store))


def test_entries_of_a_well_formed_feed_are_all_kept(tmp_path: Path) -> None:
    with running_server() as server:
        headline_only = "<item><title>Ferry fares rise</title><link>{}</link></item>".format(
            server.url("/a/fares")
        )
        server.routes["/feed"] = Route(channel(headline_only), etag='"1"')
        config = settings_for(tmp_path, [FeedSettings(url=server.url("/feed"), source="Osk Agency")])
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        assert report.entry_problems == () and [a.body for a in stored_articles(ingest.store)] == [
            "Ferry fares rise"
        ]
        assert feed_stats(config)[0].etag == '"1"'
