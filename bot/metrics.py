"""What `newsbot run` tells a monitor: /healthz and Prometheus /metrics, from a registry the app owns."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from corpus.feedstate import FeedStatus, feed_stats
from corpus.settings import Settings
from index.models import IndexStats

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _age_seconds(stamp: str | None, now: float) -> float | None:
    """Seconds since an ISO timestamp the service stored; None when never or unreadable."""
    if not stamp:
        return None
    try:
        return max(0.0, now - datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        return None


class DeliveryCounts(Protocol):
    """What the metrics read of a digest DeliveryReport (bot/delivery.py)."""

    @property
    def sent(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def blocked(self) -> int: ...
    @property
    def flood_waits(self) -> int: ...
    @property
    def network_retries(self) -> int: ...


class StateCollector(Collector):
    """Index size and age and each feed's last good poll, read when scraped (so never stale)."""

    def __init__(self, stats: Callable[[], IndexStats], feeds: Callable[[], list[FeedStatus]]) -> None:
        self._stats = stats
        self._feeds = feeds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        try:
            s = self._stats()
        except Exception:  # a scrape must not break on a busy or closing store
            log.warning("metrics: could not read index stats", exc_info=True)
        else:
            yield GaugeMetricFamily(
                "newsbot_index_passages", "Passages in the serving index.", value=s.passages
            )
            yield GaugeMetricFamily("newsbot_index_articles", "Articles stored.", value=s.articles)
            ages = [
                a
                for a in (_age_seconds(s.last_ingest, now), _age_seconds(s.last_reindex, now))
                if a is not None
            ]
            if ages:
                yield GaugeMetricFamily(
                    "newsbot_index_age_seconds", "Seconds since the last ingest or reindex.", value=min(ages)
                )
        polls = GaugeMetricFamily(
            "newsbot_feed_last_success_timestamp_seconds",
            "Unix time of each feed's last successful poll.",
            labels=["feed", "source"],
        )
        try:
            for feed in self._feeds():
                if feed.last_ok is not None:
                    polls.add_metric([feed.url, feed.source], feed.last_ok.timestamp())
        except Exception:
            log.warning("metrics: could not read feed state", exc_info=True)
        yield polls


class BotMetrics:
    """The app's own CollectorRegistry (never the global default) and the counters the handlers move."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter(
            "newsbot_questions",
            "Questions by outcome: answered, not_covered, failed.",
            ["outcome"],
            registry=r,
        )
        for outcome in ("answered", "not_covered", "failed"):
            self.questions.labels(outcome)
        self.answer_seconds = Histogram(
            "newsbot_answer_seconds",
            "Seconds from a question to its answer being sent.",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.digest_deliveries = Counter(
            "newsbot_digest_deliveries",
            "Digest deliveries by outcome: sent, failed, blocked.",
            ["outcome"],
            registry=r,
        )
        for outcome in ("sent", "failed", "blocked"):
            self.digest_deliveries.labels(outcome)
        self.digest_retries = Counter(
            "newsbot_digest_retries", "Digest sends tried again (flood waits and network errors).", registry=r
        )
        self.flood_waits = Counter(
            "newsbot_telegram_retry_after",
            "429 Too Many Requests (RetryAfter) answers from Telegram.",
            registry=r,
        )
        self._state: StateCollector | None = None
        self.server: MetricsServer | None = None

    def record_delivery(self, report: DeliveryCounts) -> None:
        """Add one digest delivery run to the counters."""
        self.digest_deliveries.labels("sent").inc(report.sent)
        self.digest_deliveries.labels("failed").inc(report.failed)
        self.digest_deliveries.labels("blocked").inc(report.blocked)
        self.digest_retries.inc(report.flood_waits + report.network_retries)
        self.flood_waits.inc(report.flood_waits)

    def watch_state(self, stats: Callable[[], IndexStats], settings: Settings) -> None:
        """Report the index and feeds at every scrape (once)."""
        if self._state is None:
            self._state = StateCollector(stats, lambda: feed_stats(settings))
            self.registry.register(self._state)

    def serve(self, host: str, port: int) -> MetricsServer | None:
        """Start /healthz and /metrics; a port in use is one error line, and the bot runs on without them."""
        try:
            self.server = MetricsServer(self, host, port).start()
        except OSError as exc:
            log.error("metrics: cannot listen on %s:%s: %s; /metrics and /healthz are off", host, port, exc)
            return None
        log.info("metrics on http://%s:%s/metrics, liveness on /healthz", *self.server.address)
        return self.server

    def stop(self) -> None:
        """Stop the HTTP server, if it runs."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def health_app(metrics: BotMetrics) -> WsgiApp:
    """/healthz answers ok while the process serves; /metrics is the Prometheus text format."""
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path == "/metrics":
            return prometheus(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        return


class MetricsServer:
    """The HTTP server of /healthz and /metrics in a thread of its own."""

    def __init__(self, metrics: BotMetrics, host: str, port: int) -> None:
        self._server = make_server(
            host, port, health_app(metrics), server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> MetricsServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
