"""Polite fetching against a local HTTP server: conditional GET, errors, size cap, per-host limits."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from corpus.errors import FetchError
from corpus.fetch import Fetcher, FetchResult
from corpus.settings import CorpusSettings
from tests.corpus.feed_server import FeedServer, Route, running_server

SETTINGS = CorpusSettings(
    fetch_timeout_seconds=1.0, max_response_bytes=50_000, per_host_concurrency=2, user_agent="newsbot-test/1"
)


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with running_server() as srv:
        srv.routes.update(
            {
                "/ok": Route(
                    b"<rss version='2.0'></rss>", etag='"v1"', last_modified="Mon, 01 Jan 2026 00:00:00 GMT"
                ),
                "/500": Route(b"oops", 500, "text/plain"),
                "/404": Route(b"gone", 404, "text/plain"),
                "/slow": Route(b"late", delay=3.0),
                "/loop-a": Route(status=302, location="/loop-b"),
                "/loop-b": Route(status=302, location="/loop-a"),
                "/moved": Route(status=301, location="/ok"),
                "/huge": Route(b"x" * 200_000, content_type="text/html"),
                "/huge-stream": Route(b"y" * 200_000, content_type="text/html", send_length=False),
                "/latin1": Route(
                    "<p>Café Zürich</p>".encode("latin-1"), content_type="text/html; charset=utf-8"
                ),
                "/wait": Route(b"ok", delay=0.3),
            }
        )
        yield srv


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(SETTINGS) as f:
        yield f


def test_get_sends_user_agent_and_returns_validators(server: FeedServer, fetcher: Fetcher) -> None:
    result = fetcher.get(server.url("/ok"))
    assert result.status == 200 and result.content.startswith(b"<rss")
    assert result.etag == '"v1"' and result.last_modified == "Mon, 01 Jan 2026 00:00:00 GMT"
    assert server.hits_for("/ok")[-1].headers["user-agent"] == "newsbot-test/1"


def test_conditional_get_is_answered_304(server: FeedServer, fetcher: Fetcher) -> None:
    server.reset()
    result = fetcher.get(server.url("/ok"), etag='"v1"', last_modified="Mon, 01 Jan 2026 00:00:00 GMT")
    assert result.not_modified and result.content == b""
    hit = server.hits_for("/ok")[-1]
    assert hit.conditional and hit.status == 304
    assert fetcher.requests == 1


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/500", "HTTP 500"),
        ("/404", "HTTP 404"),
        ("/slow", "timed out"),
        ("/loop-a", "too many redirects"),
        ("/huge", "too large"),
        ("/huge-stream", "too large"),
    ],
)
def test_failures_are_fetch_errors_with_a_reason(
    server: FeedServer, fetcher: Fetcher, path: str, reason: str
) -> None:
    with pytest.raises(FetchError, match=reason):
        fetcher.get(server.url(path))


def test_redirects_are_followed_and_counted(server: FeedServer, fetcher: Fetcher) -> None:
    result = fetcher.get(server.url("/moved"))
    assert result.final_url == server.url("/ok") and result.status == 200
    assert fetcher.requests == 2


def test_wrong_charset_still_decodes(server: FeedServer, fetcher: Fetcher) -> None:
    result = fetcher.get(server.url("/latin1"))
    assert "Café Zürich" in result.text()


def test_meta_charset_is_used_without_a_header() -> None:
    body = '<meta charset="iso-8859-1"><p>Ça va</p>'.encode("latin-1")
    result = FetchResult("u", "u", 200, content=body, content_type="text/html")
    assert "Ça va" in result.text()


def test_per_host_concurrency_is_limited(server: FeedServer, fetcher: Fetcher) -> None:
    server.reset()
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: fetcher.get(server.url("/wait")), range(6)))
    assert all(r.status == 200 for r in results)
    assert server.max_in_flight["/wait"] == 2


def test_non_http_urls_are_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="not an http"):
        fetcher.get("file:///etc/passwd")


def test_transport_can_be_injected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"hello", headers={"ETag": '"x"'})

    with Fetcher(SETTINGS, transport=httpx.MockTransport(handler)) as f:
        result = f.get("http://feeds.invalid/rss")
    assert result.content == b"hello" and result.etag == '"x"' and f.requests == 1
