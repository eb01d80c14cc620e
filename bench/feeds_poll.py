"""Feed polling cost: N feeds x M entries served on 127.0.0.1, polled into the real NewsService.

Scenarios: everything new (ingest throughput), nothing changed (one conditional request per feed, nothing
embedded), one new entry in one feed. Then the same feeds as summaries whose article pages are fetched,
with one page in ten unextractable (an image only): all new, nothing changed (still one 304 per feed, no
page fetched), and the poll at which the failed pages' first retry is due. Requests are counted at the
server. Article texts come from the RealTime QA news articles, read at run time (never copied into the
repo), else are generated.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

from corpus.dedup import resolve_near_duplicates
from corpus.feeds import PollReport, poll_feeds
from corpus.ingest import IngestReport
from corpus.models import Article
from corpus.settings import CorpusSettings, FeedSettings, Settings
from corpus.store import ArticleStore
from index.service import NewsService

REPO = Path(__file__).resolve().parents[1]
GCS = REPO / ".." / "shared" / "eval-data" / "realtimeqa" / "gcs"


@dataclass(frozen=True)
class Story:
    """One article to serve: title, paragraphs and publication time."""

    slug: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime


def load_stories(n: int, max_words: int, seed: int = 0) -> tuple[list[Story], str]:
    """n distinct stories: RealTime QA articles when present, else generated text (and mixes to reach n)."""
    now = datetime.now(UTC).replace(microsecond=0)
    texts: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(GCS.glob("*_gcs.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                for hit in json.loads(line).get("search_result", []):
                    paras = [p.strip() for p in (hit.get("text") or "").split("\n") if len(p.split()) >= 8]
                    if hit.get("url") and len(paras) >= 3:
                        texts.setdefault(hit["url"], (hit.get("title") or "Untitled", paras))
    origin = f"RealTime QA ({len(texts)} articles)" if texts else "generated"
    rng = random.Random(seed)
    pool = list(texts.values())
    if not pool:
        words = [f"w{i}" for i in range(5000)]
        pool = [
            (f"Story {i}", [" ".join(rng.choices(words, k=60)) + "." for _ in range(6)]) for i in range(n)
        ]
    stories = []
    for i in range(n):
        title, paras = pool[i % len(pool)]
        if i >= len(pool):
            # Past the real articles: paragraphs of two different ones interleaved, far below any
            # near-duplicate threshold of either.
            other_title, other = pool[(i * 7 + 3) % len(pool)]
            mixed = [p for pair in zip(paras, other[1:], strict=False) for p in pair]
            title, paras = f"{title} / {other_title}", mixed
        kept, count = [], 0
        for p in paras:
            if count >= max_words:
                break
            kept.append(p)
            count += len(p.split())
        stories.append(Story(f"s{i}", title, tuple(kept), now - timedelta(minutes=i)))
    return stories, origin


def rss(feed: int, stories: list[Story], base: str, summaries: bool = False) -> bytes:
    """An RSS 2.0 feed whose entries carry the full text in content:encoded, or only a summary."""
    items = []
    for s in stories:
        body = "".join(f"<p>{escape(p)}</p>" for p in s.paragraphs)
        content = "" if summaries else f"<content:encoded><![CDATA[{body}]]></content:encoded>"
        link = f"{base}/{'page' if summaries else 'news'}/{feed}/{s.slug}?utm_source=rss"
        summary = " ".join(s.paragraphs[0].split()[:25])
        items.append(
            f"<item><title>{escape(s.title)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
            f"<pubDate>{format_datetime(s.published)}</pubDate><description>{escape(summary)}"
            f"</description>{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Feed {feed}</title><link>{base}/</link><description>bench</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def article_page(story: Story, readable: bool) -> bytes:
    """A story's page with site chrome; an unreadable one holds only a photo."""
    body = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs) if readable else "<img src='/photo.jpg'>"
    return (
        f"<!doctype html><html><head><title>{escape(story.title)} | Bench</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{escape(story.title)}</h1>{body}</article>"
        "<footer><p>© 2026 Bench Agency. All rights reserved.</p></footer></body></html>"
    ).encode()


class Server:
    """Serves /feed/<i> with an ETag, answers 304 to a matching If-None-Match, counts requests."""

    def __init__(self) -> None:
        self.feeds: dict[str, tuple[bytes, str]] = {}
        self.pages: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.requests = 0
        self.not_modified = 0
        self.page_requests = 0
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                with bench.lock:
                    bench.requests += 1
                    page = bench.pages.get(path)
                    bench.page_requests += page is not None
                    body, etag = bench.feeds.get(path, (b"", ""))
                if page is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                if etag and self.headers.get("If-None-Match") == etag:
                    with bench.lock:
                        bench.not_modified += 1
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base = f"http://{host!s}:{port}"

    def reset(self) -> None:
        with self.lock:
            self.requests = self.not_modified = self.page_requests = 0


@contextmanager
def serving() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


class TimedIngest:
    """Wraps the ingest callable to split poll time into ingest (store + index) and the rest."""

    def __init__(self, ingest: Callable[[list[Article]], IngestReport]) -> None:
        self.ingest = ingest
        self.seconds = 0.0

    def __call__(self, articles: list[Article]) -> IngestReport:
        started = time.perf_counter()
        try:
            return self.ingest(articles)
        finally:
            self.seconds += time.perf_counter() - started


class StoreIngest:
    """Ingest without the index (--store-only): near-duplicates resolved, then upserted."""

    def __init__(self, settings: Settings) -> None:
        self.store = ArticleStore(settings.data_dir / "articles.db")
        self.threshold = settings.corpus.near_duplicate_threshold

    def __call__(self, articles: list[Article]) -> IngestReport:
        up = self.store.upsert(resolve_near_duplicates(articles, self.store, self.threshold))
        return IngestReport(articles_seen=len(articles), added=len(up.added), updated=len(up.updated))


def row(name: str, server: Server, report: PollReport, ingest_seconds: float) -> list[str]:
    secs = report.seconds
    return [
        name,
        str(server.requests),
        str(server.not_modified),
        str(server.page_requests),
        str(len(report.page_errors)),
        str(report.pages_deferred),
        f"{secs - ingest_seconds:.2f}",
        f"{ingest_seconds:.2f}",
        str(report.articles_new + report.articles_updated),
        str(report.passages_indexed),
        str(report.embedded),
        f"{secs:.2f}",
        f"{(report.articles_new + report.articles_updated) / secs:.1f}" if secs else "-",
        f"{report.passages_indexed / secs:.1f}" if secs else "-",
    ]


def poll(
    name: str, server: Server, settings: Settings, target: Callable[[list[Article]], IngestReport]
) -> list[str]:
    """One poll of every feed, counted at the server; a feed failing is a bench error."""
    server.reset()
    timed = TimedIngest(target)
    report = poll_feeds(settings, timed)
    assert not report.failed, report.failed
    return row(name, server, report, timed.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--max-words", type=int, default=400, help="Truncate article texts to ~this length.")
    parser.add_argument("--per-host", type=int, default=2, help="corpus.per_host_concurrency")
    parser.add_argument(
        "--store-only", action="store_true", help="No model or index: fetch, parse, dedup, store."
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # Every failed page would log a warning; the table counts them.
    logging.getLogger("corpus.feeds").setLevel(logging.ERROR)
    stories, origin = load_stories(args.feeds * args.entries, args.max_words)
    with serving() as server, tempfile.TemporaryDirectory() as tmp:
        per_feed = [stories[i * args.entries : (i + 1) * args.entries] for i in range(args.feeds)]
        for i, chunk in enumerate(per_feed):
            server.feeds[f"/feed/{i}"] = (rss(i, chunk, server.base), f'"{i}-1"')
            server.feeds[f"/summaries/{i}"] = (rss(i, chunk, server.base, summaries=True), f'"s{i}-1"')
            for j, story in enumerate(chunk):
                server.pages[f"/page/{i}/{story.slug}"] = article_page(story, readable=j % 10 != 9)
        feeds = [
            FeedSettings(url=f"{server.base}/feed/{i}", source=f"Agency {i % 7}") for i in range(args.feeds)
        ]
        summary_feeds = [
            FeedSettings(url=f"{server.base}/summaries/{i}", source=f"Agency {i % 7}", fetch_full_text=True)
            for i in range(args.feeds)
        ]
        corpus = CorpusSettings(paths=[], feeds=feeds, per_host_concurrency=args.per_host)
        settings = Settings(data_dir=Path(tmp) / "full", corpus=corpus)
        # Its own data dir: the same stories again must count as new there.
        paged = settings.model_copy(
            update={
                "data_dir": Path(tmp) / "pages",
                "corpus": corpus.model_copy(update={"feeds": summary_feeds}),
            }
        )
        started = time.perf_counter()
        service = None if args.store_only else NewsService.open(settings)
        paged_service = None if service is None else NewsService(paged, service.embedder)
        target = StoreIngest(settings) if service is None else service.ingest_articles
        paged_target = StoreIngest(paged) if paged_service is None else paged_service.ingest_articles
        load = time.perf_counter() - started
        rows = []
        try:
            rows.append(poll("all new", server, settings, target))
            rows.append(poll("nothing changed", server, settings, target))
            text = ("A new entry appeared in one feed of the benchmark. " * 10,)
            extra = Story("extra", "Breaking: bench story", text, datetime.now(UTC))
            server.feeds["/feed/0"] = (rss(0, [extra, *per_feed[0]], server.base), '"0-2"')
            rows.append(poll("1 new entry", server, settings, target))
            rows.append(poll("pages, 10% no text: all new", server, paged, paged_target))
            rows.append(poll("pages: nothing changed", server, paged, paged_target))
            rows.append(poll("pages: first retry due", server, paged, paged_target))
        finally:
            for svc in (service, paged_service):
                if svc is not None:
                    svc.close()
    head = [
        "scenario", "requests", "304s", "pages", "page errors", "pages waiting", "fetch+parse s", "ingest s",
        "articles", "passages", "embedded", "total s", "articles/s", "passages/s",
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    mode = "store only, no index" if args.store_only else f"NewsService, model load {load:.1f} s"
    print(f"{args.feeds} feeds x {args.entries} entries ({origin}, <= {args.max_words} words each); {mode}")
    for r in [head, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
