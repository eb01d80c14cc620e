"""Polite HTTP fetching: conditional GET, per-host concurrency, timeouts and a response size cap."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from corpus.errors import FetchError
from corpus.settings import CorpusSettings

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9,"
    " */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
MAX_REDIRECTS = 5
# A server trickling bytes resets the per-read timeout forever; the whole response gets this many timeouts.
TOTAL_DEADLINE_FACTOR = 3.0

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class FetchResult:
    """One HTTP response as fetched: 200 with a body, or 304 (not_modified) without one."""

    url: str
    final_url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 to a conditional request."""
        return self.status == 304

    def text(self) -> str:
        """The body decoded: declared charset, else a <meta charset>, else UTF-8, else cp1252."""
        candidates = [self.charset]
        sniff = _META_CHARSET.search(self.content[:4096])
        if sniff:
            candidates.append(sniff.group(1).decode("ascii", "replace"))
        for encoding in [*candidates, "utf-8"]:
            if not encoding:
                continue
            try:
                return self.content.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
        # A wrong or missing charset must not lose the article: cp1252 decodes almost anything readable.
        return self.content.decode("cp1252", errors="replace")


def host_of(url: str) -> str:
    """The lower-cased host[:port] of a URL, the unit of politeness."""
    return urlsplit(url).netloc.lower()


def looks_binary(content: bytes) -> bool:
    """True for bodies that are clearly not text (NUL bytes in the first kilobytes)."""
    return b"\x00" in content[:8192]


class Fetcher:
    """A shared httpx client that limits concurrent requests per host and counts every request made."""

    def __init__(self, settings: CorpusSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = settings.fetch_timeout_seconds
        self.max_bytes = settings.max_response_bytes
        self.per_host = settings.per_host_concurrency
        self._client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(settings.fetch_timeout_seconds),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            transport=transport,
            # Only the configured feeds are contacted; no proxy variables from the environment.
            trust_env=False,
            event_hooks={"request": [self._count]},
        )
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._requests = 0

    @property
    def requests(self) -> int:
        """How many HTTP requests (including redirects followed) were sent so far."""
        with self._lock:
            return self._requests

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _slot(self, url: str) -> threading.BoundedSemaphore:
        host = host_of(url)
        with self._lock:
            sem = self._hosts.get(host)
            if sem is None:
                sem = self._hosts[host] = threading.BoundedSemaphore(self.per_host)
            return sem

    def _count(self, request: httpx.Request) -> None:
        # An event hook, so that every hop of a redirect chain counts as the request the server saw.
        with self._lock:
            self._requests += 1

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET a URL (conditionally when validators are given); any failure is a FetchError with a reason."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) URL: {url}")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        start = time.monotonic()
        with self._slot(url):
            try:
                return self._get(url, headers, start)
            except httpx.TooManyRedirects as exc:
                raise FetchError(f"too many redirects (loop?) from {url}") from exc
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out after {self.timeout:g}s: {url}") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc or 'request failed'} ({url})") from exc

    def _get(self, url: str, headers: dict[str, str], start: float) -> FetchResult:
        deadline = start + self.timeout * TOTAL_DEADLINE_FACTOR
        with self._client.stream("GET", url, headers=headers) as response:
            final = str(response.url)
            if response.status_code == 304:
                return FetchResult(url, final, 304, seconds=time.monotonic() - start)
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} from {final}")
            if response.status_code != 200:
                raise FetchError(f"unexpected HTTP {response.status_code} from {final}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(f"response too large ({declared} bytes > {self.max_bytes}) from {final}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchError(f"response too large (over {self.max_bytes} bytes) from {final}")
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out reading the response after {self.timeout:g}s: {final}")
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type", "")
            return FetchResult(
                url=url,
                final_url=final,
                status=200,
                content=b"".join(chunks),
                content_type=content_type.split(";")[0].strip().lower(),
                charset=response.charset_encoding,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                seconds=time.monotonic() - start,
            )
