"""Feeds end to end against a local HTTP server: parsing, polling, conditional GET, faults, OPML, the service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.errors import FetchError, InputError
from corpus.feedparse import parse_feed
from corpus.feeds import configured_feeds, feed_stats, import_opml, poll_feeds
from corpus.ingest import IngestReport
from corpus.models import Article
from corpus.settings import FeedSettings
from tests.corpus.feed_server import (
    Entry,
    FeedServer,
    Route,
    StoreIngest,
    article_at,
    atom,
    page,
    para,
    rss2,
    running_server,
    settings_for,
    stored_articles,
)

NOW = datetime.now(UTC).replace(microsecond=0)
FEED = FeedSettings(url="http://127.0.0.1/feed", source="Agency")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with running_server() as srv:
        u = srv.url
        srv.routes.update(
            {
                "/rss": Route(
                    rss2(
                        "Agency world",
                        [
                            Entry(
                                "Dam opens",
                                u("/news/dam?utm_source=rss&utm_medium=feed"),
                                "A dam opened.",
                                NOW,
                            ),
                            Entry(
                                "Rail strike", u("/news/rail#top"), "Trains stop.", NOW - timedelta(hours=1)
                            ),
                            Entry("Budget", u("/news/budget"), "Short.", NOW, content=para("The budget", 3)),
                        ],
                    ),
                    etag='"rss-1"',
                ),
                "/atom": Route(
                    atom(
                        "Agency business",
                        [
                            Entry("Bank rates", u("/biz/rates"), "Rates held.", NOW - timedelta(hours=2)),
                            Entry("Oil price", u("/biz/oil"), "Oil fell.", NOW - timedelta(hours=3)),
                        ],
                    ),
                    content_type="application/atom+xml",
                    last_modified="Mon, 02 Mar 2026 10:00:00 GMT",
                ),
                "/summaries": Route(
                    rss2(
                        "Agency briefs",
                        [
                            Entry("Port strike ends", u("/article/1"), "The port strike ended.", NOW),
                            Entry("Bridge reopens", u("/article/2"), "The bridge reopened.", NOW),
                        ],
                    ),
                    etag='"sum-1"',
                ),
                "/article/1": Route(page("Port strike ends", "The port strike"), content_type="text/html"),
                "/article/2": Route(page("Bridge reopens", "The bridge"), content_type="text/html"),
                "/broken": Route(b"this is { not ] a feed at all"),
                "/slow": Route(rss2("Slow", []), delay=3.0),
                "/500": Route(b"internal error", 500, "text/plain"),
                "/huge": Route(b"<rss>" + b"x" * 300_000 + b"</rss>"),
                "/html": Route(
                    b"<!DOCTYPE html><html><body><p>Welcome</p></body></html>", content_type="text/html"
                ),
                "/loop-a": Route(status=302, location="/loop-b"),
                "/loop-b": Route(status=302, location="/loop-a"),
            }
        )
        yield srv


GOOD = {"/rss": "World", "/atom": "Business", "/summaries": "Briefs"}
BAD = {
    "/broken": "not a valid RSS/Atom feed",
    "/slow": "timed out",
    "/500": "HTTP 500",
    "/huge": "too large",
    "/html": "HTML page instead of an RSS/Atom feed",
    "/loop-a": "too many redirects",
}


def all_feeds(server: FeedServer) -> list[FeedSettings]:
    feeds = [FeedSettings(url=server.url(p), source=s) for p, s in GOOD.items()]
    feeds[2] = feeds[2].model_copy(update={"fetch_full_text": True})
    return feeds + [FeedSettings(url=server.url(p), source=f"Bad {p}") for p in BAD]


def test_first_poll_stores_exactly_the_good_articles_and_records_every_fault(
    server: FeedServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, all_feeds(server))
    ingest = StoreIngest(settings)
    report = poll_feeds(settings, ingest)
    u = server.url
    assert ingest.urls() == {
        u("/news/dam"), u("/news/rail"), u("/news/budget"), u("/biz/rates"), u("/biz/oil"),
        u("/article/1"), u("/article/2"),
    }  # fmt: skip
    assert len(ingest.calls) == 3
    assert (report.feeds, report.fetched, report.not_modified, report.articles_new) == (9, 3, 0, 7)
    reasons = {f.url: f.reason for f in report.failed}
    assert set(reasons) == {u(p) for p in BAD}
    for path, reason in BAD.items():
        assert reason in reasons[u(path)]
    stats = {s.url: s for s in feed_stats(settings)}
    for path in BAD:
        assert stats[u(path)].error_count == 1 and not stats[u(path)].healthy
        assert BAD[path] in (stats[u(path)].last_error or "")
    assert stats[u("/rss")].articles_seen == 3 and stats[u("/rss")].etag == '"rss-1"'
    assert stats[u("/atom")].last_modified == "Mon, 02 Mar 2026 10:00:00 GMT" and stats[u("/atom")].healthy


def test_entries_become_articles_with_dates_text_and_full_pages(server: FeedServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, all_feeds(server)[:3])
    ingest = StoreIngest(settings)
    poll_feeds(settings, ingest)
    by_url = {a.url: a for a in stored_articles(ingest.store)}
    dam = by_url[server.url("/news/dam")]
    assert dam.title == "Dam opens" and dam.body == "A dam opened." and dam.source == "World"
    assert dam.published_at == NOW and dam.published_at.tzinfo is not None and dam.language == "en"
    assert "paragraph 3" in by_url[server.url("/news/budget")].body  # content:encoded beats the summary
    port = by_url[server.url("/article/1")]
    assert port.title == "Port strike ends" and "The port strike was the subject of paragraph 4" in port.body
    for chrome in ("All rights reserved", "Legal notice", "Skip to content", "Follow us", "Home"):
        assert chrome not in port.body


def test_second_poll_of_unchanged_feeds_costs_one_304_each(server: FeedServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, all_feeds(server))
    ingest = StoreIngest(settings)
    poll_feeds(settings, ingest)
    server.reset()
    ingest.calls.clear()
    report = poll_feeds(settings, ingest)
    assert ingest.calls == []
    assert (report.not_modified, report.fetched, report.articles_new) == (3, 0, 0)
    for path in GOOD:
        hits = server.hits_for(path)
        assert len(hits) == 1 and hits[0].conditional and hits[0].status == 304
    assert not server.hits_for("/article/1") and not server.hits_for("/article/2")
    # Every failing feed is retried at the next poll, and counted again.
    assert {f.url for f in report.failed} == {server.url(p) for p in BAD}
    assert all(s.error_count == 2 for s in feed_stats(settings) if s.source.startswith("Bad"))


def test_a_new_entry_is_the_only_thing_ingested(server: FeedServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, all_feeds(server)[:3])
    ingest = StoreIngest(settings)
    poll_feeds(settings, ingest)
    entries = [
        Entry("Dam opens", server.url("/news/dam"), "A dam opened.", NOW),
        Entry("Rail strike", server.url("/news/rail"), "Trains stop.", NOW - timedelta(hours=1)),
        Entry("Budget", server.url("/news/budget"), "Short.", NOW, content=para("The budget", 3)),
        Entry("Flood warning", server.url("/news/flood"), "Rivers rise.", NOW + timedelta(minutes=5)),
    ]
    server.routes["/rss"] = Route(rss2("Agency world", entries), etag='"rss-2"')
    ingest.calls.clear()
    report = poll_feeds(settings, ingest)
    assert [[a.url for a in call] for call in ingest.calls] == [[server.url("/news/flood")]]
    assert (report.fetched, report.not_modified, report.articles_new) == (1, 2, 1)


def test_failed_article_page_keeps_the_summary_and_is_retried(server: FeedServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, [all_feeds(server)[2]])
    server.routes["/article/2"] = Route(b"x" * 300_000, content_type="text/html")
    ingest = StoreIngest(settings)
    report = poll_feeds(settings, ingest)
    assert [e.url for e in report.page_errors] == [server.url("/article/2")]
    bridge = article_at(ingest.store, server.url("/article/2"))
    assert bridge is not None and bridge.body == "The bridge reopened."
    [status] = feed_stats(settings)
    assert status.etag == '"sum-1"' and [r.url for r in status.retries] == [server.url("/article/2")]
    server.routes["/article/2"] = Route(page("Bridge reopens", "The bridge"), content_type="text/html")
    server.reset()
    report = poll_feeds(settings, ingest)  # the retry waits one poll
    assert [h.status for h in server.hits] == [304] and report.pages_deferred == 1
    server.reset()
    report = poll_feeds(settings, ingest)
    assert [(h.path, h.status) for h in server.hits] == [("/summaries", 304), ("/article/2", 200)]
    assert report.articles_updated == 1 and report.page_errors == ()
    bridge = article_at(ingest.store, server.url("/article/2"))
    assert bridge is not None and "The bridge was the subject of paragraph 4" in bridge.body
    assert feed_stats(settings)[0].retries == ()


def test_a_crash_while_ingesting_one_feed_keeps_the_others_and_retries_it(
    server: FeedServer, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, all_feeds(server)[:2])
    ingest = StoreIngest(settings)

    def flaky(articles: list[Article]) -> IngestReport:
        if any("/biz/" in (a.url or "") for a in articles):
            raise RuntimeError("disk full")
        return ingest(articles)

    report = poll_feeds(settings, flaky)
    assert [f.reason for f in report.failed] == ["RuntimeError: disk full"]
    assert ingest.urls() == {server.url("/news/dam"), server.url("/news/rail"), server.url("/news/budget")}
    server.reset()
    report = poll_feeds(settings, ingest)
    assert not server.hits_for("/atom")[0].conditional  # its Last-Modified was never stored
    assert server.hits_for("/rss")[0].status == 304
    assert report.articles_new == 2 and server.url("/biz/oil") in ingest.urls()


def test_republished_story_replaces_the_old_version(server: FeedServer, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, all_feeds(server)[:1])
    ingest = StoreIngest(settings)
    story = para("The dam", 4)
    first = [Entry("Dam opens", server.url("/news/dam-v1"), "s", NOW - timedelta(hours=2), content=story)]
    server.routes["/rss"] = Route(rss2("Agency world", first), etag='"a"')
    poll_feeds(settings, ingest)
    edited = story.replace("residents", "locals", 1)
    second = [*first, Entry("Dam opens", server.url("/news/dam-v2"), "s", NOW, content=edited)]
    server.routes["/rss"] = Route(rss2("Agency world", second), etag='"b"')
    poll_feeds(settings, ingest)
    poll_feeds(settings, ingest)
    stored = list(stored_articles(ingest.store))
    assert [(a.url, "locals" in a.body) for a in stored] == [(server.url("/news/dam-v2"), True)]


def test_parse_rss1_rss091_and_recover_from_a_wrong_charset() -> None:
    rdf = (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="http://a.example/"><title>T</title><link>http://a.example/</link></channel>'
        b'<item rdf:about="http://a.example/1"><title>One</title><link>http://a.example/1?utm_campaign=x</link>'
        b"<description>First &lt;b&gt;story&lt;/b&gt;.</description><dc:date>2026-03-01T10:00:00+02:00</dc:date>"
        b"</item></rdf:RDF>"
    )
    [item] = parse_feed(rdf, FEED).items
    assert item.article.url == "http://a.example/1" and item.article.body == "First story."
    assert item.article.published_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC) and item.summary_only
    rss091 = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="0.91"><channel><title>T</title>'
        "<language>fr-FR</language><item><title>Café</title><link>http://a.example/2</link>"
        "<description>Un café à Zürich.</description></item></channel></rss>"
    ).encode("latin-1")
    parsed = parse_feed(rss091, FEED)
    assert parsed.items[0].article.body == "Un café à Zürich." and parsed.items[0].article.language == "fr"
    assert parsed.warning is not None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<!DOCTYPE html><html><body>Hi</body></html>", "HTML page"),
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"{ 'json': true }", "not a valid"),
    ],
)
def test_non_feeds_are_fetch_errors(content: bytes, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        parse_feed(content, FEED)


def test_truncated_feed_keeps_the_entries_it_has() -> None:
    data = rss2("T", [Entry("Kept", "http://a.example/k", "Body.", NOW)])[:-20]
    parsed = parse_feed(data, FEED)
    assert [i.article.title for i in parsed.items] == ["Kept"] and parsed.warning


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>Agencies</title></head><body>
  <outline text="World">
    <outline text="Agency World" type="rss" xmlUrl="{rss}"/>
    <outline text="Agency Business" type="rss" xmlUrl="{atom}"/>
  </outline>
  <outline text="Duplicate" type="rss" xmlUrl="{atom}"/>
  <outline text="Local file" type="rss" xmlUrl="file:///etc/passwd"/>
  <outline text="Not a feed"/>
</body></opml>"""


def test_opml_import_adds_feeds_once_and_polls_them(server: FeedServer, tmp_path: Path) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(OPML.format(rss=server.url("/rss"), atom=server.url("/atom")))
    settings = settings_for(tmp_path, [FeedSettings(url=server.url("/rss"), source="From settings")])
    assert import_opml(settings, opml) == 1  # /rss is already configured, /atom listed twice
    assert import_opml(settings, opml) == 0
    feeds = configured_feeds(settings)
    assert [(f.url, f.source) for f in feeds] == [
        (server.url("/rss"), "From settings"),
        (server.url("/atom"), "Agency Business"),
    ]
    report = poll_feeds(settings, StoreIngest(settings))
    assert (report.feeds, report.articles_new) == (2, 5)
    assert [s.imported for s in feed_stats(settings)] == [False, True]


def test_opml_errors_are_input_errors(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, [])
    with pytest.raises(InputError, match="not found"):
        import_opml(settings, tmp_path / "missing.opml")
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline")
    with pytest.raises(InputError, match="not a readable OPML"):
        import_opml(settings, bad)
