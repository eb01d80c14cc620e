"""Feed test helpers: a local HTTP server on 127.0.0.1 counting every request, feed builders, settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

from corpus.dedup import resolve_near_duplicates
from corpus.feedstate import articles_db
from corpus.ingest import IngestReport
from corpus.models import Article
from corpus.settings import CorpusSettings, FeedSettings, Settings
from corpus.store import ArticleStore


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-response (timeouts, size caps) are expected here, not errors."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    location: str | None = None
    send_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One request the server saw and what it answered."""

    path: str
    headers: dict[str, str]
    status: int

    @property
    def conditional(self) -> bool:
        """True when the request carried If-None-Match or If-Modified-Since."""
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


class FeedServer:
    """ThreadingHTTPServer in a thread; routes can change between polls."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def hits_for(self, path: str) -> list[Hit]:
        """The requests made to one path."""
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def reset(self) -> None:
        """Forget the requests seen so far."""
        with self.lock:
            self.hits.clear()
            self.max_in_flight.clear()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in req.headers.items()}
        path = req.path.split("?")[0]
        route = self.routes.get(path) or Route(b"not found", 404, "text/plain")
        with self.lock:
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            self.max_in_flight[path] = max(self.max_in_flight.get(path, 0), self.in_flight[path])
        try:
            if route.delay:
                time.sleep(route.delay)
            fresh = (route.etag and headers.get("if-none-match") == route.etag) or (
                route.last_modified and headers.get("if-modified-since") == route.last_modified
            )
            status = 304 if fresh else route.status
            # Recorded before answering, so a client that has its answer always finds the hit here.
            with self.lock:
                self.hits.append(Hit(req.path, headers, status))
            self._answer(req, route, status)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self.lock:
                self.in_flight[path] -= 1

    def _answer(self, req: BaseHTTPRequestHandler, route: Route, status: int) -> None:
        if status == 304:
            req.send_response(304)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        req.send_response(status)
        req.send_header("Content-Type", route.content_type)
        if route.location:
            req.send_header("Location", self.url(route.location))
        if route.etag:
            req.send_header("ETag", route.etag)
        if route.last_modified:
            req.send_header("Last-Modified", route.last_modified)
        for key, value in route.headers.items():
            req.send_header(key, value)
        if route.send_length:
            req.send_header("Content-Length", str(len(route.body)))
        else:
            req.send_header("Connection", "close")
            req.close_connection = True
        req.end_headers()
        req.wfile.write(route.body)


@contextmanager
def running_server() -> Iterator[FeedServer]:
    """Start a FeedServer and stop it afterwards."""
    server = FeedServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@dataclass(frozen=True)
class Entry:
    """One feed entry to serve."""

    title: str
    link: str
    summary: str
    published: datetime
    content: str | None = None


def rss2(title: str, entries: Sequence[Entry], language: str = "en-us") -> bytes:
    """An RSS 2.0 document (content:encoded when an entry has content)."""
    items = []
    for e in entries:
        content = f"<content:encoded><![CDATA[{e.content}]]></content:encoded>" if e.content else ""
        items.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>"
            f"<guid>{escape(e.link)}</guid><pubDate>{format_datetime(e.published)}</pubDate>"
            f"<description>{escape(e.summary)}</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>d</description>"
        f"<language>{language}</language>{''.join(items)}</channel></rss>"
    ).encode()


def atom(title: str, entries: Sequence[Entry]) -> bytes:
    """An Atom 1.0 document."""
    items = []
    for e in entries:
        content = f'<content type="html">{escape(e.content)}</content>' if e.content else ""
        items.append(
            f"<entry><title>{escape(e.title)}</title><link href={_attr(e.link)}/><id>{escape(e.link)}</id>"
            f"<published>{e.published.isoformat()}</published><updated>{e.published.isoformat()}</updated>"
            f"<summary>{escape(e.summary)}</summary>{content}</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2026-01-01T00:00:00Z</updated>"
        f"{''.join(items)}</feed>"
    ).encode()


def _attr(value: str) -> str:
    return '"' + escape(value, {'"': "&quot;"}) + '"'


def settings_for(tmp_path: Path, feeds: Sequence[FeedSettings]) -> Settings:
    corpus = CorpusSettings(
        paths=[],
        feeds=list(feeds),
        fetch_timeout_seconds=1.0,
        max_response_bytes=200_000,
        user_agent="newsbot-test",
    )
    return Settings(data_dir=tmp_path, corpus=corpus)


def para(topic: str, n: int = 3) -> str:
    """Article-like paragraphs about a topic, long enough for the extractor."""
    return "".join(
        f"<p>{topic} was the subject of paragraph {i} of the report, in which officials described in some"
        f" detail how the situation developed over the week and what residents should expect next.</p>"
        for i in range(1, n + 1)
    )


def page(title: str, topic: str) -> bytes:
    """An article page with site chrome, a legal notice and a copyright footer around the story."""
    return (
        f"<!doctype html><html><head><title>{title} | Agency</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/business'>Business</a></nav>"
        "<header><p>Skip to content</p></header>"
        f"<article><h1>{title}</h1>{para(topic, 4)}"
        "<p>Legal notice: all content is the property of Agency and may not be reproduced.</p></article>"
        "<footer><p>© 2026 Agency. All rights reserved.</p><p>Follow us on Twitter and Facebook</p></footer>"
        "</body></html>"
    ).encode()


class StoreIngest:
    """The ingest callable before the service: near-duplicates resolved, then upserted into the store."""

    def __init__(self, settings: Settings) -> None:
        self.store = ArticleStore(articles_db(settings))
        self.threshold = settings.corpus.near_duplicate_threshold
        self.calls: list[list[Article]] = []

    def __call__(self, articles: list[Article]) -> IngestReport:
        self.calls.append(articles)
        up = self.store.upsert(resolve_near_duplicates(articles, self.store, self.threshold))
        return IngestReport(articles_seen=len(articles), added=len(up.added), updated=len(up.updated))

    def urls(self) -> set[str | None]:
        return {a.url for a in stored_articles(self.store)}


def stored_articles(store: ArticleStore) -> list[Article]:
    """Every article the store holds."""
    return list(store.get_many(store.versions()).values())


def article_at(store: ArticleStore, url: str) -> Article | None:
    """The article stored under a URL, if any."""
    return next((a for a in stored_articles(store) if a.url == url), None)
