"""Article pages of summary feeds (issue 15): short briefs extracted, failed pages retried on a backoff."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.feedparse import is_article_text
from corpus.feeds import feed_stats, poll_feeds
from corpus.feedstate import retry_wait
from corpus.pagetext import fallback_text
from corpus.settings import FeedSettings, Settings
from tests.corpus.feed_server import (
    Entry,
    FeedServer,
    Route,
    StoreIngest,
    article_at,
    page,
    rss2,
    running_server,
)

NOW = datetime.now(UTC).replace(microsecond=0)
BRIEF = (
    "Dock workers in Osk ended a nine-day strike on Tuesday after a 7 percent wage deal was signed with"
    " port operators."
)
BRIEF_PAGE = f"<html><body><article><p>{BRIEF}</p></article></body></html>".encode()
IMAGE_ONLY = b"<html><body><article><img src='/photo.jpg' alt=''></article></body></html>"


def settings(tmp_path: Path, server: FeedServer, poll_minutes: float = 15.0) -> Settings:
    """One summary feed at /briefs whose article pages are fetched."""
    feed = FeedSettings(url=server.url("/briefs"), source="Osk Agency", fetch_full_text=True)
    return Settings.model_validate(
        {
            "data_dir": tmp_path,
            "corpus": {
                "paths": [],
                "feeds": [feed.model_dump()],
                "fetch_timeout_seconds": 1.0,
                "poll_minutes": poll_minutes,
            },
        }
    )


def serve_briefs(
    server: FeedServer, second_page: bytes, summary: str = "Dock workers ended their strike."
) -> None:
    """A feed of two items: a full article page and a second page given by the test."""
    server.routes["/briefs"] = Route(
        rss2(
            "Osk Agency",
            [
                Entry("Harbour bridge reopens", server.url("/story/bridge"), "The bridge reopened.", NOW),
                Entry("Osk dock strike ends", server.url("/story/strike"), summary, NOW - timedelta(hours=1)),
            ],
        ),
        etag='"briefs-1"',
    )
    server.routes["/story/bridge"] = Route(
        page("Harbour bridge reopens", "The bridge"), content_type="text/html"
    )
    server.routes["/story/strike"] = Route(second_page, content_type="text/html")


def paths(server: FeedServer) -> list[tuple[str, bool, int]]:
    """(path, conditional, status) of every request since the last reset, in order."""
    return [(h.path, h.conditional, h.status) for h in server.hits]


def test_the_brief_is_stored_from_its_page_though_the_feed_summary_is_longer(tmp_path: Path) -> None:
    with running_server() as server:
        serve_briefs(server, BRIEF_PAGE, summary=f"{BRIEF} Read the full story on our website.")
        config = settings(tmp_path, server)
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        strike = article_at(ingest.store, server.url("/story/strike"))
        assert report.page_errors == () and strike is not None
        assert (strike.title, strike.body) == ("Osk dock strike ends", BRIEF)
        assert feed_stats(config)[0].retries == ()


def test_a_brief_whose_text_is_only_the_article_header_is_read_plainly(tmp_path: Path) -> None:
    standfirst = (
        "<html><head><title>Osk dock strike ends | Osk Agency</title></head><body>"
        "<header><a href='/'>Home</a> <a href='/ports'>Ports</a><p>Skip to content</p></header>"
        f"<article><header><h1>Osk dock strike ends</h1><p class='standfirst'>{BRIEF}</p></header>"
        "<figure><img src='/dock.jpg'><figcaption>Photo: Osk Agency</figcaption></figure>"
        "<div class='share-tools'><a href='#'>Share on Twitter</a></div></article>"
        "<aside><h3>Most read</h3><ul><li><a href='/x'>Ferry fares rise in the spring</a></li></ul></aside>"
        "<footer><p>© 2026 Osk Agency. All rights reserved.</p></footer></body></html>"
    ).encode()
    with running_server() as server:
        serve_briefs(server, standfirst)
        config = settings(tmp_path, server)
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        strike = article_at(ingest.store, server.url("/story/strike"))
        assert report.page_errors == () and strike is not None and strike.body == BRIEF


def test_a_page_without_text_keeps_conditional_get_and_is_retried_on_a_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two polls a day: the page waits 1 poll, then 2 (a day's worth), then it is given up.
    with running_server() as server:
        serve_briefs(server, IMAGE_ONLY)
        config = settings(tmp_path, server, poll_minutes=720)
        ingest = StoreIngest(config)
        report = poll_feeds(config, ingest)
        assert [e.url for e in report.page_errors] == [server.url("/story/strike")]
        strike = article_at(ingest.store, server.url("/story/strike"))
        assert (
            strike is not None and strike.body == "Dock workers ended their strike."
        )  # answerable meanwhile
        [status] = feed_stats(config)
        assert status.etag == '"briefs-1"' and status.healthy
        [retry] = status.retries
        assert (retry.url, retry.attempts, retry.wait, retry.gave_up) == (
            server.url("/story/strike"),
            1,
            1,
            False,
        )
        assert "no article text found" in retry.last_error

        schedule = []
        for _ in range(6):
            server.reset()
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="corpus.feeds"):
                report = poll_feeds(config, ingest)
            assert report.not_modified == 1 and ingest.calls[1:] == []
            schedule.append((paths(server), sum("giving up" in r.message for r in caplog.records)))
        feed = ("/briefs", True, 304)
        page_hit = ("/story/strike", False, 200)
        assert schedule == [
            ([feed], 0),
            ([feed, page_hit], 0),
            ([feed], 0),
            ([feed], 0),
            ([feed, page_hit], 1),  # the third failure, after a day's wait: one warning, given up
            ([feed], 0),
        ]
        [retry] = feed_stats(config)[0].retries
        assert (retry.attempts, retry.gave_up) == (3, True)
        assert article_at(ingest.store, server.url("/story/strike")) == strike


def test_an_unchanged_feed_stays_one_304_while_a_page_waits(tmp_path: Path) -> None:
    with running_server() as server:
        serve_briefs(server, IMAGE_ONLY)
        config = settings(tmp_path, server)
        ingest = StoreIngest(config)
        poll_feeds(config, ingest)
        server.reset()
        report = poll_feeds(config, ingest)
        assert paths(server) == [("/briefs", True, 304)]
        assert (report.requests, report.pages_deferred, report.page_errors) == (1, 1, ())
        # The page comes back with its text: the retry that is due stores it and is forgotten.
        server.routes["/story/strike"] = Route(BRIEF_PAGE, content_type="text/html")
        server.reset()
        report = poll_feeds(config, ingest)
        assert paths(server) == [("/briefs", True, 304), ("/story/strike", False, 200)]
        strike = article_at(ingest.store, server.url("/story/strike"))
        assert report.articles_updated == 1 and strike is not None and strike.body == BRIEF
        assert feed_stats(config)[0].retries == ()


def test_a_new_summary_is_stored_while_its_page_waits(tmp_path: Path) -> None:
    with running_server() as server:
        serve_briefs(server, IMAGE_ONLY)
        config = settings(tmp_path, server)
        ingest = StoreIngest(config)
        poll_feeds(config, ingest)
        serve_briefs(server, IMAGE_ONLY, summary="Dock workers in Osk ended their nine-day strike.")
        server.routes["/briefs"].etag = '"briefs-2"'
        server.reset()
        report = poll_feeds(config, ingest)
        assert [h.path for h in server.hits] == ["/briefs"] and report.articles_updated == 1
        strike = article_at(ingest.store, server.url("/story/strike"))
        assert strike is not None and strike.body == "Dock workers in Osk ended their nine-day strike."


def test_a_waiting_page_is_fetched_at_once_when_the_feed_says_its_entry_changed(tmp_path: Path) -> None:
    with running_server() as server:
        serve_briefs(server, IMAGE_ONLY)
        config = settings(tmp_path, server)
        ingest = StoreIngest(config)
        poll_feeds(config, ingest)
        entry = Entry("Osk dock strike ends", server.url("/story/strike"), "s", NOW, content=None)
        updated = rss2("Osk Agency", [entry]).replace(
            b"</pubDate>",
            f"</pubDate><atom:updated>{(NOW + timedelta(hours=2)).isoformat()}</atom:updated>".encode(),
        )
        server.routes["/briefs"] = Route(
            updated.replace(b"<rss ", b'<rss xmlns:atom="http://www.w3.org/2005/Atom" '), etag='"briefs-2"'
        )
        server.routes["/story/strike"] = Route(BRIEF_PAGE, content_type="text/html")
        server.reset()
        poll_feeds(config, ingest)
        assert [h.path for h in server.hits] == ["/briefs", "/story/strike"]
        assert feed_stats(config)[0].retries == ()


def test_the_backoff_doubles_up_to_a_day_of_polls_then_gives_up() -> None:
    assert [retry_wait(n, 96) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 64, 96, None]
    assert [retry_wait(n, 1) for n in (1, 2)] == [1, None]


def test_plain_reading_takes_the_largest_text_block_without_chrome() -> None:
    html = (
        "<html><body><div class='top'><a href='/'>Home</a> <a href='/w'>World</a></div>"
        "<div class='wrap'><div class='story'><h1>Osk dock strike ends</h1>"
        f"<p>{BRIEF}</p><p>The deal runs for two years, the union said.</p></div>"
        "<div class='cookie-notice'><p>We use cookies to improve your experience on this website.</p></div>"
        "</div></body></html>"
    )
    assert (
        fallback_text(html, "Osk dock strike ends")
        == f"{BRIEF}\nThe deal runs for two years, the union said."
    )
    assert fallback_text(IMAGE_ONLY.decode()) == ""


LONG_HEADLINE = (
    "Dock workers in Osk end their nine-day strike after port operators sign a 7 percent wage deal with"
    " the union"
)


@pytest.mark.parametrize(
    ("body", "summary", "is_article"),
    [
        (BRIEF, "Dock workers ended their strike.", True),  # longer than the summary, 21 words
        (BRIEF, f"{BRIEF} Read the full story on our website.", True),  # the summary's words, not its tail
        ("Please accept cookies to continue reading.", "Dock strike ends.", False),  # short and unrelated
        ("", "Dock strike ends.", False),
        ("Dock strike ends after a wage deal.", "Dock strike ends.", True),  # a short brief that says it
        (LONG_HEADLINE, "Dock workers ended their strike.", False),  # a photo page: its headline only
    ],
)
def test_what_counts_as_the_article_text_of_a_page(body: str, summary: str, is_article: bool) -> None:
    assert is_article_text(body, summary, title=LONG_HEADLINE) is is_article
