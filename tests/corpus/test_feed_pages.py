"""Article pages of summary feeds (issue 15): short briefs are extracted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.feedparse import is_article_text
from corpus.feeds import poll_feeds
from corpus.pagetext import fallback_text
from corpus.settings import FeedSettings, Settings
from tests.corpus.feed_server import Entry, FeedServer, Route, StoreIngest, page, rss2, running_server

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
        strike = ingest.store.find_by_url(server.url("/story/strike"))
        assert report.page_errors == () and strike is not None
        assert (strike.title, strike.body) == ("Osk dock strike ends", BRIEF)


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
        strike = ingest.store.find_by_url(server.url("/story/strike"))
        assert report.page_errors == () and strike is not None and strike.body == BRIEF


def test_plain_reading_takes_the_largest_text_block_without_chrome() -> None:
    html = (
        "<html><body><div class='top'><a href='/'>Home</a> <a href='/w'>World</a> <a href='/b'>Business</a></div>"
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


@pytest.mark.parametrize(
    ("body", "summary", "is_article"),
    [
        (BRIEF, "Dock workers ended their strike.", True),  # longer than the summary, 21 words
        (
            BRIEF,
            f"{BRIEF} Read the full story on our website.",
            True,
        ),  # the summary's words, without its tail
        ("Please accept cookies to continue reading.", "Dock strike ends.", False),  # short and unrelated
        ("", "Dock strike ends.", False),
        ("Dock strike ends after a wage deal.", "Dock strike ends.", True),  # a short brief that says it
    ],
)
def test_what_counts_as_the_article_text_of_a_page(body: str, summary: str, is_article: bool) -> None:
    assert is_article_text(body, summary) is is_article
