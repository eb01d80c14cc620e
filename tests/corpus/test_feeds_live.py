"""Live news through the real NewsService: a newly published article is answered after the next poll."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from corpus.feeds import poll_feeds
from corpus.settings import FeedSettings
from index.embeddings import Embedder
from index.models import Answer
from index.query import Query
from index.service import NewsService
from tests.corpus.feed_server import Entry, FeedServer, Route, article_at, rss2, running_server, settings_for

NOW = datetime.now(UTC).replace(microsecond=0)

DESAL = (
    "<p>Harbour authorities in Valdoria said on Monday that the new desalination plant at Port Serrin will"
    " supply 40,000 households with drinking water from May. The plant, built by the engineering firm"
    " Aquanor, cost 210 million euros and runs on power from a nearby wind farm.</p>"
    "<p>Officials said the plant would end years of summer water rationing in the coastal towns of the"
    " province, where reservoirs have fallen to record lows during recent droughts.</p>"
)
CHESS = (
    "<p>The Lumerian chess federation announced that grandmaster Elena Varga won the national championship"
    " for the third time, beating the defending champion in a tense final round in the capital.</p>"
    "<p>Varga will now represent Lumeria at the continental team event later this year.</p>"
)
FIRE = (
    "<p>Firefighters in the northern province of Kestrel contained a forest fire that burned 1,200 hectares"
    " near the village of Oskarby, the regional emergency service said on Tuesday. About 300 residents"
    " were evacuated as a precaution and have since returned home.</p>"
    "<p>Investigators believe the fire was started by a lightning strike during a dry thunderstorm.</p>"
)


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[FeedServer, NewsService]]:
    """A feed server and the real NewsService (the real model) over an empty data dir."""
    data = tmp_path_factory.mktemp("live")
    with running_server() as srv:
        settings = settings_for(data, [FeedSettings(url=srv.url("/live"), source="Valdoria Press")])
        service = NewsService.open(settings, embedder=embedder)
        yield srv, service
        service.close()


def _cited(answer: Answer) -> list[str | None]:
    return [c.url for c in answer.citations]


def test_service_answers_from_a_newly_published_article_after_the_next_poll(
    live: tuple[FeedServer, NewsService],
) -> None:
    srv, service = live
    desal = Entry(
        "Port Serrin desalination plant to open", srv.url("/live/desal"), "s", NOW - timedelta(hours=5), DESAL
    )
    chess = Entry("Varga wins chess title", srv.url("/live/chess"), "s", NOW - timedelta(hours=4), CHESS)
    srv.routes["/live"] = Route(rss2("Valdoria Press", [desal, chess]), etag='"1"')
    report = poll_feeds(service.settings, service.ingest_articles)
    assert (report.articles_new, report.failed) == (2, ())
    answer = service.ask(Query("How many households will the Port Serrin desalination plant supply?"))
    assert answer.answered and "40,000" in answer.text and _cited(answer)[0] == srv.url("/live/desal")
    question = "How many hectares did the forest fire near Oskarby burn?"
    assert srv.url("/live/fire") not in _cited(service.ask(Query(question)))
    fire = Entry("Kestrel forest fire contained", srv.url("/live/fire?utm_source=rss"), "s", NOW, FIRE)
    srv.routes["/live"] = Route(rss2("Valdoria Press", [fire, desal, chess]), etag='"2"')
    report = poll_feeds(service.settings, service.ingest_articles)
    assert (report.articles_new, report.embedded > 0) == (1, True)
    answer = service.ask(Query(question))
    assert answer.answered and "1,200" in answer.text and _cited(answer)[0] == srv.url("/live/fire")
    srv.reset()
    report = poll_feeds(service.settings, service.ingest_articles)
    assert (report.not_modified, report.embedded, report.requests) == (1, 0, 1)


def test_service_replaces_a_republished_story_and_its_passages(live: tuple[FeedServer, NewsService]) -> None:
    srv, service = live
    edited = DESAL.replace("40,000 households", "45,000 households")
    again = Entry(
        "Port Serrin plant to open", srv.url("/live/desal-updated"), "s", NOW + timedelta(minutes=1), edited
    )
    srv.routes["/live"] = Route(rss2("Valdoria Press", [again]), etag='"3"')
    report = poll_feeds(service.settings, service.ingest_articles)
    assert report.articles_updated == 1 and report.articles_new == 0
    answer = service.ask(Query("How many households will the Port Serrin desalination plant supply?"))
    assert answer.answered and "45,000" in answer.text and "40,000" not in answer.text
    assert srv.url("/live/desal") not in _cited(answer) and _cited(answer)[0] == srv.url(
        "/live/desal-updated"
    )
    assert article_at(service.store, srv.url("/live/desal")) is None
